"""The Filters page through Streamlit's AppTest, on a made-up run written as training writes one."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from conftest import event
from streamlit.testing.v1 import AppTest

from alexnet_explorer import feature_visualisation, top_images
from alexnet_explorer.config import RunConfig
from alexnet_explorer.data import CLASSES, load_fashion_mnist, to_model_input
from alexnet_explorer.history import duration
from alexnet_explorer.inspection import feature_maps, filter_norms, separability_steps, strongest_first
from alexnet_explorer.config import build_model
from alexnet_explorer.runs import Checkpoint, RunDir, list_runs
from app_pages.sections.conv1_filters import DeadFilters
from app_pages.sections.feature_maps import dead_maps

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "filters.py")
TINY = RunConfig(epochs=2, resize=65, limit_train=32, limit_test=16, device="cpu")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A finished run as training leaves it: conv1 after epochs 0, 1 and 2 and halfway through 1 and 2, and a
    checkpoint (made up, for speed)."""
    torch.manual_seed(0)
    net = build_model(TINY)
    run = RunDir.create(tmp_path_factory.mktemp("trained"), TINY, label="tiny")
    for epoch in range(3):
        run.save_filters(epoch, net.conv1.weight.detach().clone())
        net.conv1.weight.data += 0.001 * torch.randn_like(net.conv1.weight)  # a short run: ~20% from the start
        if epoch < 2:
            run.save_frame(epoch + 0.5, net.conv1.weight.detach().clone())
        net.conv1.weight.data += 0.001 * torch.randn_like(net.conv1.weight)
    run.save_checkpoint(Checkpoint(TINY, net.state_dict(), None, epoch=2, batch=0))
    run.write_status("finished")
    return run


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder and the fixture data, through the app's environment variables."""
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv("ALEXNET_EXPLORER_RUNS", str(folder))
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    return folder


def copy_run(run: RunDir, runs: Path) -> RunDir:
    return RunDir(shutil.copytree(run.path, runs / run.name))


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> str:
    return " ".join(element.value for element in at.get(kind))


def charts(at: AppTest) -> list[dict]:
    """The page's Plotly figures as dicts."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def array(encoded: dict | list) -> np.ndarray:
    """A Plotly figure's array, whether written as a list or as base64 typed-array data."""
    if isinstance(encoded, list):
        return np.array(encoded)
    values = np.frombuffer(base64.b64decode(encoded["bdata"]), encoded["dtype"])
    return values.reshape([int(n) for n in encoded["shape"].split(",")]) if "shape" in encoded else values


def input_figure_pixels(at: AppTest) -> np.ndarray:
    """The network's input as the feature-maps tab draws it: 1×1×S×S in [0, 1]."""
    z = input_figure(at)
    return (array(z) if isinstance(z, dict) else np.array(z, dtype=np.float32))[None, None]


def input_figure(at: AppTest) -> list:
    """The feature-maps tab's picture of the network's input: its pixels."""
    [figure] = [f for f in charts(at) if f["layout"].get("title", {}).get("text") == "the input"]
    return figure["data"][0]["z"]


def filter_grid(at: AppTest) -> dict:
    """The 8×12 grid of the 96 conv1 filters (the first chart of the page)."""
    figure = charts(at)[0]
    assert figure["data"][0]["type"] == "heatmap"
    assert figure["data"][0]["zmid"] == 0 and figure["data"][1]["hovertemplate"].startswith("filter ")
    return figure


def test_trained_run_shows_grid_evolution_and_feature_maps(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs)
    at = open_page()
    assert not at.error and not at.warning
    filter_grid(at)
    assert [tab.label for tab in at.tabs] == ["First-layer filters", "Evolution", "Feature maps",
                                             "Test image", "Random test image", "Upload",  # inside Feature maps
                                             "Hand-crafted vs learned", "What units respond to", "Separable features"]
    evolution = next(figure for figure in charts(at) if figure.get("frames"))
    assert [frame["name"] for frame in evolution["frames"]] == ["0", "0.5", "1", "1.5", "2"]
    assert "conv1: 96 channels of 15×15 at input 65" in texts(at, "caption")
    assert [button.proto.label for button in at.get("download_button")] == ["Download the grid as PNG",
                                                                            "Download the maps as PNG"]
    assert "designed by hand" in texts(at, "markdown")


def test_choosing_a_filter_and_an_epoch_updates_the_views(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    at = open_page()
    at.number_input(key="filter_index").set_value(17).run()
    at.select_slider(key=f"filters_epoch_{run.name}").set_value(0).run()
    assert not at.exception
    assert any(figure["layout"].get("title", {}).get("text") == "filter 17" for figure in charts(at))
    assert "at random initialisation" in texts(at, "caption")
    (outline,) = [shape for shape in filter_grid(at)["layout"]["shapes"] if not shape.get("fillcolor")]
    assert (outline["x0"], outline["y0"]) == (5 * 12 - 1, 12 - 1)  # filter 17: row 1, column 5


def test_dead_filters_are_greyed_with_their_reason_and_go_last_in_an_order(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    checkpoint = run.load_checkpoint()
    net = checkpoint.network()
    with torch.no_grad():
        net.conv1.weight.abs_()  # every filter fires on any bright pixel...
        net.conv1.bias.zero_()
        net.conv1.weight[[3, 40, 41]] *= -1  # ...but these three, which see only ≤ 0 in pictures that are never negative
    run.save_checkpoint(dataclasses.replace(checkpoint, model=net.state_dict()))
    at = open_page()
    assert "Grey: the 3 dead filters of the network after epoch 2" in texts(at, "caption")
    # The feature maps at conv1 say that three of their dark tiles are those filters, dark for every picture.
    assert at.selectbox(key="maps_layer").value == "conv1"
    assert "3 of them are conv1's dead filters, dark on every test image" in texts(at, "caption")
    greys = [shape for shape in filter_grid(at)["layout"]["shapes"] if shape.get("fillcolor")]
    assert sorted((shape["x0"] + 0.5, shape["y0"] + 0.5) for shape in greys) == [(3 * 12, 0), (4 * 12, 36), (5 * 12, 36)]
    at.selectbox(key="filters_order").set_value("coarseness").run()
    shown = [int(row[0]) for row in array(filter_grid(at)["data"][1]["customdata"])]
    assert sorted(shown) == list(range(96)) and sorted(shown[-3:]) == [3, 40, 41]


def test_what_training_added_shows_each_filter_minus_its_random_start(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    at = open_page()
    assert "moved only" in texts(at, "info")  # the fixture's filters moved a few percent: the page suggests the view
    at.toggle(key="filters_change").set_value(True).run()
    assert not at.exception and not at.error
    added = run.load_filters(2) - run.load_filters(0)
    added -= added.mean(dim=(1, 2, 3), keepdim=True)  # each filter's shift of all its weights, taken away
    hover = array(filter_grid(at)["data"][1]["customdata"])
    np.testing.assert_allclose(hover[:, 1], filter_norms(added), rtol=1e-6)  # the grid's tiles are the changes
    assert "What training added to the 96 filters of 11×11 pixels by epoch 2" in texts(at, "caption")
    assert "moved only" not in texts(at, "info")
    evolution = next(figure for figure in charts(at) if figure.get("frames"))
    assert [frame["name"] for frame in evolution["frames"]] == ["0.5", "1", "1.5", "2"]  # epoch 0 added nothing
    assert "what training added to the conv1 filters" in texts(at, "markdown")
    learned = next(f for f in charts(at) if f["layout"].get("annotations", [{}])[0].get("text", "").startswith("filter "))
    first = int(learned["layout"]["annotations"][0]["text"].split()[1])
    network = run.load_checkpoint().model["conv1.weight"]  # the network the tab explains
    kernel = (network - trained_run.load_filters(0))[first, 0].double().numpy()
    kernel -= kernel.mean()
    np.testing.assert_allclose(array(learned["data"][0]["z"]), kernel / np.abs(kernel).max(), atol=1e-6)
    at.select_slider(key=f"filters_epoch_{run.name}-change").set_value(1).run()
    hover = array(filter_grid(at)["data"][1]["customdata"])
    first_epoch = run.load_filters(1) - run.load_filters(0)
    np.testing.assert_allclose(hover[:, 1], filter_norms(first_epoch - first_epoch.mean(dim=(1, 2, 3), keepdim=True)),
                               rtol=1e-6)

    just_started = RunDir(shutil.copytree(run.path, runs / "just-started"))
    just_started.rename("just started")  # the picker shows runs by title: the copy's would be the original's
    for epoch in (1, 2):
        (just_started.filters_dir / f"epoch_{epoch:03d}.pt").unlink()
    at.run()  # the run picker lists the new run
    at.selectbox(key="filters_run").set_value("just-started").run()  # the view stays on, but has nothing to show
    assert not at.exception and not at.error
    assert "at random initialisation" in texts(at, "caption") and "What training added" not in texts(at, "caption")


def test_the_epoch_shown_follows_new_epochs_unless_an_earlier_one_was_chosen(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    at = open_page()
    slider = f"filters_epoch_{run.name}"
    assert at.select_slider(key=slider).value == 2
    run.save_filters(3, run.load_filters(2) + 0.001)  # the run, still training, ends another epoch
    at.run()
    assert at.select_slider(key=slider).value == 3 and "after epoch 3." in texts(at, "caption")
    at.select_slider(key=slider).set_value(1).run()
    run.save_filters(4, run.load_filters(3) + 0.001)
    at.run()
    assert at.select_slider(key=slider).value == 1 and at.select_slider(key=slider).options[-1] == "4"


def test_a_deep_layers_coarse_maps_are_drawn_enlarged_over_the_picture(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    at = open_page()
    at.selectbox(key="maps_layer").set_value("conv3").run()
    assert not at.exception
    assert "conv3: 384 channels of 3×3 at input 65" in texts(at, "caption")
    assert "At conv3 a map is only 3×3 cells for the 65-pixel input" in texts(at, "caption")
    [over] = [f for f in charts(at) if any(a.get("text", "").startswith("channel ")
                                           for a in f["layout"].get("annotations", []))]
    maps = feature_maps(run_network(run), torch.tensor(input_figure_pixels(at)), "conv3")
    strongest = strongest_first(maps)[:12]
    assert [a["text"] for a in over["layout"]["annotations"]] == [f"channel {c}" for c in strongest]
    heat = array(over["data"][1]["z"])
    assert heat.shape == (65, 65) and heat.max() == pytest.approx(1.0)  # enlarged to the picture, not 3×3 dots
    at.selectbox(key="maps_layer").set_value("conv1").run()  # 15×15 maps: a grid of tiles, as before
    assert not [f for f in charts(at) if any(a.get("text", "").startswith("channel ")
                                             for a in f["layout"].get("annotations", []))]


def open_tab(at: AppTest, tab: str) -> None:
    """Select one of the feature maps' image tabs, as a click on it does."""
    at.session_state["maps_source"] = tab
    at.run()


def test_uploaded_and_random_images_go_through_the_network(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs)
    at = open_page()
    open_tab(at, "Upload")
    picture = Image.new("L", (60, 90), 255)
    picture.paste(30, (15, 10, 45, 80))  # a dark garment on white, as a phone photo would be
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    at.file_uploader(key="maps_upload").upload("coat.png", buffer.getvalue(), "image/png").run()
    assert not at.exception and not at.error
    assert "the picture was inverted" in texts(at, "caption")
    assert "conv1: 96 channels of 15×15 at input 65" in texts(at, "caption")
    upload_input = input_figure(at)

    open_tab(at, "Random test image")
    assert not at.error and "Test image " in texts(at, "caption")
    assert "conv1: 96 channels" in texts(at, "caption") and input_figure(at) != upload_input
    open_tab(at, "Upload")  # the upload was kept while the random image was shown
    assert at.file_uploader(key="maps_upload").value.name == "coat.png"
    assert input_figure(at) == upload_input

    at.file_uploader(key="maps_upload").upload("broken.png", b"not a picture", "image/png").run()
    assert "is not a picture this app can read" in texts(at, "warning") and not at.error  # as Classify says it


def test_run_without_checkpoint_still_shows_its_filters(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs).checkpoint_path.unlink()
    at = open_page()
    assert not at.error
    assert "finished, but its checkpoint is gone" in texts(at, "warning")  # the run's state says why
    filter_grid(at)
    assert any(figure.get("frames") for figure in charts(at))  # the evolution needs only the snapshots


def test_corrupt_checkpoint_and_snapshot_give_clear_messages(runs: Path, trained_run: RunDir) -> None:
    run = copy_run(trained_run, runs)
    run.checkpoint_path.write_bytes(b"not a checkpoint at all")
    (run.filters_dir / "epoch_001.pt").write_bytes(b"garbage")
    at = open_page()
    assert not at.error
    warnings = texts(at, "warning")
    assert "is damaged or is not an AlexNet Explorer checkpoint" in warnings
    assert "Snapshot of epoch 1 skipped" in warnings
    filter_grid(at)
    evolution = next(figure for figure in charts(at) if figure.get("frames"))
    assert [frame["name"] for frame in evolution["frames"]] == ["0", "0.5", "1.5", "2"]


def test_no_runs_shows_random_filters_and_how_to_train(runs: Path) -> None:
    at = open_page()
    assert not at.error
    info = texts(at, "info")
    assert "randomly initialised" in info and "python -m alexnet_explorer train" in info and "Train" in info
    filter_grid(at)
    assert "need a trained network" in texts(at, "warning")
    assert at.toggle(key="filters_change").disabled  # a random start has nothing added to it


def test_separable_features_are_computed_on_request(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs)
    at = open_page()
    assert "Press **Compute**" in texts(at, "info") and not at.get("metric")
    at.select_slider(key="sep_count").set_value(250)
    at.pills(key="sep_methods").set_value(["pca"])  # t-SNE takes seconds even on 100 images
    next(button for button in at.button if button.label == "Compute").click().run()
    assert not at.exception and not at.error
    assert [metric.label for metric in at.get("metric")] == ["Linear probe on raw pixels",
                                                            "Linear probe on fc7 features"]
    projections = next(figure for figure in charts(at) if figure["layout"].get("legend", {}).get("itemsizing"))
    assert [a["text"] for a in projections["layout"]["annotations"]] == ["raw pixels · PCA", "fc7 features · PCA"]
    assert "100 test images" in texts(at, "caption")  # the fixture's whole test set


def test_the_page_opens_on_the_newest_finished_run_and_says_why_a_failed_one_has_no_network(
        runs: Path, trained_run: RunDir) -> None:
    finished = copy_run(trained_run, runs)
    failed = RunDir.create(runs, TINY, label="failed")
    failed.save_filters(0, trained_run.load_filters(0))
    failed.write_status("failed", error="the training loss became nan at epoch 0.4")
    newest = finished.config_path.stat().st_mtime + 10
    os.utime(failed.config_path, (newest, newest))
    assert [run.name for run in list_runs(runs)] == [failed.name, finished.name]
    at = open_page()
    assert at.selectbox(key="filters_run").value == finished.name
    assert not at.error and not at.warning

    at.selectbox(key="filters_run").set_value(failed.name).run()
    assert not at.exception and not at.error
    reasons = texts(at, "warning")
    assert "failed before it saved a network: the training loss became nan at epoch 0.4" in reasons
    assert "saved at the end of the first epoch" not in reasons
    assert "It failed: the training loss became nan at epoch 0.4" in texts(at, "caption")


def test_the_history_strip_labels_every_tile_with_its_epoch(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs)
    at = open_page()
    [strip] = [f for f in charts(at)
               if len(f["data"]) > 1 and f["data"][1].get("hovertemplate", "").startswith("epoch ")]
    assert [label["text"] for label in strip["layout"]["annotations"]] == ["epoch 0", "epoch 1", "epoch 2"]


def test_what_a_unit_responds_to_is_ranked_once_and_kept_with_the_run(runs: Path, trained_run: RunDir,
                                                                     fixture_data_dir: Path) -> None:
    run = copy_run(trained_run, runs)
    at = open_page()
    assert "one pass over all 100 test images at 65 px (a bar says how long is left)" in texts(at, "info")
    assert not responses_figure(at)
    run.append_event(event("started", device="cpu", time=1.0))  # a run that trained on this CPU at 0.5 image/s
    run.append_event(event("progress", epoch=0.2, examples_per_sec=0.5))
    at.run()
    assert "(about 1 min 07 s here, at the speed the last run of this network trained at)" in texts(at, "info")  # 100 / (3 × 0.5)
    at.selectbox(key="responses_layer").set_value("conv2").run()
    at.number_input(key="responses_unit_conv2").set_value(5).run()
    at.button(key="responses_rank").click().run()
    assert not at.exception and not at.error
    assert list(run.top_images_dir.iterdir())  # kept with the run
    [figure] = responses_figure(at)
    shown = [int(title["text"].split()[0].lstrip("#")) for title in figure["layout"]["annotations"]]
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    net = run_network(run)
    brute = np.array([feature_maps(net, to_model_input(image[None], 65), "conv2")[5].max().item()
                      for image in data.test_images])
    np.testing.assert_allclose(brute[shown], np.sort(brute)[::-1][:9], atol=1e-5)  # the nine strongest, in order
    assert "The 9 of the 100 test images that excite conv2 channel 5 most" in texts(at, "caption")
    assert len(figure["data"]) == 18  # each picture under its map

    again = open_page()  # another visit finds the ranking in the run's folder
    again.selectbox(key="responses_layer").set_value("fc7").run()
    assert not again.get("button") or all(button.key != "responses_rank" for button in again.button)
    strongest = top_images.load_ranking(next(run.top_images_dir.iterdir()), 100).values["fc7"][:, 0]
    alive, dead = int(strongest.argmax()), int(strongest.argmin())
    assert strongest[dead] == 0  # the made-up network has fc7 units that no image excites
    again.number_input(key="responses_unit_fc7").set_value(alive).run()
    [figure] = responses_figure(again)
    assert len(figure["data"]) == 9 and "fc7 has no map" in texts(again, "caption")
    again.toggle(key="responses_guided").set_value(True).run()
    assert not again.exception and not again.error
    top, guided = responses_figure(again)
    assert [a["text"] for a in guided["layout"]["annotations"]] == [a["text"] for a in top["layout"]["annotations"]]
    shown = [int(title["text"].split()[0].lstrip("#")) for title in guided["layout"]["annotations"]]
    projections = top_images.unit_projections(net, data.test_images[shown], 65, "fc7", alive)
    np.testing.assert_allclose([array(trace["z"]) for trace in guided["data"]],
                               (127.5 + 127.5 * projections).round() / 255, atol=1e-6)  # mid-grey: no effect
    assert f"Guided backpropagation (Captum) of fc7 unit {alive}'s response" in texts(again, "caption")
    again.number_input(key="responses_unit_fc7").set_value(dead).run()
    assert not responses_figure(again) and f"No test image excites fc7 unit {dead}" in texts(again, "info")


def responses_figure(at: AppTest) -> list[dict]:
    """The units tab's grid of top test images, if shown."""
    return [f for f in charts(at) if any(a.get("text", "").startswith("#") for a in f["layout"].get("annotations", []))]


def run_network(run: RunDir) -> torch.nn.Sequential:
    net = build_model(TINY).eval()
    net.load_state_dict(run.load_checkpoint().model)
    return net


def test_separability_says_how_long_each_size_takes_and_what_each_step_took(runs: Path, trained_run: RunDir) -> None:
    copy_run(trained_run, runs)
    at = open_page()
    sizes = at.select_slider(key="sep_count")
    expected = {count: sum(step.seconds for step in separability_steps(count, ["pca", "tsne"], 65))
                for count in (250, 5000)}
    assert sizes.options[0] == f"250 (~{duration(max(1.0, expected[250]))})"
    assert sizes.options[-1] == f"5,000 (~{duration(expected[5000])})" and expected[5000] > 30  # before it is picked
    assert "Press **Compute** (about" in texts(at, "info")
    sizes.set_value(250)
    at.pills(key="sep_methods").set_value(["pca"])
    next(button for button in at.button if button.label == "Compute").click().run()
    done = next(caption for caption in at.get("caption") if caption.value.startswith("Computed in"))
    for step in ("linear probe on raw pixels", "PCA of raw pixels", "fc7 features of 250 test images",
                 "linear probe on fc7 features", "PCA of fc7 features"):
        assert f"{step} " in done.value
    at.run()  # asked again: kept, and not said to be "computed in 0 s", each step in "0.0 s"
    assert "Done at once (kept for this checkpoint: asking again is instant)." in texts(at, "caption")
    assert not any(caption.value.startswith("Computed in") for caption in at.get("caption"))


def test_what_units_want_to_see_is_pictured_on_request_and_kept_with_the_run(
        runs: Path, trained_run: RunDir, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feature_visualisation, "STEPS", 4)  # what is tested here is the view, not the pictures
    run = copy_run(trained_run, runs)
    at = open_page()
    assert "What a unit or a class wants to see" in [header.value for header in at.subheader]
    assert "not what the unit *is*" in texts(at, "caption")
    assert "Picturing the ten classes takes 4 steps" in texts(at, "info")
    assert "rank the test images above first" in texts(at, "info")
    at.button(key="wants_fc8").click().run()
    assert not at.exception and not at.error
    [classes] = wants_figures(at)
    assert [a["text"].split(" · ")[0] for a in classes["layout"]["annotations"]] == list(CLASSES)
    kept = feature_visualisation.load(run.unit_pictures_path, 2, 0, 65)
    np.testing.assert_allclose(array(classes["data"][3]["z"]), kept.pictures["fc8", 3].pixels / 255, atol=1e-6)
    assert "How to read it: the 28×28 (enlarged to 65 px as the training pictures are) input that raises each class's score" in texts(at, "caption")

    at.selectbox(key="responses_layer").set_value("conv2").run()
    at.number_input(key="responses_unit_conv2").set_value(5).run()
    at.button(key="responses_rank").click().run()
    at.button(key="wants_conv2").click().run()
    assert not at.exception and not at.error
    classes, units = wants_figures(at)
    titles = [a["text"].split(" · ")[0] for a in units["layout"]["annotations"]]
    ranking = top_images.load_ranking(next(run.top_images_dir.iterdir()), 100)
    strongest = [u for u in top_images.strongest_units(ranking, "conv2", 10) if u != 5]
    assert titles == ["channel 5 (chosen)"] + [f"channel {u}" for u in strongest][:9]
    assert "raises each channel's mean activation over the whole picture" in texts(at, "caption")

    run.unit_pictures_path.write_bytes(b"damaged")
    again = open_page()
    assert "cannot be read" in texts(again, "warning") and "computed again" in texts(again, "warning")
    assert not wants_figures(again) and again.button(key="wants_fc8")  # offered again, the rest of the page works
    filter_grid(again)


def wants_figures(at: AppTest) -> list[dict]:
    """The grids of what the classes and units want to see, if shown."""
    return [f for f in charts(at) if any(" · " in a.get("text", "") and not a["text"].startswith("#")
                                         for a in f["layout"].get("annotations", []))]


def test_one_dead_filter_is_named_in_the_singular() -> None:
    assert DeadFilters([7], 2).caption(6).startswith(" Grey: the one dead filter of the network after epoch 2. ReLU "
                                                     "turns its output to 0")
    assert dead_maps(1).startswith(" — one of them is conv1's dead filter, dark")
    assert dead_maps(3).startswith(" — 3 of them are conv1's dead filters") and dead_maps(0) == ""
