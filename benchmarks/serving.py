"""What the app benchmarks and the browser tests share: the real app served by ``streamlit run``, Debian's Chromium,
and measuring runs."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from playwright.sync_api import Browser, Playwright

from alexnet_explorer import launcher, processes
from alexnet_explorer.runs import RunDir

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(runs: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """``streamlit run streamlit_app.py`` on a free port with this runs folder; yields its URL and pid. The training
    processes it leaves behind are killed on the way out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, **(env or {}), "ALEXNET_EXPLORER_RUNS": str(runs)}
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=REPO, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {log.read_text()}")
            time.sleep(0.3)
        yield url, server.pid
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        for run in launcher.active_runs(runs):
            pid = processes.launched_pid(run)
            if pid and processes.process_alive(pid, run):
                os.kill(pid, signal.SIGKILL)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with no network beyond the app."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class PeakMemory:
    """The peak resident memory of a process, sampled every half second in a thread while in use."""

    def __init__(self, pid: int):
        self.pid, self.peak_mib, self._done = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(0.5):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
            self.peak_mib = max(self.peak_mib, rss / 1024)


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far, user and system (its threads included, its children not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy since it started, all cores together."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_until_over(run: RunDir, timeout: float) -> str:
    """Wait for a run to end; its final state."""
    deadline = time.monotonic() + timeout
    while (state := processes.refresh_status(run)["state"]) in processes.ACTIVE_STATES:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run.name} still {state} after {timeout:.0f} s")
        time.sleep(0.5)
    return state
