"""Training processes on disk: whether a run's process is alive, the runs folder's launch lock, and whether its
queue keeper is at work."""
from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .runs import HOST, RunDir

ACTIVE_STATES = ("queued", "starting", "running")  # not over yet
RESUMABLE_STATES = ("stopped", "failed")  # over, and able to go on from the last checkpoint (or the start)
ON_DEVICE = ("starting", "running")  # holding their hardware (a queued run waits for it, without a process)
LOCK_NAME = ".launch.lock"
KEEPER_LOCK_NAME = ".queue.lock"  # held by the queue keeper process for as long as it runs
LOG_MARKER = "=== training process launched"
# The command line's own "error: …" line (argparse puts its program's name first: "__main__.py: error: …"), or a
# traceback's last line ("OSError: [Errno 28] No space left on device").
ERROR_LINE = re.compile(r"^(?:(?:[^:]*: )?error: (?P<said>.+)|(?P<raised>[A-Za-z_.]*(?:Error|Exception): .+))$")
# How long a launch waits for another to finish: a holder stuck longer (a stopped process) is reported, not waited on.
LOCK_PATIENCE_SECONDS = 10.0
DIED = "the training process ended unexpectedly"
NEVER_STARTED = "the training process never started"
EXEC_GRACE_SECONDS = 10.0


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


def lower_priority(by: int) -> None:
    """Lower every thread of this process ``by`` nice levels (Linux keeps a niceness per thread; threads started
    later take their starter's)."""
    tasks = Path("/proc/self/task")
    for tid in [int(t) for t in os.listdir(tasks)] if tasks.is_dir() else [0]:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + by))
        except ProcessLookupError:
            pass  # a thread that has just ended


def _run_dir_argument(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--run-dir" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--run-dir="):
            return arg.split("=", 1)[1]
    return None


class LockBusy(RuntimeError):
    """Another process has held the runs folder's launch lock for longer than a launch takes."""


@contextmanager
def launch_lock(root: Path, patience: float | None = None) -> Iterator[None]:
    """Hold the runs folder's launch lock: checks and launches inside it do not interleave across processes. A holder
    that keeps it past ``patience`` seconds (LOCK_PATIENCE_SECONDS: stuck, or stopped with SIGSTOP) makes this raise
    LockBusy, not wait."""
    patience = LOCK_PATIENCE_SECONDS if patience is None else patience
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + patience
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockBusy(f"another process has held the runs folder's launch lock for over {patience:.0f} s "
                                   f"({root / LOCK_NAME}): it may be stuck; nothing was started or changed") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def launch_in_progress(root: Path) -> bool:
    """Whether some process holds the launch lock right now (its new run may not have a pid yet)."""
    return _held(root / LOCK_NAME)


def keeper_alive(root: Path) -> bool:
    """Whether a queue keeper process is at work on this runs folder."""
    return _held(root / KEEPER_LOCK_NAME)


def become_keeper(root: Path) -> int | None:
    """Take the keeper's lock for this process's lifetime: its file descriptor, or None when another keeper has it."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / KEEPER_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _held(lock: Path) -> bool:
    """Whether some process holds this lock file's lock right now."""
    try:
        fd = os.open(lock, os.O_RDONLY)
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
    launch = run.read_launch()
    return launch.pid if launch else None


def refresh_status(run: RunDir, lock_held: bool = False) -> dict:
    """The run's status; one that claims to be starting or running without a live process becomes failed on disk."""
    status = run.read_status()
    if status.get("state") not in ON_DEVICE:
        return status
    if status.get("host", HOST) != HOST:
        return status  # its process runs on another machine (a shared runs folder): this one cannot see it
    pid = status.get("pid") or launched_pid(run)
    if pid and (process_alive(pid, run) or _just_launched(run, pid)):
        return status
    if not lock_held and launch_in_progress(run.path.parent):
        return status
    # The process writes its last status before it exits, so read again now that it is known to be gone.
    status = run.read_status()
    if status.get("state") in ON_DEVICE:
        reason = DIED if pid else NEVER_STARTED
        logged = logged_error(run)
        run.write_status("failed", error=f"{reason}: {logged}" if logged else reason, pid=pid,
                         device=status.get("device"))
        status = run.read_status()
    return status


def _just_launched(run: RunDir, pid: int) -> bool:
    """Whether the launcher started this live, non-zombie pid moments ago: until the child has exec'd the training
    command, its command line is still its parent's."""
    launch = run.read_launch()
    if launch is None or launch.pid != pid or time.time() - launch.launched > EXEC_GRACE_SECONDS:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def logged_error(run: RunDir) -> str | None:
    """The last error the training process printed to its log (e.g. a refused flag), if any."""
    try:
        log = run.log_path.read_text(errors="replace")
    except OSError:
        return None
    # Only the latest process's part of the log: an earlier session's error is not this one's.
    lines = log.rsplit(LOG_MARKER, 1)[-1].splitlines()
    errors = [found.group("said") or found.group("raised") for found in map(ERROR_LINE.match, lines) if found]
    return errors[-1].strip() if errors else None
