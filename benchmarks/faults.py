"""What a class can break, probed against a live ``streamlit run`` with a classroom of runs: each probe does what a
student, a full disk or a killed process would do, then looks at what the package and the pages answer.

    python -m benchmarks.faults [--data-root DIR]

Prints one row a probe (probe, expected, observed) and the machine; docs/classroom.md keeps its last run.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from alexnet_explorer import classroom, launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV
from alexnet_explorer.preprocess import PictureError, open_picture
from alexnet_explorer.runs import RunDir
from benchmarks.common import load_average, peak_rss_mib
from benchmarks.serving import REPO, app_server, chromium, wait_until_over

TINY = PRESETS["smoke"].replace(epochs=2, limit_train=64, limit_test=32, batch_size=16, device="cpu")
STUDENT = classroom.Person("student", instructor=False, address="10.0.0.7")
HOSTILE = "x` ![](http://evil.example/p.png) `y"
Probe = Callable[[], str]


def cli(*args: str, patch: str = "") -> subprocess.CompletedProcess:
    """The command line in a process of its own, after ``patch`` (Python run first, e.g. a disk that is full)."""
    code = f"import sys\n{patch}\nfrom alexnet_explorer.__main__ import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, timeout=600)


def full_disk(runs: Path) -> str:
    folder = runs / "full-disk"
    patch = ("import errno, torch\ndef full(*a, **k): raise OSError(errno.ENOSPC, 'No space left on device')\n"
             "torch.save = full")
    done = cli("train", "--preset", "smoke", "--device", "cpu", "--limit-train", "64", "--limit-test", "32",
               "--run-dir", str(folder), patch=patch)
    status = RunDir(folder).read_status()
    return f"exit {done.returncode}; status {status['state']}: {status.get('error', '')[:60]}…"


def disk_refusal(runs: Path) -> str:
    real = launcher.shutil.disk_usage
    launcher.shutil.disk_usage = lambda path: type("Usage", (), {"free": 10 * 2**20})()
    try:
        return launcher.start_refusal(TINY, classroom.TERMINAL, runs) or "accepted"
    finally:
        launcher.shutil.disk_usage = real


def hostile_rename(runs: Path, page: Page, url: str) -> str:
    run = launcher.launch(TINY, "renamed", runs)
    wait_until_over(run, 600)
    try:
        launcher.rename(run, HOSTILE, classroom.TERMINAL)
        answer = "accepted"
    except (ValueError, launcher.RunRefused) as refusal:
        answer = f"refused ({str(refusal)[:40]}…)"
    run.about_path.write_text(json.dumps({"title": HOSTILE}))  # as if an older version had taken it
    outside = []
    page.on("request", lambda request: outside.append(request.url) if "127.0.0.1" not in request.url else None)
    page.goto(f"{url}/train")
    page.get_by_text(run.name).first.wait_for(timeout=60_000)
    images = page.locator("img[src*='evil']").count()
    return f"rename {answer}; the page shows {run.name}; {images} outside images, {len(outside)} outside requests"


def look_alike(runs: Path) -> str:
    RunDir.create(runs, TINY, label="classroom").write_status("finished")
    answers = []
    for name in ("classroom\u200b", "cl\u0430ssroom", "CLASSROOM"):
        other = RunDir.create(runs, TINY, label="other")
        other.write_status("finished")
        try:
            other.rename(name)
            answers.append("accepted")
        except ValueError:
            answers.append("refused")
        launcher.delete(other)
    return ", ".join(answers)


def heavy_upload(runs: Path) -> str:
    buffer = io.BytesIO()
    Image.new("I;16", (6_300, 6_300)).save(buffer, format="PNG")
    before, started = peak_rss_mib(), time.perf_counter()
    try:
        open_picture(buffer.getvalue(), "plain.png")
        answer = "decoded"
    except PictureError as refusal:
        answer = f"refused ({str(refusal)[:30]}…)"
    return (f"{len(buffer.getvalue()) // 1024} kB file {answer} in {time.perf_counter() - started:.2f} s, "
            f"+{peak_rss_mib() - before:.0f} MB peak")


def damaged_files(runs: Path, page: Page, url: str) -> str:
    broken = launcher.launch(TINY, "damaged", runs)
    wait_until_over(broken, 600)
    broken.status_path.write_text("null")
    with open(broken.metrics_path, "a") as f:
        f.write('5\n{"x": 1}\n')
    pages = []
    for path in ("", "train", "filters", "classify"):
        page.goto(f"{url}/{path}")
        page.wait_for_timeout(4000)
        page.get_by_test_id("stApp").wait_for(timeout=60_000)
        failed = page.get_by_text("Something went wrong").count() + page.get_by_test_id("stException").count()
        pages.append(f"/{path} {'broken' if failed else 'fine'}")
    return f"{processes.refresh_status(broken)['state']} (damaged); " + ", ".join(pages)


def damaged_classroom(runs: Path) -> str:
    (runs / classroom.SETTINGS_FILE).write_text("{broken")
    answer = launcher.start_refusal(TINY, STUDENT, runs) or "accepted"
    classroom.write_settings(runs, classroom.Settings(), classroom.TERMINAL)
    return f"student: {answer[:70]}…"


def killed_keeper(runs: Path) -> str:
    first = launcher.launch(TINY.replace(epochs=3, limit_train=256), "first", runs)
    second = launcher.launch(TINY, "second", runs)
    keeper = next((int(p.name) for p in Path("/proc").glob("[0-9]*") if _is_keeper(p, runs)), None)
    if keeper:
        os.kill(keeper, signal.SIGKILL)
    wait_until_over(first, 600)
    ended = time.monotonic()
    while processes.refresh_status(second)["state"] == "queued" and time.monotonic() - ended < 120:
        time.sleep(0.2)
    state = processes.refresh_status(second)["state"]
    wait_until_over(second, 600)
    return f"keeper {'killed' if keeper else 'not found'}; next run {state} {time.monotonic() - ended:.1f} s later"


def _is_keeper(proc: Path, runs: Path) -> bool:
    try:
        args = (proc / "cmdline").read_bytes().decode().split("\0")
    except (OSError, UnicodeDecodeError):
        return False
    return args[1:4] == ["-m", "alexnet_explorer", "queue"] and str(runs.resolve()) in args


def stuck_lock(runs: Path) -> str:
    holder = subprocess.Popen([sys.executable, "-c", (
        f"import fcntl, os, time\nfd = os.open({str(runs / processes.LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(120)\n")], stdout=subprocess.PIPE,
        text=True)
    holder.stdout.readline()
    os.kill(holder.pid, signal.SIGSTOP)
    started = time.monotonic()
    try:
        launcher.launch(TINY, "blocked", runs)
        answer = "launched"
    except launcher.RunRefused as refusal:
        answer = f"refused ({str(refusal)[:45]}…)"
    finally:
        holder.kill()
        holder.wait()
    return f"{answer} after {time.monotonic() - started:.1f} s"


def second_window(runs: Path) -> str:
    classroom.write_settings(runs, classroom.Settings(classroom.Caps(max_active=1)), classroom.TERMINAL)
    mine = RunDir.create(runs, TINY, owner="student", address=STUDENT.address)
    mine.write_status("queued", order=time.time())
    private = classroom.Person("private-window", instructor=False, address=STUDENT.address)
    answer = launcher.start_refusal(TINY, private, runs) or "accepted"
    launcher.cancel(mine)  # a run that never started disappears
    classroom.write_settings(runs, classroom.Settings(), classroom.TERMINAL)
    return f"new window: {answer[:60]}…"


def class_run_delete(runs: Path) -> str:
    run = RunDir.create(runs, TINY, owner="student")
    run.write_status("finished")
    classroom.write_settings(runs, classroom.Settings(class_run=run.name), classroom.TERMINAL)
    try:
        launcher.delete(run, STUDENT)
        return "deleted"
    except launcher.RunRefused as refusal:
        return f"refused ({refusal})"
    finally:
        classroom.write_settings(runs, classroom.Settings(), classroom.TERMINAL)


def elsewhere(runs: Path) -> str:
    run = RunDir.create(runs, TINY, label="on another machine")
    run.write_status("running", pid=4_000_000, host="gpu-node-2")
    return processes.refresh_status(run)["state"]


def impossible_settings(runs: Path) -> str:
    answers = []
    for flag, value in (("--lr", "inf"), ("--weight-decay", "nan"), ("--seed", "99999999999999999999")):
        done = cli("train", "--preset", "smoke", "--dry-run", flag, value)
        said = re.findall(r"error: (.*)", done.stderr)
        answers.append(f"{flag} {value}: exit {done.returncode}, {said[-1] if said else done.stderr[-60:]!r}")
    config = RunDir.create(runs, TINY, label="typed by hand")
    config.config_path.write_text(json.dumps({**TINY.to_dict(), "epochs": 1.5}))
    try:
        config.read_config()
        answers.append("epochs 1.5: read")
    except ValueError as error:
        answers.append(f"epochs 1.5: {str(error).split('(')[-1].rstrip(')')}")
    return "; ".join(answers)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", help="Fashion-MNIST (else the usual places)")
    args = parser.parse_args(argv)
    if args.data_root:
        os.environ[DATA_ENV] = args.data_root
    runs = Path(tempfile.mkdtemp(prefix="faults-")) / "runs"
    runs.mkdir()
    os.environ["ALEXNET_EXPLORER_RUNS"] = str(runs)
    rows = []
    with app_server(runs, runs.parent / "server.log") as (url, _), sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page()
        probes: list[tuple[str, str, Probe]] = [
            ("a full disk while training", "failed, the reason in words", lambda: full_disk(runs)),
            ("a start that does not fit on the disk", "refused before it begins", lambda: disk_refusal(runs)),
            ("a hostile run name", "refused; shown as text, nothing fetched",
             lambda: hostile_rename(runs, page, url)),
            ("look-alike names (zero-width, Cyrillic, capitals)", "refused", lambda: look_alike(runs)),
            ("an 80 kB PNG of 6300×6300 16-bit pixels", "refused before decoding", lambda: heavy_upload(runs)),
            ("status.json null, metrics lines 5 and {\"x\": 1}", "that run damaged, every page fine",
             lambda: damaged_files(runs, page, url)),
            ("classroom.json damaged", "students refused, in words", lambda: damaged_classroom(runs)),
            ("kill -9 of the queue keeper", "the next run starts within seconds", lambda: killed_keeper(runs)),
            ("a launch-lock holder stopped (SIGSTOP)", "refused within seconds", lambda: stuck_lock(runs)),
            ("a private window past a per-student limit", "refused", lambda: second_window(runs)),
            ("a student deletes the class run", "refused", lambda: class_run_delete(runs)),
            ("a run on another machine, pid unknown here", "running", lambda: elsewhere(runs)),
            ("impossible settings", "refused in words", lambda: impossible_settings(runs)),
        ]
        for name, expected, probe in probes:
            try:
                observed = probe()
            except Exception as error:  # a probe that breaks is a row of the table, not the end of the report
                observed = f"the probe raised {type(error).__name__}: {error}"
            rows.append((name, expected, observed))
            print(f"| {name} | {expected} | {observed} |", flush=True)
        browser.close()
    print(f"\n{len(rows)} probes; {sys.platform}, {os.cpu_count()} cores; {load_average()}")


if __name__ == "__main__":
    main()
