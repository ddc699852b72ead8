"""Training processes: launch, stop, resume and liveness of runs, at most one training run per device."""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import RunConfig
from .runs import RunDir, runs_root
from .train import build_model, kept_heap, place, resolve_device, train_step

ACTIVE_STATES = ("queued", "running")
RESUMABLE_STATES = ("stopped", "failed")
LOCK_NAME = ".launch.lock"
PROCESS_FILE = "process.json"
LOG_MARKER = "=== training process launched"
DIED = "the training process ended unexpectedly"
NEVER_STARTED = "the training process never started"
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
FASHION_MNIST_SIZES = (60_000, 10_000)  # train and test images


class RunRefused(RuntimeError):
    """A launch or action on a run is refused; the message says why, ``active`` is the run in the way."""

    def __init__(self, message: str, active: RunDir | None = None):
        super().__init__(message)
        self.active = active


# --- liveness -------------------------------------------------------------------------------------------------

def process_alive(pid: int, run: RunDir) -> bool:
    """Whether ``pid`` is a live training process of this run: not gone, not a zombie, not a reused pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, but another user's: /proc below tells whether it is ours
    proc = Path(f"/proc/{pid}")
    if not proc.is_dir():
        return True  # no /proc (macOS): the signal check is all there is
    try:
        args = [a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
        cwd = Path(os.readlink(proc / "cwd"))
    except OSError:
        return False
    # A zombie has an empty command line; a reused pid runs something else or trains another folder.
    folder = _run_dir_argument(args)
    return "alexnet_explorer" in args and folder is not None and (cwd / folder).resolve() == run.path.resolve()


def _run_dir_argument(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--run-dir" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--run-dir="):
            return arg.split("=", 1)[1]
    return None


@contextmanager
def launch_lock(root: Path) -> Iterator[None]:
    """Hold the runs folder's launch lock: checks and launches inside it do not interleave across processes."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def launch_in_progress(root: Path) -> bool:
    """Whether some process holds the launch lock right now (its new run may not have a pid yet)."""
    try:
        fd = os.open(root / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def launched_pid(run: RunDir) -> int | None:
    """The pid the launcher started for this run, if any."""
    try:
        return int(json.loads((run.path / PROCESS_FILE).read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refresh_status(run: RunDir, lock_held: bool = False) -> dict:
    """The run's status; one that claims to be queued or running without a live process becomes failed on disk."""
    status = run.read_status()
    if status.get("state") not in ACTIVE_STATES:
        return status
    pid = status.get("pid") or launched_pid(run)
    if pid and process_alive(pid, run):
        return status
    if not lock_held and launch_in_progress(run.path.parent):
        return status
    # The process writes its last status before it exits, so read again now that it is known to be gone.
    status = run.read_status()
    if status.get("state") in ACTIVE_STATES:
        reason = DIED if pid else NEVER_STARTED
        logged = logged_error(run)
        run.write_status("failed", error=f"{reason}: {logged}" if logged else reason, pid=pid,
                         device=status.get("device"))
        status = run.read_status()
    return status


def logged_error(run: RunDir) -> str | None:
    """The last error the training process printed to its log (e.g. a refused flag), if any."""
    try:
        log = run.log_path.read_text(errors="replace")
    except OSError:
        return None
    # Only the latest process's part of the log: an earlier session's error is not this one's.
    lines = log.rsplit(LOG_MARKER, 1)[-1].splitlines()
    errors = [line.split("error:", 1)[1].strip() for line in lines if "error:" in line]
    return errors[-1] if errors else None


# --- runs on disk ---------------------------------------------------------------------------------------------

def list_runs(root: Path | None = None) -> list[RunDir]:
    """Every run folder (one with a config.json) under the runs root, newest first."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda run: (_created(run), run.name), reverse=True)


def _created(run: RunDir) -> float:
    try:
        return run.config_path.stat().st_mtime  # written once, when the run is created
    except OSError:  # deleted meanwhile
        return 0.0


def device_key(device: str) -> str:
    """A device name as the hardware it trains on ('auto' and 'cuda' become e.g. 'cuda:0')."""
    try:
        resolved = resolve_device(device)
    except ValueError:
        return device
    return f"cuda:{resolved.index or 0}" if resolved.type == "cuda" else resolved.type


def active_runs(root: Path | None = None, lock_held: bool = False) -> list[RunDir]:
    """Runs queued or training right now (their process checked), newest first."""
    return [run for run in list_runs(root) if refresh_status(run, lock_held)["state"] in ACTIVE_STATES]


def run_on_device(device: str, root: Path | None = None, lock_held: bool = False) -> RunDir | None:
    """The run queued or training on the same hardware as ``device``, if any."""
    key = device_key(device)
    for run in active_runs(root, lock_held):
        try:
            if device_key(run.read_config().device) == key:
                return run
        except ValueError:
            continue
    return None


# --- launching and stopping -----------------------------------------------------------------------------------

def launch(config: RunConfig, label: str = "run", root: Path | None = None) -> RunDir:
    """Create a run folder and train it in a separate process; RunRefused if its device is busy."""
    root = Path(root or runs_root())
    with launch_lock(root):
        _refuse_unless_device_free(config.device, root)
        run = RunDir.create(root, config, label)
        _spawn(run)
    return run


def resume(run: RunDir) -> None:
    """Continue a stopped or failed run from its last checkpoint (from scratch if it has none) in a new process."""
    root = run.path.parent
    with launch_lock(root):
        state = refresh_status(run, lock_held=True).get("state")
        if state not in RESUMABLE_STATES:
            raise RunRefused(f"run {run.name} is {state}: only a stopped or failed run can be resumed")
        _refuse_unless_device_free(run.read_config().device, root)
        run.write_status("queued")
        _spawn(run)


def _refuse_unless_device_free(device: str, root: Path) -> None:
    try:
        resolve_device(device)
    except ValueError as error:
        raise RunRefused(str(error)) from error
    busy = run_on_device(device, root, lock_held=True)
    if busy is not None:
        raise RunRefused(f"run {busy.name} is already training on {device_key(device)}; one run at a time per "
                         f"device: wait for it to end or stop it first", active=busy)


def _spawn(run: RunDir) -> None:
    """Start ``python -m alexnet_explorer train --run-dir DIR --resume`` detached, logging to DIR/train.log."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "alexnet_explorer", "train", "--run-dir", str(run.path.resolve()), "--resume"]
    try:
        with open(run.log_path, "ab") as log:
            log.write(f"{LOG_MARKER} {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env=env, start_new_session=True)
    except OSError as error:
        run.write_status("failed", error=f"{NEVER_STARTED} ({error})")
        raise RunRefused(f"the training process could not start ({error})") from error
    (run.path / PROCESS_FILE).write_text(json.dumps({"pid": process.pid, "launched": time.time()}))
    # Reap the child when it exits so it does not linger as a zombie of this (long-lived) process.
    threading.Thread(target=process.wait, name=f"reap-{run.name}", daemon=True).start()


def stop(run: RunDir) -> None:
    """Ask a training run to stop at its next batch: it saves a checkpoint and ends as 'stopped'."""
    state = refresh_status(run).get("state")
    if state != "running":
        raise RunRefused(f"run {run.name} is {state}, not training: there is nothing to stop"
                         + (" yet (it is still starting)" if state == "queued" else ""))
    run.stop_path.touch()


def is_stopping(run: RunDir) -> bool:
    """Whether a stop was asked for and the run has not reached its next batch yet."""
    return run.stop_path.exists()


def delete(run: RunDir) -> None:
    """Remove a run's folder; a queued or running run is refused."""
    with launch_lock(run.path.parent):
        state = refresh_status(run, lock_held=True).get("state")
        if state in ACTIVE_STATES:
            raise RunRefused(f"run {run.name} is {state}: stop it before deleting it", active=run)
        shutil.rmtree(run.path)


# --- history --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunOverview:
    """What the run history shows about one run."""

    run: RunDir
    state: str
    config: RunConfig | None
    best_test_acc: float | None
    seconds: float
    error: str | None


def training_seconds(events: list[dict]) -> float:
    """Wall time the run spent training, over all of its sessions (each resume restarts the clock)."""
    total = last = 0.0
    for event in events:
        if event["kind"] == "started":
            total, last = total + last, 0.0
        elif "elapsed" in event:
            last = event["elapsed"]
    return total + last


def overview(run: RunDir) -> RunOverview:
    """Status (liveness checked), configuration, best test accuracy and duration of a run."""
    status = refresh_status(run)
    events = run.read_events()
    try:
        config = run.read_config()
    except ValueError:
        config = None
    accs = [e["test_acc"] for e in events if e["kind"] == "epoch"]
    return RunOverview(run, status.get("state", "failed"), config, max(accs) if accs else None,
                       training_seconds(events), status.get("error"))


@dataclass(frozen=True)
class RunProgress:
    """How far a run has come, for a progress bar and a row of numbers."""

    epoch: float
    examples_per_sec: float | None
    elapsed: float
    remaining: float | None
    device: str | None


def progress(events: list[dict], now: float | None = None) -> RunProgress:
    """Progress from a run's metrics; with ``now`` (a run still training) the times are carried forward to now."""
    started, last = None, None
    for event in events:
        if event["kind"] == "started":
            started, last = event, None
        elif event["kind"] in ("progress", "epoch", "ended"):
            last = event
    if started is None:
        return RunProgress(0.0, None, 0.0, None, None)
    epoch = last["epoch"] if last else float(started["start_epoch"])
    speed = last["examples_per_sec"] if last else None
    elapsed = training_seconds(events)
    remaining = None if last is None or last["kind"] == "ended" else last["remaining"]
    # Records come five times per epoch (an epoch can take an hour on a CPU): count on from the last one,
    # unless the last one ended a session and the resumed process has not reported yet.
    if now is not None and not (last and last["kind"] == "ended"):
        since_last = now - started["time"] - (last["elapsed"] if last else 0.0)
        elapsed += since_last
        if remaining is not None:
            remaining = max(0.0, remaining - since_last)
    return RunProgress(epoch, speed, elapsed, remaining, started["device"])


def metrics_csv(events: list[dict]) -> str:
    """A run's progress, epoch and end events as CSV, one row per event."""
    columns = ["kind", "epoch", "train_loss", "train_acc", "test_acc", "examples_per_sec", "elapsed", "remaining"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(e for e in events if e["kind"] in ("progress", "epoch", "ended"))
    return out.getvalue()


# --- estimate -------------------------------------------------------------------------------------------------

# On a CPU, time at most as many pixels as 16 images of 224 px (about a second): a full batch of 256 at 224 px takes
# most of a minute, while small inputs need their full batch, as one of 16 at 67 px runs at a third of the pace.
CPU_TIMING_PIXELS = 16 * 224 * 224


def timing_batch(config: RunConfig) -> int:
    """Batch size to time: the run's own on an accelerator; on a CPU, as much of it as about a second allows."""
    if resolve_device(config.device).type != "cpu":
        return config.batch_size
    return min(config.batch_size, max(1, CPU_TIMING_PIXELS // config.resize**2))


def measure_throughput(config: RunConfig, batch_size: int) -> float:
    """Training images per second of this configuration's network on its device, from two real SGD steps."""
    device = resolve_device(config.device)
    torch.manual_seed(0)
    net = place(build_model(config), device)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)
    x = torch.rand(batch_size, 1, config.resize, config.resize, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    seconds = []
    with kept_heap(device):  # the allocator setting training runs with: without it CPU steps measure slower
        for _ in range(2):
            tic = time.perf_counter()
            train_step(net, optimizer, x, y)[0].item()  # .item() waits for the device to finish the step
            seconds.append(time.perf_counter() - tic)
    # The first step pays for allocations and kernel selection (seconds on a GPU): the second is the pace.
    return batch_size / seconds[1]


def epoch_seconds(config: RunConfig, images_per_sec: float) -> float:
    """Estimated time of one epoch: training at the measured rate, evaluation (forward only) at about 3x it."""
    train_images = min(config.limit_train or FASHION_MNIST_SIZES[0], FASHION_MNIST_SIZES[0])
    test_images = min(config.limit_test or FASHION_MNIST_SIZES[1], FASHION_MNIST_SIZES[1])
    return train_images / images_per_sec + test_images / (3 * images_per_sec)
