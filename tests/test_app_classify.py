"""The Classify page through AppTest: pick and upload pictures, bad pictures, bad checkpoints, and no network yet."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from alexnet_explorer import evaluation, launcher, neighbours, prediction
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import CLASSES, DATA_ENV, load_fashion_mnist, subset_indices
from alexnet_explorer.evaluation import Evaluation
from alexnet_explorer.preprocess import PreprocessOptions, open_picture, preprocess
from alexnet_explorer.runs import RUNS_ENV, RunDir, RunRecorder, list_runs
from alexnet_explorer.train import train
from app_pages.sections.where_it_errs import saved_when
from app_pages.sections.where_it_looked import number
from app_pages.widgets.pages import PAGES_DIR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
HEADLINE = "### The network says: "


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, fixture_data_dir: Path) -> Path:
    """A run folder as training leaves it: one tiny epoch of the smoke preset on the fixture data (seconds)."""
    config = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=16, device="cpu")
    run = RunDir.create(tmp_path_factory.mktemp("template"), config, label="smoke")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    assert run.read_status()["state"] == "finished"
    return run.path


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder and the fixture data, through the app's environment variables."""
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


def add_run(runs: Path, trained_run: Path, name: str) -> RunDir:
    """A copy of the trained run, made the newest run."""
    run = RunDir(shutil.copytree(trained_run, runs / name))
    newest = max([r.config_path.stat().st_mtime for r in list_runs(runs)], default=0) + 1
    os.utime(run.config_path, (newest, newest))
    return run


def classify_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    return at.switch_page(f"{PAGES_DIR}/classify.py").run()


def open_tab(at: AppTest, tab: str) -> None:
    """Select one of the page's picture tabs, as a click on it does."""
    at.session_state["classify_source"] = tab
    at.run()


def encoded(picture: Image.Image, format: str = "PNG", **save: object) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=format, **save)
    return buffer.getvalue()


def png(image: np.ndarray, mode: str | None = None) -> bytes:
    """A 28×28 array as a 112×112 PNG file."""
    return encoded(Image.fromarray(image, mode).resize((112, 112)))


def garment() -> np.ndarray:
    """A light-on-black 28×28 picture: a bag-like block with a handle."""
    image = np.zeros((28, 28), np.uint8)
    image[10:26, 4:24] = 200
    image[4:10, 9:19] = 150
    image[6:10, 12:16] = 0
    return image


def answer(at: AppTest) -> str | None:
    """The predicted class the page shows, if any."""
    lines = [m.value for m in at.markdown if m.value.startswith(HEADLINE)]
    return lines[0].removeprefix(HEADLINE).split("**")[1] if lines else None


def bars(at: AppTest) -> dict:
    """The probability chart's bars: class label → percent."""
    [chart] = [c for c in at.get("plotly_chart") if "probability" in c.proto.spec]
    trace = json.loads(chart.proto.spec)["data"][0]
    return dict(zip(trace["y"], trace["x"]))


def explanation_map(at: AppTest, which: int = 0) -> np.ndarray:
    """The heat map the page draws over the picture, in [0, 1] (``which`` 1: the sanity check's, under it)."""
    chart = [c for c in at.get("plotly_chart") if "importance" in c.proto.spec][which]
    z = json.loads(chart.proto.spec)["data"][1]["z"]  # base64 typed-array data
    return np.frombuffer(base64.b64decode(z["bdata"]), z["dtype"]).reshape(28, 28)


def truth(run: RunDir, image28: np.ndarray) -> np.ndarray:
    """The ten probabilities the run's network gives a 28×28 picture, computed without the page."""
    return prediction.probabilities(load_classifier(run.checkpoint_path), [image28])[0]


def prepared(data: bytes, **options: bool) -> np.ndarray:
    """A picture file as the page should prepare it."""
    return preprocess(open_picture(data), PreprocessOptions(**options)).image28


def nth_test_image(data_dir: Path, label: int, which: int) -> np.ndarray:
    """The which-th test image of a class."""
    data = load_fashion_mnist(data_dir, allow_download=False)
    return data.test_images[np.flatnonzero(data.test_labels.numpy() == label)[which], 0].numpy()


def assert_answers(at: AppTest, probabilities: np.ndarray) -> None:
    """The page's answer and its bars are the network's own."""
    assert answer(at) == CLASSES[probabilities.argmax()]
    assert list(bars(at).values()) == pytest.approx(100 * probabilities, abs=1e-6)


def test_no_network_yet_says_so_and_offers_the_classroom_preset(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    launched = []
    monkeypatch.setattr(launcher, "launch", lambda config, label="run", by=None: launched.append((config, label))
                        or RunDir(runs / "new"))
    at = classify_page()
    assert not at.exception
    assert any("There is no trained network yet" in info.value for info in at.info)
    assert [link.proto.page for link in at.get("page_link")] == ["train"]
    at.button(key="classify_train").click().run()
    assert launched == [(PRESETS["classroom"], "classroom")]
    assert any("Training started" in s.value for s in at.success) and not at.exception


def test_pick_a_test_image_answers_with_probabilities_and_explanations(runs: Path, trained_run: Path,
                                                                     fixture_data_dir: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    assert not at.exception and not at.error
    assert at.selectbox(key="classify_run").value == "smoke-run"
    assert any("after epoch 1 of 1" in c.value for c in at.caption)
    assert any("Draw a garment on the canvas" in info.value for info in at.info)  # the empty canvas, first

    open_tab(at, "Pick a test image")
    at.selectbox(key="classify_pick_class").set_value(3).run()
    at.number_input(key="classify_pick_index").set_value(2).run()
    assert not at.exception and not at.error
    probabilities = bars(at)
    assert list(probabilities) == [f"{name} (true)" if name == "Dress" else name for name in CLASSES]
    assert sum(probabilities.values()) == pytest.approx(100)
    predicted = answer(at)
    assert max(probabilities, key=probabilities.get).startswith(predicted)
    assert_answers(at, truth(run, nth_test_image(fixture_data_dir, 3, 2)))
    assert any(f"Test images of {predicted}" in m.value for m in at.markdown)
    assert any("Saliency:" in c.value for c in at.caption)

    at.segmented_control(key="classify_explain").set_value("Grad-CAM").run()
    assert at.selectbox(key="classify_cam_layer_alexnet_65").value == "conv2"  # conv5 is 3×3 at 65 px: too coarse
    assert any("Grad-CAM: the parts of conv2's 7×7 grid" in c.value for c in at.caption)
    picture = nth_test_image(fixture_data_dir, 3, 2)
    network = load_classifier(run.checkpoint_path)
    top = int(truth(run, picture).argmax())
    assert np.allclose(explanation_map(at), prediction.grad_cam(network, picture, top, "conv2"), atol=1e-6)
    at.selectbox(key="classify_cam_layer_alexnet_65").set_value("conv5").run()
    assert any("Grad-CAM: the parts of conv5's 3×3 grid" in c.value for c in at.caption)
    assert np.allclose(explanation_map(at), prediction.grad_cam(network, picture, top, "conv5"), atol=1e-6)
    at.segmented_control(key="classify_explain").set_value("Occlusion").run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("Occlusion: a grey 8×8-pixel square") for c in at.caption)
    assert np.allclose(explanation_map(at), prediction.occlusion(network, picture, top).heat, atol=1e-6)
    at.radio(key="classify_cover").set_value("black").run()
    assert any(c.value.startswith("Occlusion: a black 8×8-pixel square") for c in at.caption)
    assert np.allclose(explanation_map(at), prediction.occlusion(network, picture, top, fill=0).heat, atol=1e-6)
    at.segmented_control(key="classify_explain").set_value("Grad-CAM").run()
    assert at.selectbox(key="classify_cam_layer_alexnet_65").value == "conv5"  # the choice outlived the other maps
    at.button(key="classify_random").click().run()
    assert not at.exception and not at.error
    label, which = at.session_state["classify_pick_class"], at.session_state["classify_pick_index"]
    assert_answers(at, truth(run, nth_test_image(fixture_data_dir, label, which)))


def test_integrated_gradients_smoothgrad_and_the_sanity_check_show_the_packages_maps(
        runs: Path, trained_run: Path, fixture_data_dir: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Pick a test image")
    at.selectbox(key="classify_pick_class").set_value(7).run()
    picture = nth_test_image(fixture_data_dir, 7, 0)
    network = load_classifier(run.checkpoint_path)
    top = int(truth(run, picture).argmax())
    at.segmented_control(key="classify_explain").set_value("Integrated gradients").run()
    assert not at.exception and not at.error
    found = prediction.integrated_gradients(network, picture, top)
    assert any(c.value.startswith("Integrated gradients: what each pixel added") and
               f"{found.black_score:.1f} → {found.score:.1f}" in c.value for c in at.caption)
    assert not any("linear classifier" in c.value for c in at.caption)  # a network's score is no pipeline's margin
    assert np.allclose(explanation_map(at), found.heat, atol=1e-6)
    at.segmented_control(key="classify_explain").set_value("SmoothGrad").run()
    assert any(c.value.startswith("SmoothGrad: saliency averaged over 24 copies") for c in at.caption)
    assert np.allclose(explanation_map(at), prediction.smooth_grad(network, picture, top), atol=1e-6)

    at.toggle(key="classify_sanity").set_value(True).run()
    assert not at.exception and not at.error
    assert at.slider(key="classify_sanity_layers").value == 1
    at.slider(key="classify_sanity_layers").set_value(3).run()
    check = prediction.sanity_check(network, picture, top, explanation_map(at), prediction.smooth_grad, 3)
    assert np.allclose(explanation_map(at, 1), check.heat, atol=1e-6)
    [sentence] = [m.value for m in at.markdown if "random weights in its top 3 layers (fc8, fc7, fc6)" in m.value]
    assert f"**{check.correlation:.2f}**" in sentence
    at.toggle(key="classify_sanity").set_value(False).run()
    at.toggle(key="classify_sanity").set_value(True).run()
    assert at.slider(key="classify_sanity_layers").value == 3  # the choice outlived the check being off


def test_the_nearest_training_images_are_found_once_and_shown_with_classes_and_distances(
        runs: Path, trained_run: Path, fixture_data_dir: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Pick a test image")
    assert any("Which training images does the network find most like this picture?" in i.value for i in at.info)
    at.button(key="classify_neighbours").click().run()
    assert not at.exception and not at.error and run.neighbours_path.is_file()
    network = load_classifier(run.checkpoint_path)
    picture = nth_test_image(fixture_data_dir, 0, 0)
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    nearest = neighbours.nearest(network, neighbours.features_for(run, network, data), picture)
    images = at.get("image")[-len(nearest):]  # one element each, in a column of its own
    assert [image.proto.imgs[0].caption for image in images] == [f"{CLASSES[n.label]} · {n.distance:.1f}"
                                                                 for n in nearest]
    assert any(c.value.startswith("Of 32 of its training images, the network finds your picture most like these 5: "
                                  "the nearest by the 4,096 numbers of its last hidden layer, fc7, nearest first")
               for c in at.caption)


def test_upload_one_picture_then_several(runs: Path, trained_run: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    at.file_uploader(key="classify_upload").set_value(("bar.png", png(garment()), "image/png")).run()
    assert not at.exception and not at.warning
    assert_answers(at, truth(run, prepared(png(garment()))))
    crop = "Fashion-MNIST garments fill the frame, so the empty border is cut away."
    assert crop in [c.value for c in at.caption]
    at.checkbox(key="classify_crop_to_object").uncheck().run()
    assert crop not in [c.value for c in at.caption]
    assert_answers(at, truth(run, prepared(png(garment()), crop_to_object=False)))

    at.file_uploader(key="classify_upload").set_value([
        ("one.png", png(garment()), "image/png"), ("notes.png", b"shopping list", "image/png"),
        ("two.png", png(255 - garment()), "image/png")]).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["file"].tolist() == ["one.png", "notes.png", "two.png"]
    for row, picture in ((0, garment()), (2, 255 - garment())):
        expected = truth(run, prepared(png(picture), crop_to_object=False))  # the switch is still off
        assert table["answer"][row] == CLASSES[expected.argmax()]
        # One batch for the table, one picture here: they add in other orders, up to 6.5e-7 apart on the CPUs tried.
        assert table["confidence"][row] == pytest.approx(expected.max(), abs=1e-5)
    assert table["answer"].isna()[1]
    assert "is not a picture this app can read" in table["problem"][1]
    assert answer(at) == table["answer"][0]  # the first row is explained until another is selected


def test_an_upload_and_its_settings_survive_a_visit_to_another_tab(runs: Path, trained_run: Path) -> None:
    add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    at.file_uploader(key="classify_upload").set_value(("bag.png", png(garment()), "image/png")).run()
    at.checkbox(key="classify_crop_to_object").uncheck().run()
    at.segmented_control(key="classify_explain").set_value("Grad-CAM").run()
    upload_answer, upload_bars = answer(at), bars(at)

    open_tab(at, "Pick a test image")
    assert not at.exception and list(bars(at)) != list(upload_bars)  # the pick's chart marks the true class
    assert not at.get("checkbox") or all(box.key != "classify_crop_to_object" for box in at.checkbox)

    open_tab(at, "Upload")
    assert not at.exception and answer(at) == upload_answer and bars(at) == upload_bars
    assert at.checkbox(key="classify_crop_to_object").value is False
    assert at.segmented_control(key="classify_explain").value == "Grad-CAM"


def cutout() -> bytes:
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 40
    rgba[..., 3] = np.where(garment() > 128, 255, 0)  # a dark garment on a transparent background
    return png(rgba, "RGBA")


BAD = {  # file name: (its bytes, what the page says)
    "notes.png": (lambda: b"not a picture", "is not a picture this app can read"),
    "cut-off.png": (lambda: png(garment())[:300], "seems damaged or incomplete"),
    "nothing.png": (lambda: b"", "is empty (0 bytes)"),
    "huge.png": (lambda: b"\0" * (20 * 2**20 + 1), "more than the 20 MB limit"),
    "bomb.png": (lambda: encoded(Image.new("1", (9000, 9000))), "has too many pixels"),  # 81 MP in 10 kB
    "tiny.png": (lambda: encoded(Image.new("L", (3, 3), 200)), "too small to show a garment"),
}
GOOD = {  # file name: (its bytes, a note the page gives, if any)
    "animation.gif": (lambda: encoded(Image.fromarray(garment()), "GIF", save_all=True,
                                      append_images=[Image.fromarray(255 - garment())]), "only the first one was used"),
    "deep.png": (lambda: png(garment().astype(np.uint16) * 257), None),  # 16 bits per pixel
    "print.jpg": (lambda: encoded(Image.fromarray(garment()).convert("CMYK"), "JPEG"), None),
    "cutout.png": (cutout, None),
}


def test_every_bad_picture_gets_a_clear_message_and_the_page_keeps_working(runs: Path, trained_run: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    for name, (content, message) in BAD.items():
        at.file_uploader(key="classify_upload").set_value((name, content(), "image/png")).run()
        assert not at.exception, name
        assert [w.value for w in at.warning] and message in at.warning[0].value, (name, [w.value for w in at.warning])
        assert answer(at) is None, name
    for name, (content, note) in GOOD.items():
        at.file_uploader(key="classify_upload").set_value((name, content(), "image/png")).run()
        assert not at.exception and not at.warning, name
        expected = truth(run, prepared(content()))
        assert answer(at) == CLASSES[expected.argmax()], name
        if note:
            assert any(note in info.value for info in at.info), name


def test_a_damaged_checkpoint_is_explained_and_another_run_still_answers(runs: Path, trained_run: Path,
                                                                        fixture_data_dir: Path) -> None:
    good = add_run(runs, trained_run, "a-good-run")
    broken = add_run(runs, trained_run, "b-broken-run")
    broken.checkpoint_path.write_bytes(broken.checkpoint_path.read_bytes()[:5000])
    at = classify_page()
    assert not at.exception
    assert at.selectbox(key="classify_run").value == "b-broken-run"  # the newest finished run
    assert any("cannot be used" in e.value and "damaged" in e.value for e in at.error), [e.value for e in at.error]
    at.selectbox(key="classify_run").set_value("a-good-run").run()
    open_tab(at, "Pick a test image")
    assert not at.exception and not at.error
    assert_answers(at, truth(good, nth_test_image(fixture_data_dir, 0, 0)))  # the first test image of the first class


# --- an empty page, uploads, the signal, where it errs, and the class's own test set (#13, #14) ---

def test_a_classroom_run_started_from_the_empty_page_shows_its_state_then_its_failure(
        runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = []

    def launch(config, label="run", by=None) -> RunDir:
        started.append(RunDir.create(runs, config, label=label))
        return started[-1]

    monkeypatch.setattr(launcher, "launch", launch)
    at = classify_page()
    at.button(key="classify_train").click().run()
    assert any("Training started" in s.value for s in at.success) and not at.exception
    at.run()
    assert any("**classroom** is queued" in i.value for i in at.info), [i.value for i in at.info]
    reason = "Fashion-MNIST could not be found or downloaded. Looked in: /nowhere (no IDX files)."
    started[0].write_status("failed", error=reason)
    at.run()
    assert any("The last run, **classroom**, failed" in e.value and reason in e.value for e in at.error)
    assert at.button(key="classify_train")  # and another can be started


def test_an_empty_page_waits_for_the_run_training_not_the_one_queued_behind_it(runs: Path) -> None:
    training = RunDir.create(runs, PRESETS["classroom"], label="classroom")
    queued = RunDir.create(runs, PRESETS["classroom"].replace(activation="sigmoid"), label="classroom-sigmoid")
    training.write_status("running", pid=4_000_000, host="gpu-node-2")  # on another machine: taken as it says
    queued.write_status("queued", order=1.0)
    at = classify_page()
    assert not at.exception
    waiting = [i.value for i in at.info]
    assert any("Run **classroom** is running" in value for value in waiting), waiting
    assert not any("classroom-sigmoid" in value for value in waiting), waiting


def test_several_uploads_list_each_picture_once_and_every_problem_in_full(runs: Path, trained_run: Path) -> None:
    add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    at.file_uploader(key="classify_upload").set_value([
        ("one.png", png(garment()), "image/png"), ("notes.png", b"shopping list", "image/png"),
        ("one.png", png(garment()), "image/png"), ("copy.png", png(garment()), "image/png"),
        ("two.png", png(255 - garment()), "image/png")]).run()
    assert not at.exception
    assert at.dataframe[0].value["file"].tolist() == ["one.png", "notes.png", "two.png"]
    captions = [c.value for c in at.caption]
    assert "“one.png” was added twice: it is listed once." in captions
    assert "“copy.png” is the same picture as “one.png”: it is listed once." in captions
    full = ("“notes.png” is not a picture this app can read. Please upload a PNG, JPEG, WebP, BMP or GIF file.")
    assert any(full in w.value for w in at.warning)  # whole, while the first row is the one explained
    assert not any("Phones store photos sideways" in c for c in captions)  # no rotation tag: no Upright step


def outline() -> np.ndarray:
    """The bag-like garment drawn as its contour only."""
    image = np.zeros((28, 28), np.uint8)
    image[10:26, 4:24] = 200
    image[12:24, 6:22] = 0
    return image


def test_every_answer_says_whether_the_picture_is_unlike_what_the_network_learned(
        runs: Path, trained_run: Path, fixture_data_dir: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    at.file_uploader(key="classify_upload").set_value(("outline.png", png(outline()), "image/png")).run()
    assert not at.exception and not at.error
    network = load_classifier(run.checkpoint_path)
    evaluation = Evaluation.load(run.evaluation_path)
    verdict = prediction.judge(network, evaluation.familiarity, [prepared(png(outline()))])[0]
    assert verdict.hints == ("hollow",)
    shown = " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)
    assert verdict.message() in shown and verdict.detail() in shown
    assert any(i.value.startswith("It is an outline") for i in at.info)
    at.file_uploader(key="classify_upload").set_value([("outline.png", png(outline()), "image/png"),
                                                       ("bag.png", png(garment()), "image/png")]).run()
    assert at.dataframe[0].value["note"][0].endswith("an outline")


def test_where_it_errs_on_the_runs_test_set_with_a_cells_pictures(runs: Path, trained_run: Path,
                                                                   fixture_data_dir: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    assert not at.exception and not at.error
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    network = load_classifier(run.checkpoint_path)
    config = network.config
    order = subset_indices(len(data.test_images), config.limit_test, config.seed)
    answers = prediction.probabilities(network, list(data.test_images[order, 0].numpy())).argmax(1)
    labels = data.test_labels[order].numpy()
    accuracy = (answers == labels).mean()
    assert any(f"{len(order)} images, accuracy **{accuracy:.1%}**" in m.value for m in at.markdown)
    mistakes = [(int(t), int(a)) for t, a in zip(labels, answers) if t != a]
    true, answered = max(set(mistakes), key=lambda pair: (mistakes.count(pair), -pair[0], -pair[1]))
    at.radio(key="classify_mistakes_test").set_value((true, answered)).run()
    assert not at.exception
    heading = f"**{CLASSES[true]} taken for {CLASSES[answered]}** in Fashion-MNIST's test set: "
    assert any(m.value.startswith(heading + f"{mistakes.count((true, answered))} of {(labels == true).sum()}")
               for m in at.markdown), [m.value for m in at.markdown]


def test_kept_pictures_survive_a_restart_and_are_deleted_when_asked(runs: Path, trained_run: Path) -> None:
    add_run(runs, trained_run, "smoke-run")
    at = classify_page()
    open_tab(at, "Upload")
    at.file_uploader(key="classify_upload").set_value(("bag.png", png(garment()), "image/png")).run()
    assert any("Our class's test set is empty" in i.value for i in at.info)
    assert not (runs / "class-test-set").exists()  # nothing is kept that nobody chose to keep
    at.selectbox(key="classify_keep_label").set_value(8).run()
    at.button(key="classify_keep").click().run()
    assert not at.exception
    [kept] = (runs / "class-test-set" / "8-bag").glob("*.png")

    restarted = classify_page()  # a new session, as after a server restart: only the runs folder remembers
    assert any("**Our class's test set**: 1 picture, accuracy" in m.value for m in restarted.markdown)
    open_tab(restarted, "Upload")
    restarted.file_uploader(key="classify_upload").set_value(("bag.png", png(garment()), "image/png")).run()
    assert any("Kept as a **Bag**" in s.value for s in restarted.success)
    restarted.button(key="classify_forget_all").click().run()
    assert not kept.exists() and not (runs / "class-test-set").exists()
    assert any("Our class's test set is empty" in i.value for i in restarted.info)


def test_a_network_long_to_measure_is_measured_only_when_asked(runs: Path, trained_run: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    assert run.evaluation_path.is_file()  # training measured it, for the page to read at once...
    run.evaluation_path.unlink()  # ...but not for a run stopped early, or still training
    monkeypatch.setattr(evaluation, "QUICK_MACS", 0)  # as for the book's network on a laptop
    at = classify_page()
    assert not at.exception and not any(s.value == "Where it errs" for s in at.subheader)
    assert any("has not been measured yet" in i.value for i in at.info)
    at.button(key="classify_measure").click().run()
    assert any(s.value == "Where it errs" for s in at.subheader) and run.evaluation_path.is_file()


def test_a_network_still_training_is_not_measured_by_itself_so_the_canvas_comes_at_once(runs: Path,
                                                                                        trained_run: Path) -> None:
    run = add_run(runs, trained_run, "smoke-run")
    run.evaluation_path.unlink()  # a run still training has measured none of its networks yet
    run.write_status("running", pid=4_000_000, host="gpu-node-2")  # quick to measure, but replaced every epoch
    at = classify_page()
    assert not at.exception and not any(s.value == "Where it errs" for s in at.subheader)
    assert any("it is still training, so the measurement waits for its end" in i.value for i in at.info)
    assert at.tabs and at.button(key="classify_measure")  # the pictures' tabs are there, and so is the choice
    at.button(key="classify_measure").click().run()
    assert any(s.value == "Where it errs" for s in at.subheader)


def test_a_score_is_shown_as_a_reader_takes_it_in() -> None:
    assert (number(7.25), number(-3.25), number(99.94)) == ("7.2", "-3.2", "99.9")  # a network's logits
    assert (number(-2838.4), number(1234.5), number(100.0)) == ("-2,838", "1,234", "100")  # a linear SVM's margins


def test_a_network_saved_partway_through_an_epoch_is_not_called_the_one_after_the_epoch_before() -> None:
    assert saved_when(SimpleNamespace(epoch=0, batch=41)) == "network saved 41 batches into epoch 1"
    assert saved_when(SimpleNamespace(epoch=2, batch=1)) == "network saved 1 batch into epoch 3"
    assert saved_when(SimpleNamespace(epoch=4, batch=0)) == "network after epoch 4"
