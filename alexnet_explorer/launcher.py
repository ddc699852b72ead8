"""Launching, queueing, resuming, stopping and deleting training runs: one run at a time on each piece of hardware,
the others waiting in line in the runs folder (the order is schedule.py's), started by a launch or resume that finds
their hardware free, or by the queue keeper, a small process that lives while the queue is not empty, with or
without a browser open."""
from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import classroom, schedule
from .classroom import TERMINAL, Person
from .config import RunConfig
from .devices import ALL_GPUS, claims, hardware_units, process_count, resolve_device
from .processes import (
    ACTIVE_STATES,
    LOG_MARKER,
    NEVER_STARTED,
    ON_DEVICE,
    LockBusy,
    RESUMABLE_STATES,
    become_keeper,
    launch_lock,
    refresh_status,
)
from .runs import Launch, RunDir, checkpoint_bytes, list_runs, runs_root

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
KEEPER_POLL_SECONDS = 1.0
KEEPER_LOG = "queue.log"
DISK_MARGIN = 50 * 2**20  # conv1 snapshots, metrics, the evaluation: a few MB a run, with room to spare
# Runs started from the app train below its server: a class opening its pages at once asks for more CPU than training
# at equal priority would leave the server, and gets it; training has it back once the pages are drawn
# (docs/benchmarks.md, "A class on one server").
TRAINING_NICENESS = 10


class RunRefused(RuntimeError):
    """A launch or action on a run is refused; the message says why."""


def active_runs(root: Path | None = None, lock_held: bool = False) -> list[RunDir]:
    """Runs queued, starting or training right now (their process checked), newest first."""
    return [run for run in list_runs(root) if refresh_status(run, lock_held)["state"] in ACTIVE_STATES]


def training_runs(root: Path | None = None, lock_held: bool = False) -> list[RunDir]:
    """Runs starting or training right now, on their hardware (their process checked), newest first."""
    return [run for run in list_runs(root) if refresh_status(run, lock_held)["state"] in ON_DEVICE]


def queued_runs(root: Path | None = None) -> list[RunDir]:
    """Runs waiting in line, first in line first."""
    waiting = [(run, run.read_status()) for run in list_runs(root)]
    waiting = [(queue_order(status), run.name, run) for run, status in waiting if status.get("state") == "queued"]
    return [run for *_, run in sorted(waiting)]


def queue_order(status: dict) -> float:
    """A queued run's key in line: the order it was given, else (queued by an older version) when it was queued."""
    return status.get("order", status.get("updated", 0.0))


def occupied_units(run: RunDir) -> frozenset[str]:
    """The hardware a starting or training run holds: what the launcher gave it, else (a run started from a
    terminal) the first choice of its device."""
    launch = run.read_launch()
    if launch and launch.hardware:
        return frozenset(launch.hardware)
    try:
        options = claims(run.read_config().device, hardware_units())
    except ValueError:
        return frozenset()
    return options[0] if options else frozenset()


def run_on_device(device: str, root: Path | None = None) -> RunDir | None:
    """A run starting or training on hardware a run on ``device`` would use, if any."""
    wanted = frozenset().union(*claims(device, hardware_units()))
    return next((run for run in training_runs(root) if occupied_units(run) & wanted), None)


def waiting_line(queue: list[RunDir]) -> list[schedule.Waiting]:
    """The queue as the schedule sees it: each run's ways to occupy this machine's hardware."""
    units = hardware_units()
    line = []
    for run in queue:
        try:
            options = tuple(claims(run.read_config().device, units))
        except ValueError:
            options = ()
        line.append(schedule.Waiting(run.name, options))
    return line


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """The launch lock, whose holder stuck for too long is a refusal in words (nothing was started or changed)."""
    try:
        with launch_lock(root):
            yield
    except LockBusy as busy:
        raise RunRefused(str(busy)) from busy


def launch(config: RunConfig, label: str = "run", root: Path | None = None, by: Person = TERMINAL) -> RunDir:
    """Create a run folder and queue it: it trains in a separate process at once if its hardware is free, else
    when its turn comes. RunRefused for a device this machine lacks or a run the instructor's limits forbid."""
    root = Path(root or runs_root())
    with _locked(root):
        _check_may_start(config, root, by)
        run = RunDir.create(root, config, label, owner=by.id, address=by.address)
        _enqueue(run)
        _dispatch(root)
        _keep_queue_moving(root)
    return run


def resume(run: RunDir, by: Person = TERMINAL) -> None:
    """Queue a stopped or failed run again: it continues from its last checkpoint (from scratch if it has none)."""
    root = run.path.parent
    _check_may_manage(run, by, "resume")
    if not classroom.may_resume(by, run):
        raise RunRefused(f"the instructor stopped run {run.title}: only the instructor can resume it")
    with _locked(root):
        state = refresh_status(run, lock_held=True).get("state")
        if state not in RESUMABLE_STATES:
            raise RunRefused(f"run {run.title} is {state}: only a stopped or failed run can be resumed")
        _check_may_start(run.read_config(), root, by)
        run.hold(False)
        _enqueue(run)
        _dispatch(root)
        _keep_queue_moving(root)


def _enqueue(run: RunDir) -> None:
    before = run.read_status()
    run.forget_launch()
    # A resumed run keeps the status it had (a failure's reason among it), for a cancel to put back.
    resumed = {"before": before} if before.get("state") in RESUMABLE_STATES else {}
    run.write_status("queued", order=time.time(), **resumed)


def start_refusal(config: RunConfig, by: Person, root: Path | None = None) -> str | None:
    """Why a run of this configuration started by this person now would be refused (a device this machine lacks, the
    instructor's limits), else None: for a page to say so before Start is pressed."""
    try:
        _check_may_start(config, Path(root or runs_root()), by, lock_held=False)
    except RunRefused as refusal:
        return str(refusal)
    return None


def _check_may_start(config: RunConfig, root: Path, by: Person, lock_held: bool = True) -> None:
    """RunRefused for a device this machine lacks, or a student's run beyond the instructor's limits."""
    try:
        resolve_device(config.device)
    except ValueError as error:
        raise RunRefused(str(error)) from error
    options = claims(config.device, hardware_units())
    if not options:
        raise RunRefused(f"device {config.device!r} is not available on this machine")
    _check_disk(config, root)
    if by.instructor:
        return
    settings = classroom.read_settings(root)
    if settings.damaged:
        raise RunRefused(f"the class's settings are damaged ({settings.damaged}): the instructor must save the "
                         "limits again before students start runs")
    mine = sum(by.started(run) for run in active_runs(root, lock_held))
    try:
        settings.caps.check(config, "cpu" if options[0] == {"cpu"} else "accelerator", mine)
    except ValueError as error:
        raise RunRefused(str(error)) from error


def _check_disk(config: RunConfig, root: Path) -> None:
    """RunRefused when the runs folder's disk cannot hold the run's checkpoint while it is replaced (twice its size)."""
    need = 2 * checkpoint_bytes(config) + DISK_MARGIN
    try:
        free = shutil.disk_usage(root if root.exists() else root.parent).free
    except OSError:
        return  # nothing to measure (a folder not made yet): the run's own writes will say
    if free < need:
        raise RunRefused(f"the disk holding {root} has {free / 2**20:,.0f} MB free and this run needs about "
                         f"{need / 2**20:,.0f} MB: delete runs you no longer need first")


def _check_may_manage(run: RunDir, by: Person, action: str) -> None:
    if not classroom.may_manage(by, run):
        raise RunRefused(f"only the instructor or the browser that started run {run.title} can {action} it")


def _dispatch(root: Path) -> None:
    """Start every queued run whose hardware is free, in queue order (the launch lock held)."""
    busy = set().union(*(occupied_units(run) for run in training_runs(root, lock_held=True)))
    queue = queued_runs(root)
    line = waiting_line(queue)
    for run, waiting in zip(queue, line):
        if not waiting.options:  # e.g. a GPU run in a runs folder moved to a machine without one
            run.write_status("failed", error=_cannot_run_here(run))
    starts = schedule.plan([waiting for waiting in line if waiting.options], busy)
    for run in queue:
        if run.name in starts:
            _spawn(run, starts[run.name])


def _cannot_run_here(run: RunDir) -> str:
    try:
        return f"device {run.read_config().device!r} is not available on this machine"
    except ValueError as error:
        return str(error)


def training_command(run: RunDir) -> list[str]:
    """``python -m alexnet_explorer train --run-dir DIR --resume --niceness=N``, under torchrun with a process per GPU
    for a run on every GPU (its liveness is checked on the same command line: torchrun's names the run folder too)."""
    command = ["-m", "alexnet_explorer", "train", "--run-dir", str(run.path.resolve()), "--resume",
               f"--niceness={TRAINING_NICENESS}"]
    if run.read_config().device == ALL_GPUS:
        command = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={process_count(ALL_GPUS)}",
                   *command]
    return [sys.executable, *command]


def _environment(hardware: frozenset[str] | None = None, device: str = "") -> dict[str, str]:
    """This process's environment with the package importable; a run that may take any GPU sees only the one it
    was given (its 'auto' then means that GPU)."""
    env = dict(os.environ)
    env.pop(classroom.PASSCODE_ENV, None)  # training and the queue's keeper have no use for it
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    gpus = [unit for unit in hardware_units() if unit.startswith("cuda:")]
    if hardware and device in ("auto", "cuda") and len(gpus) > 1:
        [unit] = hardware
        visible = env.get("CUDA_VISIBLE_DEVICES", ",".join(str(i) for i in range(len(gpus)))).split(",")
        env["CUDA_VISIBLE_DEVICES"] = visible[int(unit.split(":")[1])]
    return env


def _spawn(run: RunDir, hardware: frozenset[str]) -> None:
    """Start the run's training command detached on its hardware, logging to DIR/train.log; a process that cannot
    start leaves the run failed."""
    run.write_status("starting")
    command = training_command(run)
    try:
        with open(run.log_path, "ab") as log:
            log.write(f"{LOG_MARKER} {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(command)}\n".encode())
            log.flush()
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env=_environment(hardware, run.read_config().device), start_new_session=True)
    except OSError as error:
        run.write_status("failed", error=f"{NEVER_STARTED} ({error})")
        return
    run.write_launch(Launch(process.pid, time.time(), tuple(sorted(hardware))))
    _reap(process, f"reap-{run.name}")


def _reap(process: subprocess.Popen, name: str) -> None:
    # Reap the child when it exits so it does not linger as a zombie of this (long-lived) process.
    threading.Thread(target=process.wait, name=name, daemon=True).start()


def start_next(root: Path | None = None) -> None:
    """Start the queued runs whose hardware is free now, and keep a keeper for the rest: what a training process
    does as it ends, so that the queue moves on at once with no page open and no keeper alive."""
    root = Path(root or runs_root())
    if not queued_runs(root):
        return
    with _locked(root):
        _dispatch(root)
        _keep_queue_moving(root)


def keep_queue_moving(root: Path | None = None) -> None:
    """Make sure queued runs start by themselves: start a queue keeper unless one is at work or nothing waits
    (after a restart of the app, or when a keeper was killed)."""
    root = Path(root or runs_root())
    if not queued_runs(root):  # the usual case, checked without the lock: a read-only runs folder can be shown
        return
    with _locked(root):
        _keep_queue_moving(root)


def _keep_queue_moving(root: Path) -> None:
    if not queued_runs(root):
        return
    # The keeper's lock is taken here and handed to the new keeper: while it imports torch (seconds), every page
    # that looks finds the lock held and starts no second one.
    keeper = become_keeper(root)
    if keeper is None:  # one is at work
        return
    command = [sys.executable, "-m", "alexnet_explorer", "queue", "--runs", str(root.resolve()),
               f"--keeper-lock-fd={keeper}"]
    try:
        with open(root / KEEPER_LOG, "ab") as log:
            log.write(f"=== queue keeper {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(command)}\n".encode())
            log.flush()
            _reap(subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   env=_environment(), start_new_session=True, pass_fds=(keeper,)),
                  "reap-queue-keeper")
    finally:
        os.close(keeper)  # the keeper's copy holds the lock from now on


def serve_queue(root: Path | None = None, poll_seconds: float = KEEPER_POLL_SECONDS,
                keeper: int | None = None) -> None:
    """Be the queue keeper: start queued runs as their hardware frees, until none waits (one keeper per runs
    folder: this returns at once when another is at work). ``keeper``: the keeper's lock, already taken by the
    process that started this one."""
    root = Path(root or runs_root())
    keeper = become_keeper(root) if keeper is None else keeper
    if keeper is None:
        return
    try:
        while True:
            with contextlib.suppress(LockBusy):  # a stuck holder: look again at the next poll
                with launch_lock(root):
                    _dispatch(root)
                    if not queued_runs(root):
                        # Leave while holding the launch lock: whoever queues a run next finds no keeper, starts one.
                        os.close(keeper)
                        keeper = None
                        return
            time.sleep(poll_seconds)
    finally:
        if keeper is not None:
            os.close(keeper)


def stop(run: RunDir, by: Person = TERMINAL) -> None:
    """Ask a training run to stop at its next batch: it saves a checkpoint and ends as 'stopped'."""
    _check_may_manage(run, by, "stop")
    state = refresh_status(run).get("state")
    if state != "running":
        raise RunRefused(f"run {run.title} is {state}, not training: there is nothing to stop"
                         + (" yet (it is still starting)" if state == "starting" else "")
                         + (": cancel it instead" if state == "queued" else ""))
    if classroom.holds(by, run):
        run.hold(True)
    run.stop_path.touch()


def is_stopping(run: RunDir) -> bool:
    """Whether a stop was asked for and the run has not reached its next batch yet."""
    return run.stop_path.exists()


def cancel(run: RunDir, by: Person = TERMINAL) -> None:
    """Take a run out of the queue before it starts: a new run disappears, a resumed one is left as it was."""
    _check_may_manage(run, by, "cancel")
    with _locked(run.path.parent):
        _cancel(run, by)


def _cancel(run: RunDir, by: Person) -> None:
    state = run.read_status().get("state")
    if state != "queued":
        raise RunRefused(f"run {run.title} is {state}, not waiting in the queue: only a queued run can be cancelled")
    if classroom.holds(by, run):
        run.hold(True)
    before = run.read_status().get("before")
    if before:
        run.write_status(**before)
    elif run.read_events() or run.has_checkpoint():
        run.write_status("stopped")
    else:
        run.remove()


def clear_queue(root: Path | None = None, by: Person = TERMINAL) -> int:
    """Cancel every queued run (the instructor only); returns how many."""
    root = Path(root or runs_root())
    if not by.instructor:
        raise RunRefused("only the instructor can clear the queue")
    with _locked(root):
        queue = queued_runs(root)
        for run in queue:
            _cancel(run, by)
    return len(queue)


def move_in_queue(run: RunDir, places: int, by: Person = TERMINAL) -> None:
    """Move a queued run ``places`` earlier (negative) or later in line (the instructor only)."""
    if not by.instructor:
        raise RunRefused("only the instructor can reorder the queue")
    root = run.path.parent
    with _locked(root):
        queue = queued_runs(root)
        names = [queued.name for queued in queue]
        if run.name not in names:
            raise RunRefused(f"run {run.title} is not waiting in the queue")
        old = names.index(run.name)
        new = min(max(old + places, 0), len(queue) - 1)
        orders = [queue_order(queued.read_status()) for queued in queue]
        queue.insert(new, queue.pop(old))
        for queued, order in zip(queue, sorted(orders)):  # the same order keys, handed out in the new order
            if queued.read_status().get("order") != order:
                queued.write_status("queued", order=order)


def rename(run: RunDir, title: str, by: Person = TERMINAL) -> None:
    """Give a run another short name; RunRefused when it is not this person's run or the name cannot be used."""
    _check_may_manage(run, by, "rename")
    with _locked(run.path.parent):  # two runs renamed at once do not both take a free name
        try:
            run.rename(title)
        except ValueError as error:
            raise RunRefused(str(error)) from error


def delete(run: RunDir, by: Person = TERMINAL) -> None:
    """Remove a run's folder; a queued, starting or running run is refused, and so is a student deleting the class
    run."""
    _check_may_manage(run, by, "delete")
    if not classroom.may_delete(by, run, classroom.read_settings(run.path.parent)):
        raise RunRefused(f"run {run.title} is the class run: only the instructor can delete it")
    with _locked(run.path.parent):
        state = refresh_status(run, lock_held=True).get("state")
        if state in ACTIVE_STATES:
            raise RunRefused(f"run {run.title} is {state}: "
                             + ("cancel" if state == "queued" else "stop") + " it before deleting it")
        run.remove()
