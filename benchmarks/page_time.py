"""How long the server takes to run each page while a run trains, with the training process at each niceness.

    python -m benchmarks.page_time --niceness 0 10 --repeats 10

No browser: each page script is run in this process by Streamlit's AppTest (the server's part of a page visit; in
class the drawing is done by the students' laptops), one fresh session after another (AppTest cannot run sessions
side by side in one process), while a classroom run trains, launched as the app launches it but at the niceness
given. The runs folder holds a finished smoke run too, so that Classify has a network while the classroom run has
not saved one yet. Prints each page's median and 95th-percentile seconds per niceness.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from alexnet_explorer.events import Progress
from alexnet_explorer import launcher
from alexnet_explorer.config import PRESETS
from alexnet_explorer.runs import RUNS_ENV

from .common import load_average, percentile
from .serving import REPO, wait_until_over

PAGES = {"Train": "app_pages/train.py", "Filters": "app_pages/filters.py", "Classify": "app_pages/classify.py"}


def first_run_seconds(script: str) -> float:
    """Seconds for a fresh session's first run of a page."""
    app = AppTest.from_file(str(REPO / script), default_timeout=600)
    tic = time.perf_counter()
    app.run()
    if app.exception:
        raise SystemExit(f"{script} failed: {app.exception[0].message}")
    return time.perf_counter() - tic


def page_seconds(script: str, repeats: int) -> list[float]:
    """Seconds for ``repeats`` fresh sessions' first runs of a page, after one untimed run that fills the caches."""
    first_run_seconds(script)
    return [first_run_seconds(script) for _ in range(repeats)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--niceness", type=int, nargs="+", default=[0, launcher.TRAINING_NICENESS], choices=range(20),
                        metavar="0-19")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--preset", default="classroom", choices=sorted(PRESETS))
    args = parser.parse_args(argv)
    print(load_average())
    print(f"{'niceness':>8} " + " ".join(f"{page + ' median / p95 s':>25}" for page in PAGES))
    with tempfile.TemporaryDirectory() as folder:
        runs = Path(folder)
        os.environ[RUNS_ENV] = str(runs)
        if wait_until_over(launcher.launch(PRESETS["smoke"].replace(device="cpu"), "smoke", runs), 600) != "finished":
            raise SystemExit("the smoke run did not finish")
        for niceness in args.niceness:
            # Read when this process starts the run below: nothing else trains, so it starts at once, not by the
            # queue keeper (a process of its own, at the app's niceness).
            launcher.TRAINING_NICENESS = niceness
            run = launcher.launch(PRESETS[args.preset].replace(device="cpu", epochs=50), args.preset, runs)
            try:
                while not any(isinstance(e, Progress) for e in run.read_events()):
                    if not launcher.active_runs(runs):
                        raise SystemExit(f"the {args.preset} run ended early: {run.read_status()}")
                    time.sleep(0.5)
                times = [page_seconds(script, args.repeats) for script in PAGES.values()]
                print(f"{niceness:>8} " + " ".join(f"{statistics.median(t):>14.2f} / {percentile(t, 0.95):>6.2f} s"
                                                   for t in times), flush=True)
            finally:
                launcher.stop(run)
                wait_until_over(run, 120)
                launcher.delete(run)  # the next niceness draws the same run history
    print(load_average())


if __name__ == "__main__":
    main()
