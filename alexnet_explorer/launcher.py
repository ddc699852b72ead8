"""Launching, resuming, stopping and deleting training runs, at most one training run per device."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from .config import RunConfig
from .devices import ALL_GPUS, device_key, process_count, resolve_device, same_hardware
from .processes import (
    ACTIVE_STATES,
    LOG_MARKER,
    NEVER_STARTED,
    PROCESS_FILE,
    launch_lock,
    refresh_status,
)
from .runs import RunDir, list_runs, runs_root

RESUMABLE_STATES = ("stopped", "failed")
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


class RunRefused(RuntimeError):
    """A launch or action on a run is refused; the message says why, ``active`` is the run in the way."""

    def __init__(self, message: str, active: RunDir | None = None):
        super().__init__(message)
        self.active = active


def active_runs(root: Path | None = None, lock_held: bool = False) -> list[RunDir]:
    """Runs queued or training right now (their process checked), newest first."""
    return [run for run in list_runs(root) if refresh_status(run, lock_held)["state"] in ACTIVE_STATES]


def run_on_device(device: str, root: Path | None = None, lock_held: bool = False) -> RunDir | None:
    """The run queued or training on the same hardware as ``device``, if any."""
    for run in active_runs(root, lock_held):
        try:
            if same_hardware(run.read_config().device, device):
                return run
        except ValueError:
            continue
    return None


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


def training_command(run: RunDir) -> list[str]:
    """``python -m alexnet_explorer train --run-dir DIR --resume``, under torchrun with a process per GPU for a run
    on every GPU (its liveness is checked on the same command line: torchrun's names the run folder too)."""
    command = ["-m", "alexnet_explorer", "train", "--run-dir", str(run.path.resolve()), "--resume"]
    if run.read_config().device == ALL_GPUS:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={process_count(ALL_GPUS)}",
                   *command]
    return [sys.executable, *command]


def _spawn(run: RunDir) -> None:
    """Start the run's training command detached, logging to DIR/train.log."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    command = training_command(run)
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
