"""The README's "In class" steps through AppTest (#25): the pages open on the network worth showing and say when it
learned nothing, and a browser's choices last for its session."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import event
from streamlit.testing.v1 import AppTest
from test_app_classify import answer, bars, explanation_map, garment, png
from test_app_classroom import training_run
from test_app_filters import array, charts
from test_curves import CLASSROOM, finished_run

from alexnet_explorer import estimate, history, prediction
from alexnet_explorer.config import PRESETS, RunConfig, build_model
from alexnet_explorer.data import DATA_ENV
from alexnet_explorer.history import duration
from alexnet_explorer.runs import RUNS_ENV, Checkpoint, RunDir, list_runs
from app_pages.widgets.pages import HOME, PAGES_DIR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TINY = RunConfig(epochs=1, resize=65, limit_train=32, limit_test=16, batch_size=16, device="cpu")
FILTERS, CLASSIFY, TRAIN = (f"{PAGES_DIR}/{page}.py" for page in ("filters", "classify", "train"))


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder and the fixture data, through the app's environment variables; no passcode."""
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.delenv("ALEXNET_EXPLORER_INSTRUCTOR_PASSCODE", raising=False)
    return tmp_path / "runs"


def made_run(runs: Path, label: str, test_acc: float, config: RunConfig = TINY) -> RunDir:
    """A finished run, made the newest: conv1 at epochs 0 and 1 (3 % apart, as a run that barely moved them), a
    network (made up, for speed) and its metrics, ending at ``test_acc`` on 2,000 test images."""
    torch.manual_seed(len(list_runs(runs)))
    net = build_model(config)
    run = RunDir.create(runs, config, label=label)
    start = net.conv1.weight.detach().clone()
    run.save_filters(0, start)
    run.save_filters(1, start + 0.03 * start.norm() / start.numel() ** 0.5 * torch.randn_like(start))
    run.save_checkpoint(Checkpoint(config, net.state_dict(), None, epoch=1, batch=0))
    run.append_event(event("started", device="cpu", epochs=1, batches_per_epoch=2, train_examples=32,
                           test_examples=2000, time=1.0))
    run.append_event(event("epoch", epoch=1, train_loss=2.3, train_acc=0.1, test_acc=test_acc))
    run.write_status("finished")
    newest = max(r.config_path.stat().st_mtime for r in list_runs(runs)) + 1
    os.utime(run.config_path, (newest, newest))
    return run


def texts(at: AppTest, kind: str) -> str:
    return " ".join(element.value for element in at.get(kind))


def test_the_pages_open_on_the_best_network_say_when_one_learned_nothing_and_keep_a_choice(runs: Path) -> None:
    relu = made_run(runs, "classroom", 0.87)
    sigmoid = made_run(runs, "classroom-sigmoid", 0.089, TINY.replace(activation="sigmoid"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page(FILTERS).run()
    assert not at.exception
    assert at.selectbox(key="filters_run").value == relu.name  # not the newest, which is at chance
    assert "Run **classroom**, the best finished run (test acc 0.87)" in texts(at, "markdown")
    assert "learned nothing" not in texts(at, "info")
    at = at.switch_page(CLASSIFY).run()
    assert at.selectbox(key="classify_run").value == relu.name and not at.exception

    at.selectbox(key="classify_run").set_value(sigmoid.name).run()  # the teacher shows the sigmoid network
    said = texts(at, "info")
    assert "This network learned nothing: its test accuracy, 0.09" in said and "the sigmoid lesson" in said
    at = at.switch_page(FILTERS).run()  # the choice holds on the other page
    assert at.selectbox(key="filters_run").value == sigmoid.name
    assert "the run you chose" in texts(at, "markdown") and "the sigmoid lesson" in texts(at, "info")
    at = at.switch_page(HOME.path).run()
    at = at.switch_page(CLASSIFY).run()  # and on a later visit
    assert at.selectbox(key="classify_run").value == sigmoid.name and not at.exception


def test_a_run_that_ended_as_the_next_one_started_stays_in_view_until_this_browser_moves_on(
        runs: Path, stand_ins: list) -> None:
    first = finished_run(runs, "classroom", CLASSROOM, [1.0, 0.5], [0.8, 0.87])
    second = training_run(runs, owner=None, stand_ins=stand_ins)
    second.append_event(event("started", device="cpu", epochs=2, time=time.time() + 1))  # the queue started it
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(TRAIN).run()
    assert not at.exception
    shown = texts(at, "markdown")
    assert "**Just ended**" in shown and f"Run `{first.title}`" in shown and f"Run `{second.title}`" in shown
    assert any("test acc 0.870" in code.value for code in at.code)  # the first run's closing lines
    assert len([c for c in at.get("plotly_chart") if "live_chart" in c.proto.id]) == 2
    at.button(key="moved_on").click().run()
    assert "Just ended" not in texts(at, "markdown") and f"Run `{second.title}`" in texts(at, "markdown")
    assert not any("test acc 0.870" in code.value for code in at.code)


def test_a_browsers_pictures_and_choices_on_classify_and_filters_outlast_a_visit_to_another_page(runs: Path) -> None:
    made_run(runs, "classroom", 0.87)
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(CLASSIFY).run()
    at.session_state["classify_source"] = "Upload"
    at.run()
    at.file_uploader(key="classify_upload").set_value([("bag.png", png(garment()), "image/png"),
                                                       ("inverse.png", png(255 - garment()), "image/png")]).run()
    uploaded = at.dataframe[0].value["answer"].tolist()
    at.session_state["classify_source"] = "Pick a test image"
    at.run()
    at.selectbox(key="classify_pick_class").set_value(3).run()
    at.number_input(key="classify_pick_index").set_value(2).run()
    picked = answer(at)
    at = at.switch_page(FILTERS).run()
    at.toggle(key="filters_change").set_value(True).run()
    at.selectbox(key="maps_layer").set_value("conv2").run()

    at = at.switch_page(CLASSIFY).run()  # back: the same tab, the same test image, the same answer
    assert not at.exception and at.session_state["classify_source"] == "Pick a test image"
    assert (at.selectbox(key="classify_pick_class").value, at.number_input(key="classify_pick_index").value) == (3, 2)
    assert answer(at) == picked and "Dress (true)" in bars(at)
    at.session_state["classify_source"] = "Upload"
    at.run()  # the uploads are still there, answered as before
    assert at.dataframe[0].value["file"].tolist() == ["bag.png", "inverse.png"]
    assert at.dataframe[0].value["answer"].tolist() == uploaded
    assert "Kept from before: “bag.png”, “inverse.png”." in texts(at, "caption")
    at = at.switch_page(FILTERS).run()
    assert at.toggle(key="filters_change").value and at.selectbox(key="maps_layer").value == "conv2"


def tile_peaks(at: AppTest) -> np.ndarray:
    """The largest magnitude of each of the 96 tiles of the conv1 grid, as drawn (1: the top of its colour scale)."""
    grid = array(charts(at)[0]["data"][0]["z"])
    return np.array([np.nanmax(np.abs(grid[r * 12:r * 12 + 11, c * 12:c * 12 + 11])) for r in range(8) for c in range(12)])


def test_what_training_added_to_a_network_that_learned_nothing_is_not_dressed_up_as_features(runs: Path) -> None:
    made_run(runs, "classroom", 0.87)
    sigmoid = made_run(runs, "classroom-sigmoid", 0.089, TINY.replace(activation="sigmoid"))
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(FILTERS).run()
    assert "moved only 3." in texts(at, "info")  # a network that learned: the view is worth a look
    at.selectbox(key="filters_run").set_value(sigmoid.name).run()
    assert "moved only" not in texts(at, "info") and "learned nothing" in texts(at, "info")  # no such hint
    at.toggle(key="filters_change").set_value(True).run()
    assert not at.exception
    assert "a change 3." in texts(at, "caption") and "the size of their random start" in texts(at, "caption")
    assert "on one shared colour scale, as this network learned nothing" in texts(at, "caption")
    assert (tile_peaks(at) > 0.999).sum() == 1  # one scale: only the largest change reaches its top


def test_where_it_looked_says_when_no_square_changes_the_answer_and_what_a_map_on_the_black_means(
        runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made_run(runs, "classroom", 0.87)
    falls = {"largest": 0.35}

    def occlusion(model, image28, target, fill=prediction.OCCLUSION_GREY) -> prediction.Occlusion:
        drop = np.zeros((28, 28))
        drop[10:18, 10:18] = falls["largest"]
        return prediction.Occlusion(drop, 0.99, target, 8, falls["largest"])

    monkeypatch.setattr(prediction, "occlusion", occlusion)
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(CLASSIFY).run()
    at.session_state["classify_source"] = "Pick a test image"
    at.run()
    at.segmented_control(key="classify_explain").set_value("Occlusion").run()
    assert "by up to 35 percentage points" in texts(at, "caption") and explanation_map(at).max() == 1
    falls["largest"] = 0.004  # a pair of trousers whose answer no square moves
    at.run()
    assert "no grey 8×8-pixel square changes the answer" in texts(at, "caption")
    assert not explanation_map(at).any()  # no heat drawn

    monkeypatch.setattr(prediction, "grad_cam", lambda model, image28, target, layer: (image28 == 0).astype(float))
    at.segmented_control(key="classify_explain").set_value("Grad-CAM").run()  # a map all on the empty black
    assert "For this network the black is evidence too" in texts(at, "info")


def test_each_preprocessing_switch_stands_above_its_own_steps_picture(runs: Path) -> None:
    made_run(runs, "classroom", 0.87)
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(CLASSIFY).run()
    at.session_state["classify_source"] = "Upload"
    at.run()
    at.file_uploader(key="classify_upload").set_value(("bag.png", png(garment()), "image/png")).run()
    at.checkbox(key="classify_crop_to_object").uncheck().run()
    steps = {column.checkbox[0].label: (column.checkbox[0], [c.value for c in column.caption])
             for column in at.columns if len(column.checkbox) == 1 and column.get("image")}
    assert list(steps) == ["Grayscale", "Light on black", "Crop to the garment", "Pad to a square", "Resize to 28×28"]
    for label, (_, explanation) in steps.items():  # each column: its switch, its picture, its explanation
        assert len(explanation) == 1, label
    assert steps["Light on black"][0].key == "classify_auto_invert" and steps["Light on black"][0].value
    assert steps["Light on black"][1][0] == "The background was made pure black, like Fashion-MNIST's."
    assert steps["Crop to the garment"][0].key == "classify_crop_to_object" and not steps["Crop to the garment"][0].value
    assert steps["Crop to the garment"][1][0] == "Switched off: the empty border stays."
    assert steps["Pad to a square"][0].key == "classify_pad_to_square"
    assert steps["Grayscale"][0].disabled and steps["Grayscale"][1][0].startswith("Fashion-MNIST pictures have no")


def test_the_experiment_started_while_a_run_trains_says_when_it_starts_and_ends(runs: Path, stand_ins: list) -> None:
    training = training_run(runs, owner=None, stand_ins=stand_ins)
    now = time.time()
    training.append_event(event("started", device="cpu", epochs=2, time=now))
    training.append_event(event("progress", epoch=0.4, examples_per_sec=50.0, elapsed=3.0, remaining=90.0))
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(TRAIN).run()
    at.pills(key="experiment").set_value("sigmoid").run()  # step 2: the experiment, while the first run trains
    sigmoid = PRESETS["classroom"].replace(activation="sigmoid")
    starts_in, takes = history.after_the_run_training(sigmoid, training, list_runs(runs))
    assert 80 < starts_in <= 93 and takes == estimate.run_seconds(sigmoid, 50.0 * (65 / 67) ** 2)
    said = next(c.value for c in at.caption if c.value.startswith(f"Run `{training.title}` is training"))
    assert f"starts in about {duration(starts_in)}".rsplit(" ", 2)[0] in said  # seconds tick on between the two
    assert f"then takes about {duration(takes)}" in said and "done in about" in said
