"""The Classify page in Chromium against a real Streamlit server: draw, upload a PNG, and find the drawing kept."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from alexnet_explorer import prediction
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import CLASSES, load_fashion_mnist
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
    page.locator("input[type=file]").set_input_files(picture)
    network = prediction.load_classifier(run.checkpoint_path)
    expected = prediction.probabilities(network, [preprocess(open_picture(picture.read_bytes())).image28])[0]
    assert answered(page) == CLASSES[expected.argmax()] == chart_answer(page)
    ticks = page.locator(".ytick text")  # the probability chart names every class
    expect(ticks.filter(has_text="Ankle boot")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".barlayer .point")).to_have_count(len(CLASSES))
    expect(page.get_by_text("Resize to 28×28")).to_be_visible(timeout=WAIT_MS)  # the last preprocessing step
    page.set_viewport_size({"width": 1400, "height": 2400})
    page.screenshot(path=str(SCREENSHOT))

    page.get_by_role("tab", name="Draw").click()  # the drawing is still there and answered again, undrawn
    expect(page.get_by_role("heading", name=ANSWER)).to_have_text(drawing_answer, timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0
