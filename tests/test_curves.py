"""Training curves a student reads right: per-fifth train metrics, loss and accuracy apart on fixed axes, chance
lines, and a line that states how overlaid runs ended."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import event

from alexnet_explorer import history, plots
from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.events import training_curves
from alexnet_explorer.runs import RunDir
from app_pages.widgets.pages import PAGES

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
CLASSROOM = PRESETS["classroom"].replace(epochs=4)  # the made-up runs below have four epochs


def logged_run(steps_per_epoch: int, epochs: int, batch_losses: np.ndarray) -> list[dict]:
    """The progress events the training loop writes for these batch losses (equal batches): at its five points per
    epoch, the running mean since the epoch began."""
    points = {max(1, steps_per_epoch * k // 5) for k in range(1, 6)}
    events = []
    for epoch in range(epochs):
        losses = batch_losses[epoch * steps_per_epoch:(epoch + 1) * steps_per_epoch]
        for step in sorted(points):
            events.append(event("progress", epoch=epoch + step / steps_per_epoch,
                                train_loss=float(losses[:step].mean()), train_acc=0.5))
    return events


def test_train_loss_is_the_mean_over_each_fifth_of_an_epoch_not_the_running_mean() -> None:
    steps, epochs = 13, 3  # 13 steps: the fifths are 2, 3, 2, 3 and 3 steps long
    rng = np.random.default_rng(0)
    batch_losses = rng.uniform(0.2, 2.5, size=steps * epochs)
    xs, ys = training_curves(logged_run(steps, epochs, batch_losses))["train loss"]
    bounds = [0, 2, 5, 7, 10, 13]
    expected = [batch_losses[e * steps + a:e * steps + b].mean() for e in range(epochs)
                for a, b in zip(bounds, bounds[1:])]
    assert xs == pytest.approx([e + b / steps for e in range(epochs) for b in bounds[1:]])
    np.testing.assert_allclose(ys, expected, rtol=1e-9)


def test_a_falling_loss_has_no_step_at_the_epoch_boundary() -> None:
    steps = 10
    batch_losses = np.linspace(2.0, 0.5, 3 * steps)  # falls evenly, whatever the epoch
    _, ys = training_curves(logged_run(steps, 3, batch_losses))["train loss"]
    assert (np.diff(ys) < 0).all()
    falls = -np.diff(ys)
    assert falls.max() == pytest.approx(falls.min())  # the running mean would jump up at each new epoch


def chance_lines(figure: dict) -> dict[float, str]:
    """The dotted lines across the panels: their height and their label."""
    labels = {round(a["y"], 6): a["text"] for a in figure["layout"]["annotations"] if a["text"] == "chance"}
    return {round(s["y0"], 6): labels.get(round(s["y0"], 6)) for s in figure["layout"]["shapes"]
            if s["line"].get("dash") == "dot"}


def test_the_empty_chart_already_has_its_axes_panels_and_chance_lines() -> None:
    empty = json.loads(plots.training_figure(training_curves([]), 4).to_json())
    layout = empty["layout"]
    assert [a["text"] for a in layout["annotations"] if a["text"] != "chance"] == ["loss", "accuracy"]
    assert layout["xaxis"]["range"] == [0, 4] and layout["xaxis2"]["range"] == [0, 4]
    assert layout["xaxis"]["title"]["text"] == layout["xaxis2"]["title"]["text"] == "epoch"
    assert layout["yaxis"]["title"]["text"] == "cross-entropy loss" and layout["yaxis"]["range"][0] == 0
    assert layout["yaxis"]["range"][1] > math.log(10)
    assert layout["yaxis2"]["title"]["text"] == "accuracy" and layout["yaxis2"]["range"] == [0, 1.02]
    assert chance_lines(empty) == {round(math.log(10), 6): "chance", 0.1: "chance"}
    traces = {trace["name"]: trace for trace in empty["data"]}
    assert traces["train loss"]["yaxis"] == "y" and traces["train acc"]["yaxis"] == traces["test acc"]["yaxis"] == "y2"


def test_a_loss_above_the_axis_widens_it() -> None:
    curves = {"train loss": ([0.2, 0.4], [3.5, 4.0]), "train acc": ([0.2, 0.4], [0.1, 0.1]), "test acc": ([], [])}
    assert plots.training_figure(curves, 2).layout.yaxis.range[1] >= 4.0
    compared = plots.comparison_figure({"a": curves, "b": training_curves([])}, 2)
    assert compared.layout.yaxis.range[1] >= 4.0 and compared.layout.yaxis2.range == (0, 1.02)


def finished_run(runs: Path, label: str, config: RunConfig, losses: list[float], test_accs: list[float],
                 test_examples: int = 2000) -> RunDir:
    """A finished run's folder with made-up metrics: five points per epoch, a test accuracy per epoch."""
    run = RunDir.create(runs, config, label=label)
    run.append_event(event("started", device="cpu", epochs=config.epochs, start_epoch=0, batches_per_epoch=10,
                           train_examples=640, test_examples=test_examples, time=0.0))
    for epoch, (loss, test_acc) in enumerate(zip(losses, test_accs)):
        for k in range(1, 6):
            run.append_event(event("progress", epoch=epoch + k / 5, train_loss=loss, train_acc=0.5,
                                   examples_per_sec=100.0, elapsed=1.0, remaining=1.0))
        run.append_event(event("epoch", epoch=epoch + 1, train_loss=loss, train_acc=0.5, test_acc=test_acc,
                               examples_per_sec=100.0, elapsed=1.0, remaining=1.0))
    run.append_event(event("ended", status="finished", epoch=float(config.epochs), train_loss=losses[-1],
                           train_acc=0.5, test_acc=test_accs[-1], examples_per_sec=100.0, elapsed=2.0, device="cpu"))
    run.write_status("finished")
    return run


def test_overlaid_runs_are_named_by_what_differs_and_a_run_at_chance_is_called_so(tmp_path: Path) -> None:
    sigmoid = finished_run(tmp_path, "sigmoid", CLASSROOM.replace(activation="sigmoid"), [2.3] * 4,
                           [0.1, 0.1, 0.1, 0.098])
    relu = finished_run(tmp_path, "relu", CLASSROOM, [1.0, 0.6, 0.4, 0.3], [0.7, 0.8, 0.85, 0.88])
    overviews = [history.overview(sigmoid), history.overview(relu)]
    assert history.comparison_line(overviews) == "sigmoid: 0.10 test acc — chance; ReLU: 0.88 test acc"
    everything = finished_run(tmp_path, "all", CLASSROOM.replace(limit_test=None), [1.0] * 4, [0.7, 0.8, 0.85, 0.89],
                              test_examples=10_000)
    assert history.comparison_line([history.overview(relu), history.overview(everything)]) == (
        "test images 2000: 0.88 test acc on 2,000 test images; test images all 10,000: 0.89 test acc on 10,000 test "
        "images")
    # 0.12 on 2,000 test images is 2.1 standard errors above chance (0.0067 each): still guessing; 0.15 is not.
    assert history.outcome(sigmoid.read_events()[:-1] + [event("epoch", epoch=4, test_acc=0.12)], 4) == \
        "0.12 test acc — chance"
    assert history.outcome([event("started", test_examples=2000), event("epoch", epoch=2, test_acc=0.15)], 4) == \
        "0.15 test acc (after epoch 2 of 4)"
    assert history.outcome([], 4) == "no test accuracy yet"


def test_runs_that_differ_in_many_settings_or_none_are_named_by_their_folders() -> None:
    assert history.comparison_labels({"a": CLASSROOM, "b": CLASSROOM.replace(seed=3)}) == {"a": "a", "b": "b"}
    many = CLASSROOM.replace(activation="sigmoid", pooling="avg", dropout=0.0)
    assert history.comparison_labels({"a": CLASSROOM, "b": many}) == {"a": "a", "b": "b"}
    assert history.comparison_labels({"a": CLASSROOM, "b": CLASSROOM.replace(dropout=0.0, weight_decay=5e-4)}) == {
        "a": "weight decay 0, dropout 0.5", "b": "weight decay 0.0005, dropout 0"}
    assert history.comparison_labels({"a": CLASSROOM, "b": None}) == {"a": "a", "b": "b"}


def test_the_train_page_draws_both_panels_and_states_the_outcome_of_overlaid_runs(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> None:
    runs = tmp_path / "runs"
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    monkeypatch.setenv("ALEXNET_EXPLORER_RUNS", str(runs))
    finished_run(runs, "relu", CLASSROOM, [1.0, 0.6, 0.4, 0.3], [0.7, 0.8, 0.85, 0.88])
    finished_run(runs, "sigmoid", CLASSROOM.replace(activation="sigmoid"), [2.3] * 4, [0.1, 0.1, 0.1, 0.098])
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page(next(p.path for p in PAGES if p.url_path == "train")).run()
    assert not at.exception
    live = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert chance_lines(live) == {round(math.log(10), 6): "chance", 0.1: "chance"}
    assert live["layout"]["yaxis2"]["range"] == [0, 1.02] and live["layout"]["xaxis"]["range"] == [0, 4]
    assert any("Dotted: chance" in caption.value for caption in at.caption)

    key = at.dataframe[-1].proto.id.split("-", 2)[2]  # select both rows of the history, as a click would
    at.session_state[key] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "sigmoid: 0.10 test acc — chance; ReLU: 0.88 test acc" in [m.value for m in at.markdown]
    compared = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert chance_lines(compared) == {round(math.log(10), 6): "chance", 0.1: "chance"}
    assert {trace["name"] for trace in compared["data"]} >= {"relu: test acc", "sigmoid: test acc"}
