"""The Filters page in Chromium against the real app: the grid draws, a click enlarges a filter, ▶ Play animates,
and a run still training is followed epoch by epoch."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from playwright.sync_api import Locator, Page, expect

from conftest import held

from alexnet_explorer import launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV
from alexnet_explorer.config import build_model
from alexnet_explorer.runs import Checkpoint, RunDir

pytestmark = pytest.mark.browser
SCREENSHOT = Path("/tmp/alexnet-explorer-filters-page.png")
WAIT_MS = 90_000
GRID_SHAPE = (8 * 12 - 1, 12 * 12 - 1)  # rows and columns of pixels of the 8×12 grid of 11×11 filters


def snapshot_run(runs: Path) -> RunDir:
    """A run with conv1 snapshots for epochs 0-2 and no checkpoint: all the filter views need."""
    run = RunDir.create(runs, PRESETS["smoke"], label="snapshots")
    generator = torch.Generator().manual_seed(0)
    for epoch in range(3):
        run.save_filters(epoch, torch.randn(96, 1, 11, 11, generator=generator))
    run.write_status("finished")
    return run


def settled_box(locator: Locator) -> dict:
    """The element's box once it stops changing (Plotly fits a chart to its column after the first draw)."""
    previous, deadline = None, time.monotonic() + WAIT_MS / 1000
    while (box := locator.bounding_box()) != previous or box is None:
        assert time.monotonic() < deadline, "the filter grid never settled"
        previous = box
        time.sleep(0.3)
    return box


def test_grid_click_and_play(app_server: tuple[str, Path], page: Page) -> None:
    url, runs = app_server
    snapshot_run(runs)
    page.goto(url)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Home", exact=True)).to_be_visible(timeout=WAIT_MS)
    nav.get_by_role("link", name="Filters", exact=True).click()
    expect(page.get_by_role("heading", name="Filters and features")).to_be_visible(timeout=WAIT_MS)
    assert page.url.rstrip("/").endswith("/filters")

    image = page.locator(".st-key-filter_grid .heatmaplayer image")
    expect(image).to_be_visible(timeout=WAIT_MS)
    box = settled_box(image)
    assert box["width"] / box["height"] == pytest.approx(GRID_SHAPE[1] / GRID_SHAPE[0], rel=0.02)  # square pixels
    # The middle of filter 17's tile: row 1, column 5 of the grid.
    page.mouse.click(box["x"] + (5 * 12 + 5.5) / GRID_SHAPE[1] * box["width"],
                     box["y"] + (12 + 5.5) / GRID_SHAPE[0] * box["height"])
    expect(page.get_by_label("Filter", exact=True)).to_have_value("17", timeout=WAIT_MS)
    expect(page.locator(".st-key-filter_big .gtitle", has_text="filter 17")).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=str(SCREENSHOT))

    page.get_by_role("tab", name="Evolution").click()
    evolution = page.locator(".st-key-filter_evolution")
    expect(evolution.get_by_text("epoch 0 (random init)")).to_be_visible(timeout=WAIT_MS)
    evolution.get_by_text("▶ Play", exact=True).click()
    expect(evolution.get_by_text("epoch 2", exact=True)).to_be_visible(timeout=WAIT_MS)


def test_the_page_follows_a_run_while_it_trains(app_server: tuple[str, Path], page: Page, fixture_data_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url, runs = app_server
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))  # the training process reads the tiny data
    config = PRESETS["smoke"].replace(epochs=4, limit_train=256, limit_test=16, batch_size=8, device="cpu")
    run = launcher.launch(config, label="followed", root=runs)
    # Its process held until the page has opened on it: a fast CPU trains these four epochs of 32 steps within
    # seconds, which may be before the page is drawn.
    with held(processes.launched_pid(run)):
        page.goto(f"{url}/filters")
        expect(page.get_by_text("Still training")).to_be_visible(timeout=WAIT_MS)
    # On a loaded machine the four epochs can outlast one wait: let the run end first (bounded), then the page must
    # follow it within the usual wait.
    deadline = time.monotonic() + 5 * WAIT_MS / 1000
    while processes.refresh_status(run)["state"] in processes.ACTIVE_STATES and time.monotonic() < deadline:
        time.sleep(0.5)
    expect(page.get_by_text("pixels after epoch 4.")).to_be_visible(timeout=WAIT_MS)  # with no click or reload
    expect(page.get_by_text("Still training")).to_have_count(0, timeout=WAIT_MS)
    assert run.read_status()["state"] == "finished"
    assert page.get_by_test_id("stException").count() == 0


def test_what_a_unit_responds_to_and_the_labelled_history_strip(app_server: tuple[str, Path], page: Page) -> None:
    url, runs = app_server
    run = snapshot_run(runs)
    torch.manual_seed(0)
    config = PRESETS["smoke"]
    run.save_checkpoint(Checkpoint(config, build_model(config).state_dict(), None, epoch=2, batch=0))
    page.goto(f"{url}/filters")
    strip = page.locator(".st-key-filter_history")
    expect(strip.get_by_text("epoch 2", exact=True)).to_be_visible(timeout=WAIT_MS)  # each tile says its epoch

    page.get_by_role("tab", name="What units respond to").click()
    page.get_by_role("button", name="Rank the test images").click()
    top = page.locator(".st-key-responses_top")
    expect(top.locator(".gtitle, .annotation-text").first).to_be_visible(timeout=WAIT_MS)
    expect(top.locator(".annotation-text")).to_have_count(9)  # a title over each of the nine pictures
    expect(page.get_by_role("button", name="Rank the test images")).to_have_count(0)  # kept: not offered again
    top.screenshot(path="/tmp/alexnet-explorer-unit-responses.png")
    assert page.get_by_test_id("stException").count() == 0
