"""A real Streamlit server on a free port with the fixture data, and Debian's Chromium driven by Playwright."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from alexnet_explorer import launcher, processes

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def app_server(tmp_path: Path, fixture_data_dir: Path) -> Iterator[tuple[str, Path]]:
    """``streamlit run streamlit_app.py`` on a free port; yields its URL and its runs folder."""
    runs = tmp_path / "runs"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ALEXNET_EXPLORER_DATA": str(fixture_data_dir), "ALEXNET_EXPLORER_RUNS": str(runs)}
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log_path.read_text()}")
            time.sleep(0.3)
        yield url, runs
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        # Training processes outlive the server by design; end the ones this test started.
        for run in launcher.active_runs(runs):
            pid = processes.launched_pid(run)
            if pid and processes.process_alive(pid, run):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def page() -> Iterator[Page]:
    """A Chromium page (headless, no network beyond the test server)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        finally:
            browser.close()
