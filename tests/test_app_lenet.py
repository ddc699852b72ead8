"""Every page on a LeNet run: the views read the layers they show from the network, not from AlexNet's names."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import runs_holding

from alexnet_explorer import inspection, prediction
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import load_fashion_mnist, subset
from alexnet_explorer.runs import RunDir, RunRecorder
from alexnet_explorer.train import train
from app_pages.widgets.pages import PAGES_DIR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory: pytest.TempPathFactory, fixture_data_dir: Path) -> Path:
    """Two tiny epochs of the modern LeNet on the fixture data, trained for real (a second)."""
    config = PRESETS["lenet-modern"].replace(epochs=2, limit_train=64, limit_test=32, batch_size=16, device="cpu")
    run = RunDir.create(tmp_path_factory.mktemp("lenet"), config, label="lenet")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    return run.path


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path, lenet_run: Path) -> Path:
    """A runs folder holding the LeNet run, and the fixture data, through the app's environment variables."""
    return runs_holding(monkeypatch, tmp_path, fixture_data_dir, lenet_run, "lenet-run")


def page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page(f"{PAGES_DIR}/{name}.py").run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def texts(at: AppTest, kind: str) -> str:
    return " ".join(element.value for element in at.get(kind))


def test_the_filters_page_shows_lenets_six_filters_and_its_own_layers(runs: Path) -> None:
    at = page("filters")
    assert "conv1: 6 channels of 28×28 at input 28" in texts(at, "caption")
    assert at.selectbox(key="maps_layer").options == ["conv1", "conv2"]
    assert at.selectbox(key="responses_layer").options == ["conv1", "conv2", "fc3", "fc4"]
    assert "**Learned by LeNet**" in texts(at, "markdown")
    at.selectbox(key="maps_layer").set_value("conv2").run()
    assert "conv2: 16 channels of 10×10 at input 28" in texts(at, "caption")
    at.selectbox(key="responses_layer").set_value("fc4").run()
    at.button(key="responses_rank").click().run()
    assert not at.exception and not at.error
    assert "test images that excite fc4 unit 0 most" in texts(at, "caption")
    at.pills(key="sep_methods").set_value(["pca"])
    at.select_slider(key="sep_count").set_value(250)
    next(button for button in at.button if button.label == "Compute").click().run()
    assert not at.exception and not at.error
    assert [metric.label for metric in at.get("metric")] == ["Linear probe on raw pixels",
                                                            "Linear probe on fc4 features"]


def test_a_layer_chosen_on_alexnet_falls_back_to_lenets_first(runs: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["maps_layer"] = "conv5"  # chosen on an AlexNet run earlier in the session
    at.session_state["responses_layer"] = "fc7"
    at.run()
    at = at.switch_page(f"{PAGES_DIR}/filters.py").run()
    assert not at.exception and not at.error
    assert (at.selectbox(key="maps_layer").value, at.selectbox(key="responses_layer").value) == ("conv1", "conv1")


def test_classify_answers_with_lenet_and_explains_at_its_conv_layer(runs: Path) -> None:
    at = page("classify")
    at.session_state["classify_source"] = "Pick a test image"
    at.run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("### The network says: ") for m in at.markdown)
    assert any("numbers of its last hidden layer, fc4:" in info.value for info in at.info)  # LeNet's, not fc7
    at.segmented_control(key="classify_explain").set_value("Grad-CAM").run()
    layer = at.selectbox(key="classify_cam_layer_lenet_28")
    assert layer.options == ["conv2 (10×10 cells)"] and layer.value == "conv2"
    at.toggle(key="classify_sanity").set_value(True).run()
    at.slider(key="classify_sanity_layers").set_value(5).run()
    assert not at.exception and not at.error
    assert "random weights in its top 5 layers (fc5, fc4, fc3, conv2, conv1)" in texts(at, "markdown")
    network = load_classifier(runs / "lenet-run" / "checkpoint.pt")
    assert prediction.default_grad_cam_layer(network) == "conv2"


def test_the_train_page_offers_lenet_and_lists_the_run_as_lenet(runs: Path) -> None:
    at = page("train")
    assert "LeNet, 28px" in texts(at, "caption") + texts(at, "markdown")


def test_the_ladder_probes_raw_pixels_hog_and_every_layer_of_lenet(runs: Path, fixture_data_dir: Path) -> None:
    at = page("filters")
    assert "Press **Probe every layer**" in texts(at, "info")
    at.select_slider(key="sep_count").set_value(250)
    at.button(key="ladder_compute").click().run()
    assert not at.exception and not at.error
    figure = next(chart for chart in at.get("plotly_chart") if "linear probe accuracy" in chart.proto.spec)
    bars = json.loads(figure.proto.spec)["data"][0]
    assert bars["x"] == ["raw pixels", "HOG", "conv1", "conv2", "fc3", "fc4"]
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    images, labels = subset(data.test_images, data.test_labels, 250, seed=0)
    expected = inspection.representation_ladder(load_classifier(runs / "lenet-run" / "checkpoint.pt").net, images,
                                                labels.numpy(), 28)
    assert bars["y"] == pytest.approx([100 * a for a in expected.values()])


@pytest.mark.parametrize("preset, words", [
    ("lenet", "from timing a training step of this network at 28 px"),
    ("hog-svm", "a hand-made pipeline is fitted on the CPU in one go: about 1 to 3 minutes"),
])
def test_the_train_form_estimates_lenet_and_a_pipeline_by_what_they_are(runs: Path, preset: str, words: str) -> None:
    at = page("train")
    at.segmented_control(key="preset").set_value(preset).run()
    assert not at.exception and not at.error
    assert words in texts(at, "caption")
    assert ("is a hand-made pipeline: of these settings it uses only" in texts(at, "caption")) == (preset == "hog-svm")
