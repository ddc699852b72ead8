"""The train page in Chromium against a real Streamlit server: start a run, watch it live, reload mid-run, see a
run started elsewhere appear, and read the live chart's titles under its toolbars."""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import held

from alexnet_explorer import launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV
from alexnet_explorer.runs import RunDir, list_runs
from test_curves import CLASSROOM, finished_run

pytestmark = pytest.mark.browser
SCREENSHOT = Path("/tmp/alexnet-explorer-train-page.png")
WAIT_MS = 90_000
# Every rerun of the page competes with training for two shared cores: a bounded but generous wait.
expect.set_options(timeout=30_000)


def set_number(page: Page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    expect(field).to_have_value(str(value))


def the_only_run(runs: Path) -> RunDir:
    deadline = time.monotonic() + 30
    while not list_runs(runs):
        assert time.monotonic() < deadline, "no run folder appeared after pressing Start training"
        time.sleep(0.2)
    [run] = list_runs(runs)
    return run


def test_start_watch_reload_and_finish(app_server: tuple[str, Path], page: Page) -> None:
    url, runs = app_server
    page.goto(f"{url}/train")
    start = page.get_by_role("button", name="Start training")
    expect(start).to_be_visible(timeout=WAIT_MS)
    # The page's last line: its first run is over. A click made before that was once lost on a loaded machine
    # (the form kept the classroom values), while the live panel's timed reruns were also going on.
    expect(page.get_by_text("No runs yet.")).to_be_visible(timeout=WAIT_MS)

    page.get_by_role("radio", name="smoke", exact=True).click()
    expect(page.get_by_label("input size (px)", exact=True)).to_have_value("65")
    # Two epochs of two batches of 32: short, yet long enough to reload the page while it trains.
    for label, value in (("training images", 64), ("test images", 32)):
        set_number(page, label, value)
    expect(page.get_by_text("Estimate:")).to_be_visible(timeout=WAIT_MS)
    start.click()

    run = the_only_run(runs)
    live_title = page.get_by_role("strong").filter(has_text=f"Run {run.title}")  # the live panel's heading
    expect(live_title).to_be_visible(timeout=WAIT_MS)
    legend = page.locator(".legendtext")
    expect(legend).to_have_text(["train loss", "train acc", "test acc"], timeout=WAIT_MS)

    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(e.kind == "progress" for e in run.read_events()) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Its process held while the page reloads: a fast CPU ends the three steps left within a second.
    with held(processes.launched_pid(run)):
        assert processes.refresh_status(run)["state"] == "running", "the run is not training: nothing to reload during"
        page.reload()
        expect(live_title).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("examples/sec on cpu")).to_be_visible(timeout=WAIT_MS)  # the chapter's last line
    expect(legend).to_have_text(["train loss", "train acc", "test acc"])
    # A drawn line: Plotly writes a path with a non-empty "d" once a trace has two points.
    expect(page.locator(".scatterlayer .trace path.js-line[d^='M']").first).to_be_attached()
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.screenshot(path=str(SCREENSHOT))

    assert [r.path for r in list_runs(runs)] == [run.path]  # the reload neither stopped nor duplicated it
    assert run.read_status()["state"] == "finished"
    assert [e.start_epoch for e in run.read_events() if e.kind == "started"] == [0]


def test_train_opened_first_on_a_fresh_server_uses_the_app_navigation(app_server: tuple[str, Path], page: Page) -> None:
    url, _ = app_server
    page.goto(f"{url}/train")
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_be_visible(timeout=WAIT_MS)
    # Each link's text is its icon's ligature name then its title; the legacy folder mode shows file names only.
    assert [text.split()[-1] for text in nav.get_by_role("link").all_inner_texts()] == ["Home", "Train", "Filters",
                                                                                         "Classify", "Scoreboard"]


def test_a_run_started_elsewhere_appears_on_a_page_already_open(app_server: tuple[str, Path], page: Page,
                                                                 fixture_data_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, runs = app_server
    page.goto(f"{url}/train")
    expect(page.get_by_text("No run yet")).to_be_visible(timeout=WAIT_MS)
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))  # as a terminal would: python -m alexnet_explorer train
    config = PRESETS["smoke"].replace(epochs=1, limit_train=64, limit_test=32, device="cpu")
    run = launcher.launch(config, label="elsewhere", root=runs)
    expect(page.get_by_role("strong").filter(has_text=f"Run {run.title}")).to_be_visible(timeout=WAIT_MS)
    closing = page.get_by_text("examples/sec on cpu")
    expect(closing.first).to_be_visible(timeout=WAIT_MS)  # followed to its end...
    # ...and, once the page has been redrawn for the ended run (the panel being replaced may show for a moment beside
    # the new one), shown once
    expect(closing).to_have_count(1, timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0


def overlap(a: dict, b: dict) -> bool:
    """Whether two bounding boxes share any area."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def test_the_live_charts_toolbars_leave_its_panel_titles_readable(app_server: tuple[str, Path], page: Page) -> None:
    url, runs = app_server
    run = finished_run(runs, "classroom", CLASSROOM, [1.0, 0.6, 0.4], [0.7, 0.8, 0.85])
    page.goto(f"{url}/train")
    chart = page.locator(f".st-key-live_chart_{run.name}")
    expect(chart.locator(".legendtext").first).to_be_visible(timeout=WAIT_MS)
    chart.locator(".nsewdrag").last.hover()  # Plotly's toolbar and Streamlit's own (full screen) show on hover
    toolbars = [chart.locator(".modebar-btn"), page.get_by_test_id("stElementToolbar").filter(visible=True)]
    for toolbar in toolbars:
        expect(toolbar.first).to_be_visible()
    for title in ("loss", "accuracy"):
        box = chart.locator(".infolayer .annotation-text").filter(has_text=re.compile(f"^{title}$")).bounding_box()
        for toolbar in toolbars:
            for covering in toolbar.all():
                assert not overlap(covering.bounding_box(), box), (title, covering.bounding_box(), box)
