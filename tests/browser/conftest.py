"""A real Streamlit server on a free port with the fixture data, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from benchmarks.serving import CHROMIUM, app_server as serve_app, chromium


@pytest.fixture
def app_server(tmp_path: Path, fixture_data_dir: Path) -> Iterator[tuple[str, Path]]:
    """``streamlit run streamlit_app.py`` on a free port; yields its URL and its runs folder."""
    runs = tmp_path / "runs"
    with serve_app(runs, tmp_path / "streamlit.log", env={"ALEXNET_EXPLORER_DATA": str(fixture_data_dir)}) as (url, _):
        yield url, runs


@pytest.fixture
def page() -> Iterator[Page]:
    """A Chromium page (headless, no network beyond the test server)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()
