"""What watching a run costs it, and whether the Train page's estimate holds.

    python -m benchmarks.viewer_cost --viewers 0 1 5 --cycles 2 --epochs 8   # no viewer, one, five; twice over
    python -m benchmarks.viewer_cost --viewers 1                             # one browser watching throughout

The real app (``streamlit run``, a runs folder of its own) and one run of the preset, launched as the Train page
launches it. Its epochs are cut into ``--cycles`` × as many phases as ``--viewers`` has numbers, taking the numbers
in turn (so a drift in the machine's load falls on every number alike); during each phase that many Chromium pages
(each its own browser context) keep the Train page open on the live run. A number's speed is the median of the
training images/s between the run's progress points that lie wholly inside its phases (the first one of each
phase, when its pages load, is left out; evaluation is excluded from these speeds). The run waits, up to
``--wait-quiet`` seconds, for the machine's 1-minute load average to fall below 1. Before launching, the script computes the
Train page's estimate with the page's own calls (a timed training step, ``estimate.run_seconds``), and at the end
compares it with the run's wall time from the launch to its end.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from alexnet_explorer.events import Ended, EpochEnd, Event, Progress, Started
from alexnet_explorer import estimate, launcher
from alexnet_explorer.config import PRESETS
from alexnet_explorer.history import duration

from .common import interval_speeds, load_average
from .serving import PeakMemory, app_server, chromium, wait_until_over


def phase_of(epoch: float, epochs: int, phases: int) -> int:
    """Which phase an epoch lies in, the run's epochs cut into equal phases."""
    return min(phases - 1, int(epoch / epochs * phases))


def phase_speeds(events: list[dict], epochs: int, phases: int) -> list[list[float]]:
    """Each phase's interval speeds: the intervals wholly inside it, its first one left out."""
    speeds: list[list[float]] = [[] for _ in range(phases)]
    for start, end, speed in interval_speeds(events):
        phase = phase_of(start, epochs, phases)
        if phase == phase_of(end - 1e-9, epochs, phases):
            speeds[phase].append(speed)
    return [phase[1:] for phase in speeds]


def wait_for_quiet(seconds: float, below: float = 1.0) -> None:
    """Wait, at most ``seconds``, for the 1-minute load average to fall below ``below``."""
    deadline = time.monotonic() + seconds
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[0, 1, 5], help="browsers watching, per phase")
    parser.add_argument("--preset", default="classroom", choices=sorted(PRESETS))
    parser.add_argument("--cycles", type=int, default=1, help="times the phases are repeated")
    parser.add_argument("--epochs", type=int, help="the preset's epochs unless given")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--wait-quiet", type=float, default=480.0, help="seconds to wait for a quiet machine")
    args = parser.parse_args(argv)
    config = PRESETS[args.preset].replace(device=args.device, **({"epochs": args.epochs} if args.epochs else {}))
    viewers = args.viewers * args.cycles
    wait_for_quiet(args.wait_quiet)
    print(f"{load_average()}; preset {args.preset}: {config.summary()}; viewers per phase {viewers}")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        runs, log = Path(folder) / "runs", Path(folder) / "streamlit.log"
        with app_server(runs, log) as (url, server_pid), PeakMemory(server_pid) as memory:
            batch = estimate.timing_batch(config)
            speed = estimate.measure_throughput(config, batch)
            estimated = estimate.run_seconds(config, speed)
            print(f"estimate: {duration(estimated)} ({estimated:.0f} s) from {speed:.1f} images/s (batch {batch})")
            browser = chromium(playwright)
            pages = []
            launched = time.time()
            run = launcher.launch(config, label=args.preset, root=runs)
            phases = len(viewers)
            phase = -1
            while launcher.active_runs(runs):
                progress = [e for e in run.read_events() if isinstance(e, (Progress, EpochEnd))]
                now_phase = phase_of(progress[-1].epoch if progress else 0.0, config.epochs, phases)
                if now_phase != phase:
                    phase = now_phase
                    pages = watch(browser, url, pages, viewers[phase])
                    print(f"{time.time() - launched:7.1f} s: phase {phase + 1}, {len(pages)} viewer(s)", flush=True)
                time.sleep(0.5)
            state = wait_until_over(run, 60)
            wall = run.read_status()["updated"] - launched
            browser.close()
        events = run.read_events()
        print(f"run {state}; server peak memory {memory.peak_mib:.0f} MiB; {load_average()}")
        by_viewers: dict[int, list[float]] = {count: [] for count in args.viewers}
        for count, these in zip(viewers, phase_speeds(events, config.epochs, phases)):
            by_viewers[count] += these
        first = by_viewers[args.viewers[0]]
        unwatched = statistics.median(first) if first else None
        print(f"{'viewers':>7} {'intervals':>9} {'images/s (median)':>18} {'ratio':>6}")
        for count, these in by_viewers.items():
            median = statistics.median(these) if these else float("nan")
            ratio = f"{median / unwatched:6.3f}" if unwatched else "     –"
            print(f"{count:>7} {len(these):>9} {median:>18.1f} {ratio}")
        print(f"estimate {estimated:.0f} s vs wall time {wall:.0f} s: {100 * (estimated - wall) / wall:+.1f} %")
        print(wall_time_parts(events, launched, wall))


def wall_time_parts(events: list[Event], launched: float, wall: float) -> str:
    """Where the wall time went: the process's start, training steps, evaluation and saving, the process's exit."""
    started = next(e for e in events if isinstance(e, Started))
    ended = next(e for e in reversed(events) if isinstance(e, Ended))
    training = ended.epoch * started.train_examples / ended.examples_per_sec
    start = started.time - launched
    return (f"wall time {wall:.0f} s: process start {start:.1f} s, training steps {training:.1f} s, evaluation "
            f"and saving {ended.elapsed - training:.1f} s, process exit {wall - start - ended.elapsed:.1f} s")


def watch(browser, url: str, pages: list, count: int) -> list:
    """Open or close Train pages (a browser context each) until ``count`` are watching."""
    while len(pages) > count:
        pages.pop().context.close()
    while len(pages) < count:
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(f"{url}/train")
        page.get_by_text("Live run").first.wait_for(timeout=120_000)
        pages.append(page)
    return pages


if __name__ == "__main__":
    main()
