"""The home and train pages through Streamlit's AppTest, with a real training process on the fixture data."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from torch import nn

from conftest import event, held

from alexnet_explorer import launcher, model, processes
from alexnet_explorer.__main__ import build_parser, config_from_args
from alexnet_explorer.config import PRESETS, RunConfig, settings
from alexnet_explorer.devices import resolve_device
from alexnet_explorer.history import RunOverview, table_rows
from alexnet_explorer.runs import RunDir, list_runs
from app_pages.widgets.pages import PAGES

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
# Small enough for a few seconds of training on a shared 2-core CPU.
QUICK = {"cfg_epochs": 1, "cfg_limit_train": 32, "cfg_limit_test": 16, "cfg_batch_size": 16, "cfg_device": "cpu"}


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """The fixture data and an empty runs folder, through the app's environment variables."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    monkeypatch.setenv("ALEXNET_EXPLORER_RUNS", str(runs))
    return runs


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page(next(p.path for p in PAGES if p.url_path == "train")).run()


def quick_smoke(at: AppTest) -> AppTest:
    """Choose the smoke preset, then shrink it to one tiny epoch."""
    at.segmented_control(key="preset").set_value("smoke").run()
    for key, value in QUICK.items():
        (at.selectbox if key == "cfg_device" else at.number_input)(key=key).set_value(value)
    return at.run()


def test_home_page_tells_the_story_and_links_to_train(app_env: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "hand-made features" in text and "AlexNet" in text and "2012" in text
    # Colour detectors were ImageNet's: the pictures here are grayscale, and the page does not promise them.
    assert "on Fashion-MNIST's grayscale garments there is no colour to detect" in " ".join(text.split())
    assert [link.proto.page for link in at.get("page_link")] == ["train", "filters", "classify", "scoreboard"]


def test_preset_fills_the_form(app_env: Path) -> None:
    at = train_page()
    assert not at.exception
    at.segmented_control(key="preset").set_value("book").run()
    assert at.number_input(key="cfg_resize").value == 224
    assert at.number_input(key="cfg_epochs").value == 10
    assert at.number_input(key="cfg_limit_train").value is None  # the whole training set
    assert at.radio(key="cfg_init").value == "xavier"
    assert any("Estimate:" in c.value and "224 px" in c.value for c in at.caption)
    assert any("Estimate:" in c.value and "the run takes longer" in c.value for c in at.caption)  # what to expect
    if resolve_device("auto").type == "cpu":  # 10 epochs at 224 px take days on a CPU
        assert any("meant for a GPU" in w.value for w in at.warning)
    at.segmented_control(key="preset").set_value("classroom").run()
    assert not any("meant for a GPU" in w.value for w in at.warning)


def test_an_experiment_changes_one_setting_of_the_preset_and_names_the_run(app_env: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    launched = []
    monkeypatch.setattr(launcher, "launch", lambda config, label="run", by=None:
                        launched.append((config, label)) or RunDir(app_env / "launched"))
    at = train_page()
    at.pills(key="experiment").set_value("sigmoid").run()
    assert not at.exception
    assert at.radio(key="cfg_activation").value == "sigmoid" and at.number_input(key="cfg_resize").value == 67
    assert any("ReLU" in c.value and "select both in the run history" in c.value for c in at.caption)
    at.button(key="start").click().run()
    assert launched == [(PRESETS["classroom"].replace(activation="sigmoid"), "classroom-sigmoid")]

    at.segmented_control(key="preset").set_value("smoke").run()  # the experiment applies to the new preset
    assert at.radio(key="cfg_activation").value == "sigmoid" and at.number_input(key="cfg_resize").value == 65
    at.pills(key="experiment").set_value(None).run()
    assert at.radio(key="cfg_activation").value == "relu"
    at.segmented_control(key="preset").set_value("book").run()
    at.pills(key="experiment").set_value("xavier").run()
    assert any("preset already does this" in c.value for c in at.caption)
    at.segmented_control(key="preset").set_value("raw-linear").run()
    at.pills(key="experiment").set_value("no-dropout").run()
    assert any("**raw pixels + logistic regression** is a hand-made pipeline: this choice changes a network's "
               "settings" in c.value for c in at.caption)
    assert not any("select both in the run history" in c.value for c in at.caption)
    at.radio(key="cfg_network").set_value("alexnet").run()  # the form's network, not the preset's, is the run's
    assert any("select both in the run history" in c.value for c in at.caption)
    assert not any("this choice changes a network's settings" in c.value for c in at.caption)


def test_the_presets_values_come_back_after_edits_at_one_click(app_env: Path) -> None:
    at = quick_smoke(train_page())
    assert at.number_input(key="cfg_epochs").value == 1  # the quick edits
    at.button(key="reset_form").click().run()
    assert at.number_input(key="cfg_epochs").value == PRESETS["smoke"].epochs
    assert at.number_input(key="cfg_resize").value == PRESETS["smoke"].resize and not at.exception


def test_invalid_value_shows_the_reason_and_launches_nothing(app_env: Path) -> None:
    at = quick_smoke(train_page())
    at.number_input(key="cfg_resize").set_value(40).run()
    at.button(key="start").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("input size 40 is too small for AlexNet" in e for e in errors), errors
    assert list_runs(app_env) == []


def test_start_training_runs_to_the_end_with_live_curves(app_env: Path) -> None:
    at = quick_smoke(train_page())
    at.button(key="start").click().run()
    assert not at.exception
    [run] = list_runs(app_env)
    # Its process held while a second viewer starts a run: on a fast CPU this tiny run would end within seconds, and
    # the second run would find the device free.
    with held(processes.launched_pid(run)):
        assert json.loads((run.path / "config.json").read_text())["limit_train"] == 32
        assert at.dataframe[0].value["duration"].isna().all()  # not a stale "0 s" while it trains
        another_viewer = train_page()  # a second browser, with nothing in its session, sees the same run
        assert any(f"Run `{run.title}`" in m.value for m in another_viewer.markdown)
        another_viewer.segmented_control(key="preset").set_value("smoke").run()
        another_viewer.button(key="start").click().run()  # the first run holds the device
        [queued] = [other for other in list_runs(app_env) if other.path != run.path]
        assert processes.refresh_status(queued)["state"] == "queued"  # it waits for the device instead of refused
        assert any(f"Run `{queued.title}` is queued: 1st in line" in i.value for i in another_viewer.info)
        launcher.cancel(queued)
        assert len(list_runs(app_env)) == 1

    deadline = time.monotonic() + 120
    while processes.refresh_status(run)["state"] in processes.ACTIVE_STATES and time.monotonic() < deadline:
        time.sleep(1)
    at.run()  # the page as a viewer sees it now (its live panel re-reads the run folder)
    assert RunDir(run.path).read_status()["state"] == "finished", (run.path / "train.log").read_text()

    assert not at.exception and not at.error
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {trace["name"]: trace for trace in chart["data"]}
    assert set(traces) == {"train loss", "train acc", "test acc"}
    assert traces["train loss"]["x"][-1] == 1.0 and len(traces["train acc"]["y"]) >= 2
    assert traces["test acc"]["x"] == [1]
    assert chart["layout"]["xaxis"]["title"]["text"] == "epoch"
    summary = at.code[0].value.splitlines()
    assert summary[0].startswith("loss ") and ", train acc " in summary[0] and ", test acc " in summary[0]
    assert summary[1].endswith(" examples/sec on cpu")
    history = at.dataframe[0].value
    assert history["run"].tolist() == [run.title] and history["duration"][0].endswith(" s")
    assert history["best test acc"][0] == max(e.test_acc for e in run.read_events() if e.kind == "epoch")


def test_every_setting_is_described_once_and_is_a_flag_and_a_widget(app_env: Path) -> None:
    classroom = PRESETS["classroom"]
    flags = ["train", "--preset", "book"]
    for name, value in classroom.to_dict().items():
        assert settings()[name].label and settings()[name].help, name
        flag = "--" + name.replace("_", "-")
        flags += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    assert config_from_args(build_parser().parse_args(flags)) == classroom  # every setting was set by its flag

    at = train_page()
    widgets = {w.key: w.label for kind in ("number_input", "radio", "selectbox", "toggle") for w in at.get(kind)}
    assert {name: widgets.get(f"cfg_{name}") for name in settings()} == {
        name: described.label for name, described in settings().items()}
    assert at.radio(key="cfg_init").options == ["xavier (the book's)", "kaiming", "PyTorch's default"]


def test_an_activation_added_to_the_model_is_offered_everywhere(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(model.ACTIVATIONS, "tanh", nn.Tanh)
    assert RunConfig(activation="tanh").activation == "tanh"
    assert config_from_args(build_parser().parse_args(["train", "--activation", "tanh"])).activation == "tanh"

    launched = []
    monkeypatch.setattr(launcher, "launch", lambda config, label="run", by=None:
                        launched.append(config) or RunDir(app_env / "launched"))
    at = train_page()
    assert at.radio(key="cfg_activation").options == ["ReLU", "sigmoid", "tanh"]
    at.radio(key="cfg_activation").set_value("tanh").run()
    at.button(key="start").click().run()
    assert not at.exception and not at.error
    assert launched == [PRESETS["classroom"].replace(activation="tanh")]


def test_the_history_table_has_a_row_per_run_and_no_duration_while_training(tmp_path: Path) -> None:
    config = PRESETS["smoke"]
    rows = table_rows([
        RunOverview(RunDir(tmp_path / "a"), "finished", config, 0.75, 125.0, None),
        RunOverview(RunDir(tmp_path / "b"), "running", config, None, 3.0, None),
        RunOverview(RunDir(tmp_path / "c"), "failed", None, None, 0.4, "boom"),
    ])
    assert rows == [
        {"run": "a", "status": "finished", "best test acc": 0.75, "duration": "2 min 05 s",
         "configuration": config.summary()},
        {"run": "b", "status": "running", "best test acc": None, "duration": None, "configuration": config.summary()},
        {"run": "c", "status": "failed", "best test acc": None, "duration": "0 s", "configuration": "unreadable"},
    ]


def past_run(runs: Path, state: str, owner: str | None = None, **details: object) -> RunDir:
    """A run folder as a training process would have left it, without training."""
    run = RunDir.create(runs, PRESETS["smoke"], label="smoke", owner=owner)
    run.append_event(event("started", device="cpu", epochs=2, start_epoch=0, batches_per_epoch=8, train_examples=256,
                           test_examples=128, time=1.0))
    run.append_event(event("progress", epoch=0.5, train_loss=2.3, train_acc=0.1, examples_per_sec=50.0, elapsed=3.0,
                           remaining=9.0))
    run.write_status(state, **details)
    return run


def test_a_failed_run_shows_its_reason_in_plain_words_and_offers_resume(app_env: Path) -> None:
    past_run(app_env, "failed", error="The device ran out of memory. Try a smaller batch size")
    at = train_page()
    assert not at.exception
    assert [e.value for e in at.error] == ["Training failed: The device ran out of memory. Try a smaller batch size"]
    assert any(b.label.startswith("Resume") for b in at.button)


def test_an_unreadable_run_folder_is_an_error_message_not_a_traceback(app_env: Path) -> None:
    broken = app_env / "broken-run"
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{ not json")
    at = train_page()
    assert not at.exception
    assert any("is not a usable run configuration" in e.value for e in at.error)
    assert "unreadable" in at.dataframe[0].value["configuration"].tolist()


def select_rows(at: AppTest, rows: list[int], table: int = -1) -> AppTest:
    """Select rows of a table as a click would (AppTest has no such gesture: its selection state is set)."""
    key = at.dataframe[table].proto.id.split("-", 2)[2]
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_delete_asks_for_confirmation(app_env: Path) -> None:
    run = past_run(app_env, "stopped")
    at = select_rows(train_page(), [0])
    at.button(key="delete").click().run()
    assert run.path.exists() and any("cannot be undone" in w.value for w in at.warning)
    assert any(f"Delete run `{run.title}` and its checkpoint?" in w.value for w in at.warning)  # named
    at.button(key="delete_no").click().run()
    assert run.path.exists() and not at.warning
    at.button(key="delete").click().run()
    at.button(key="delete_yes").click().run()
    assert not at.exception and not run.path.exists()
