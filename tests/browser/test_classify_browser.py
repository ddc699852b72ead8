"""The Classify page in Chromium against a real Streamlit server: draw, upload a PNG, and find the drawing, the
upload and the chosen run kept, within the page and across a visit to another."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from alexnet_explorer.classifier import load_classifier
from alexnet_explorer import prediction
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import CLASSES, load_fashion_mnist
from alexnet_explorer.evaluation import Evaluation
from alexnet_explorer.preprocess import open_picture, preprocess
from alexnet_explorer.runs import RunDir, RunRecorder
from alexnet_explorer.train import train

pytestmark = pytest.mark.browser
SCREENSHOT = Path("/tmp/alexnet-explorer-classify-page.png")
WAIT_MS = 90_000
ANSWER = re.compile(r"The network says: (.+) \(\d+% sure\)")


def answered(page: Page) -> str:
    """Wait for the page's answer and return the class it names."""
    headline = page.get_by_role("heading", name=ANSWER)
    expect(headline).to_be_visible(timeout=WAIT_MS)
    return ANSWER.match(headline.inner_text()).group(1)


def chart_answer(page: Page) -> str:
    """The class of the probability chart's longest bar, from the figure Plotly drew."""
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".barlayer"))
    expect(chart).to_have_count(1, timeout=WAIT_MS)
    lengths, names = chart.evaluate("plot => [Array.from(plot.data[0].x), Array.from(plot.data[0].y)]")
    return names[lengths.index(max(lengths))]


def upload(page: Page, picture: Path) -> None:
    """Give the uploader a file, and see it listed. A file given while the tab switch's rerun draws the tab anew can
    be dropped with the element it was given to (Playwright acts within milliseconds, a person never does): then it
    is given again, at most three times."""
    listed = page.get_by_test_id("stFileUploader").get_by_text(picture.name, exact=True)
    for _ in range(3):
        expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=WAIT_MS)  # no rerun under way
        page.wait_for_timeout(1000)  # nor one about to start: a person takes longer than this to pick a file
        page.locator("input[type=file]").set_input_files(picture)
        try:
            expect(listed).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    expect(listed).to_be_visible(timeout=WAIT_MS)


def test_draw_upload_and_come_back_to_the_drawing(app_server: tuple[str, Path], page: Page, tmp_path: Path,
                                                   fixture_data_dir: Path) -> None:
    url, runs = app_server
    config = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=16, device="cpu")
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    run = RunDir.create(runs, config, label="smoke")
    train(config, data, emit=RunRecorder(run))

    page.goto(f"{url}/classify")
    canvas = page.locator("canvas").last  # Fabric.js listens on the top one of its stacked canvases
    expect(canvas).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Draw a garment on the canvas")).to_be_visible()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 140)
    page.mouse.down()
    for step in range(1, 21):  # a thick horizontal stroke, like a sneaker's sole
        page.mouse.move(box["x"] + 60 + 8 * step, box["y"] + 140 + step)
    page.mouse.up()
    assert answered(page) == chart_answer(page)
    expect(page.get_by_text("Crop to the garment").first).to_be_visible()

    picture = tmp_path / "garment.png"
    Image.fromarray(data.test_images[0, 0].numpy()).resize((112, 112)).save(picture)
    drawing_answer = page.get_by_role("heading", name=ANSWER).inner_text()
    page.get_by_role("tab", name="Upload").click()
    expect(page.get_by_role("heading", name=ANSWER)).to_have_count(0, timeout=WAIT_MS)  # the drawing's is gone
    expect(page.get_by_text("Drop pictures here or browse")).to_be_visible(timeout=WAIT_MS)
    upload(page, picture)
    network = load_classifier(run.checkpoint_path)
    expected = prediction.probabilities(network, [preprocess(open_picture(picture.read_bytes())).image28])[0]
    assert answered(page) == CLASSES[expected.argmax()] == chart_answer(page)
    bars = page.locator(".js-plotly-plot").filter(has=page.locator(".barlayer"))
    ticks = bars.locator(".ytick text")  # the probability chart names every class
    expect(ticks.filter(has_text="Ankle boot").filter(visible=True)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".barlayer .point")).to_have_count(len(CLASSES))
    expect(page.get_by_text("Resize to 28×28")).to_be_visible(timeout=WAIT_MS)  # the last preprocessing step
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.screenshot(path=str(SCREENSHOT))

    page.get_by_role("tab", name="Draw").click()  # the drawing is still there and answered again, undrawn
    expect(page.get_by_role("heading", name=ANSWER)).to_have_text(drawing_answer, timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0


def test_an_outline_drawn_on_the_canvas_is_answered_with_a_warning(app_server: tuple[str, Path], page: Page,
                                                                   fixture_data_dir: Path) -> None:
    url, runs = app_server
    config = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=16, device="cpu")
    run = RunDir.create(runs, config, label="smoke")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))

    page.goto(f"{url}/classify")
    canvas = page.locator("canvas").last
    expect(canvas).to_be_visible(timeout=WAIT_MS)
    box = canvas.bounding_box()
    corners = [(60, 60), (220, 60), (220, 220), (60, 220), (60, 60)]  # a square's contour, never filled
    page.mouse.move(box["x"] + 60, box["y"] + 60)
    page.mouse.down()
    for (x0, y0), (x1, y1) in zip(corners, corners[1:]):
        for step in range(1, 11):
            page.mouse.move(box["x"] + x0 + (x1 - x0) * step / 10, box["y"] + y0 + (y1 - y0) * step / 10)
    page.mouse.up()
    answered(page)
    expect(page.get_by_text("It is an outline: the network learned from photos of whole garments")).to_be_visible(
        timeout=WAIT_MS)
    expect(page.get_by_text(re.compile(r"More unusual than [\d.]+% of its own test images"))).to_be_visible()
    page.screenshot(path="/tmp/alexnet-explorer-classify-outline.png")

    expect(page.get_by_role("heading", name="Where it errs")).to_be_visible(timeout=WAIT_MS)
    page.set_viewport_size({"width": 1400, "height": 3000})  # the whole page in view: nothing to scroll
    # The diagonal cell of the dresses: its heading and pictures are those of the run's saved evaluation, whatever
    # the tiny network answered (which differs between CPUs: bf16 where the CPU has AMX, float32 elsewhere).
    heading = click_cell(page, 3, 3)
    measured = Evaluation.load(run.evaluation_path)
    right, dresses = len(measured.cell(3, 3)), int((measured.labels == 3).sum())
    expect(heading).to_have_text(re.compile(rf"^Dress answered rightly in Fashion-MNIST's test set: {right} of "
                                            rf"{dresses}$"))
    if right:  # each picture captioned with its number in the test set and the network's probability of Dress
        expect(page.get_by_text(re.compile(r"^#\d+: Dress \d+%$"))).to_have_count(right)
    else:
        expect(page.get_by_text("No picture here.")).to_be_visible()
    assert page.get_by_test_id("stException").count() == 0


def draw_a_stroke(page: Page) -> None:
    """Drag the mouse across the canvas once, as a student draws a stroke."""
    canvas = page.locator("canvas").last
    expect(canvas).to_be_visible(timeout=WAIT_MS)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 140)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(box["x"] + 60 + 8 * step, box["y"] + 140 + step)
    page.mouse.up()


def click_cell(page: Page, row: int, column: int, tries: int = 5) -> Locator:
    """Click a cell of the test set's confusion matrix until the page shows that cell's pictures (a rerun that is
    still drawing the page may replace or move the chart under the mouse, so that a click selects no cell or
    another one); the heading of the cell's pictures."""
    verb = "answered rightly" if row == column else f"taken for {re.escape(CLASSES[column])}"
    heading = page.get_by_text(re.compile(rf"^{re.escape(CLASSES[row])} {verb} in Fashion-MNIST's test set: \d+ of"))
    for _ in range(tries):
        matrix = page.locator(".js-plotly-plot").filter(has_text="the network's answer").first.locator(".nsewdrag")
        expect(matrix).to_be_visible(timeout=WAIT_MS)
        matrix.scroll_into_view_if_needed()  # the page may be longer than the window: a click lands only in view
        cells = matrix.bounding_box()
        if cells is not None:
            page.mouse.click(cells["x"] + (column + 0.5) / 10 * cells["width"],
                             cells["y"] + (row + 0.5) / 10 * cells["height"])
            try:
                expect(heading).to_be_visible(timeout=10_000)
                return heading
            except AssertionError:
                continue
    raise AssertionError(f"clicking the matrix's cell ({row}, {column}) never showed its pictures")


def test_the_drawing_the_upload_and_the_chosen_run_outlast_a_visit_to_the_filters_page(
        app_server: tuple[str, Path], page: Page, tmp_path: Path, fixture_data_dir: Path) -> None:
    url, runs = app_server
    config = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=16, device="cpu")
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    for label in ("first", "second"):
        train(config, data, emit=RunRecorder(RunDir.create(runs, config, label=label)))

    page.goto(f"{url}/classify")
    picker = page.get_by_role("combobox", name="Trained network (run)")
    expect(picker).to_have_value("second", timeout=WAIT_MS)  # equal runs: the newest
    picker.click()
    page.get_by_role("option", name="first", exact=True).click()
    expect(picker).to_have_value("first", timeout=WAIT_MS)
    draw_a_stroke(page)
    drawn = page.get_by_role("heading", name=ANSWER)
    expect(drawn).to_be_visible(timeout=WAIT_MS)
    drawing_answer = drawn.inner_text()
    picture = tmp_path / "garment.png"
    Image.fromarray(data.test_images[0, 0].numpy()).resize((112, 112)).save(picture)
    page.get_by_role("tab", name="Upload").click()
    upload(page, picture)
    upload_answer = answered(page)

    nav = page.get_by_test_id("stSidebarNav")  # the app's own navigation: the same session, as a teacher clicks
    nav.get_by_role("link", name="Filters", exact=True).click()
    expect(page.get_by_role("heading", name="Filters and features")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Run first, the run you chose")).to_be_visible(timeout=WAIT_MS)
    nav.get_by_role("link", name="Classify", exact=True).click()

    expect(page.get_by_text("Kept from before: “garment.png”.")).to_be_visible(timeout=WAIT_MS)
    assert answered(page) == upload_answer
    expect(picker).to_have_value("first")
    page.get_by_role("tab", name="Draw").click()
    expect(page.get_by_role("heading", name=ANSWER)).to_have_text(drawing_answer, timeout=WAIT_MS)
    page.screenshot(path="/tmp/alexnet-explorer-classify-kept.png")
    # The stroke is on the canvas again (white pixels on one of its layers), not only remembered.
    assert page.locator("canvas").evaluate_all("layers => layers.some(c => c.getContext('2d')"
                                               ".getImageData(0, 0, c.width, c.height).data"
                                               ".some((v, i) => i % 4 == 0 && v > 128))")
    assert page.get_by_test_id("stException").count() == 0


def test_every_way_of_showing_where_it_looked_is_in_sight(app_server: tuple[str, Path], page: Page,
                                                          fixture_data_dir: Path) -> None:
    url, runs = app_server
    config = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=16, device="cpu")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False),
          emit=RunRecorder(RunDir.create(runs, config, label="smoke")))

    page.goto(f"{url}/classify")
    draw_a_stroke(page)
    answered(page)
    control = page.get_by_role("radiogroup", name="Where it looked")
    expect(control).to_be_visible(timeout=WAIT_MS)
    # Each choice whole within the control's visible box: none scrolled out of sight.
    shown = control.bounding_box()
    for name in ("Saliency", "SmoothGrad", "Integrated gradients", "Grad-CAM", "Occlusion"):
        choice = control.get_by_role("radio", name=name, exact=True).bounding_box()
        assert shown["x"] <= choice["x"] and choice["x"] + choice["width"] <= shown["x"] + shown["width"], name
    assert page.get_by_test_id("stException").count() == 0
