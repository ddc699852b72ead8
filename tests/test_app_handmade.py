"""Every page on a hand-made pipeline's run: Classify answers with it, Filters says why it has nothing to show, and
the Train page lists it."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import runs_holding

from alexnet_explorer import prediction
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.runs import RunDir, RunRecorder
from alexnet_explorer.train import train
from app_pages.sections.run_panel import progress_text
from app_pages.widgets.pages import PAGES_DIR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


def fitted(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, preset: str) -> Path:
    """A pipeline fitted on the fixture data, for real (a second or two), in a run folder of its own."""
    run = RunDir.create(tmp_path_factory.mktemp(preset), PRESETS[preset], label=preset)
    train(PRESETS[preset], load_fashion_mnist(data_dir, allow_download=False), emit=RunRecorder(run))
    return run.path


@pytest.fixture(scope="module")
def hog_run(tmp_path_factory: pytest.TempPathFactory, fixture_data_dir: Path) -> Path:
    """HOG + linear SVM fitted on the fixture data."""
    return fitted(tmp_path_factory, fixture_data_dir, "hog-svm")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path, hog_run: Path) -> Path:
    """A runs folder holding the pipeline's run, and the fixture data, through the app's environment variables."""
    return runs_holding(monkeypatch, tmp_path, fixture_data_dir, hog_run, "hog")


def page(name: str, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at = at.run().switch_page(f"{PAGES_DIR}/{name}.py").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def test_classify_answers_with_the_pipeline_and_offers_the_maps_it_can_make(runs: Path) -> None:
    at = page("classify", classify_explain="Grad-CAM")  # chosen on a network before: a pipeline has no conv layer
    at.session_state["classify_source"] = "Pick a test image"
    at.run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("### The pipeline says: ") and "sure" not in m.value for m in at.markdown)
    assert any("its linear classifier's margins" in c.value for c in at.caption)
    assert any("a hand-made pipeline, its features computed by a fixed recipe" in c.value for c in at.caption)
    assert any(c.value.startswith("The pipeline always answers with one of its ten classes") for c in at.caption)
    assert any("Which training images does the pipeline find most like this picture?" in i.value for i in at.info)
    assert any("columns what the pipeline answered" in c.value for c in at.caption)
    assert any("(the pipeline as fitted)" in m.value for m in at.markdown)
    control = at.segmented_control(key="classify_explain")
    assert "Grad-CAM" not in control.options and control.value == "Saliency"
    for method in ("Integrated gradients", "Occlusion"):
        control.set_value(method).run()
        assert not at.exception and not at.error
        if method == "Integrated gradients":  # an SVM's margins are no network's logits: the line says what they are
            assert any("a raw score of the pipeline's linear classifier, HOG + linear SVM" in c.value
                       for c in at.caption)
    at.toggle(key="classify_sanity").set_value(True).run()
    assert not at.exception and "random weights in its top layer (fc)" in " ".join(m.value for m in at.markdown)
    assert "the network" not in " ".join(m.value for m in at.markdown)
    assert prediction.default_grad_cam_layer is not None and not prediction.grad_cam_layers(
        load_classifier(runs / "hog" / "checkpoint.pt"))


def test_classify_answers_with_a_kernel_svm_and_explains_it_through_its_kernel(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
        fixture_data_dir: Path) -> None:
    kernel_run = fitted(tmp_path_factory, fixture_data_dir, "hog-kernel-svm")
    runs_holding(monkeypatch, tmp_path, fixture_data_dir, kernel_run, "kernel")
    at = page("classify")
    at.session_state["classify_source"] = "Pick a test image"
    at.run()
    assert any(m.value.startswith("### The pipeline says: ") for m in at.markdown)
    assert any("It compares them by the 2,000 numbers its linear classifier reads:" in i.value for i in at.info)
    at.segmented_control(key="classify_explain").set_value("Integrated gradients").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert any("a raw score of the pipeline's linear classifier, HOG + RBF-kernel SVM:" in c.value
               for c in at.caption)


def test_the_filters_page_says_a_pipeline_has_nothing_learned_to_show(runs: Path) -> None:
    at = page("filters")
    assert any("**HOG + linear SVM** is a hand-made pipeline" in info.value for info in at.info)
    assert not at.tabs


def test_the_train_page_lists_the_pipeline(runs: Path) -> None:
    at = page("train")
    shown = " ".join(element.value for kind in ("caption", "markdown") for element in at.get(kind))
    assert "HOG + linear SVM, 28px" in shown


def test_a_pipeline_being_fitted_says_what_it_is_doing_rather_than_epoch_0_of_1(runs: Path) -> None:
    run = RunDir(runs / "hog")
    config = run.read_config()
    assert progress_text(run, "running", 0.0, config).startswith("computing the training pictures' features")
    assert progress_text(run, "finished", 1.0, config) == "epoch 1.0 of 1"
    assert progress_text(run, "failed", 0.0, config) == "epoch 0.0 of 1"
    assert progress_text(run, "running", 0.4, PRESETS["classroom"]) == "epoch 0.4 of 4"
