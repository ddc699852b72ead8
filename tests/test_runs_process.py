"""Training processes: stop, resume, a killed process, pid checks, the one-run-per-device lock and the queue."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import event

from alexnet_explorer import estimate, history, launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.devices import available_devices
from alexnet_explorer.events import training_curves
from alexnet_explorer.runs import RunDir, list_runs

REPO = Path(__file__).resolve().parent.parent
# Four short steps per epoch (a fraction of a second): runs that only need to start, fail or be killed.
TINY = PRESETS["smoke"].replace(epochs=3, limit_train=32, limit_test=16, batch_size=8, device="cpu")
# 32 steps per epoch: a stop asked after epoch 1 has epochs 2 and 3 (seconds, even on a loaded machine) to land.
STOPPABLE = TINY.replace(limit_train=256)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder; launched processes read the fixture data (they inherit the environment)."""
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    return tmp_path / "runs"


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def state(run: RunDir) -> str:
    return processes.refresh_status(run)["state"]


def kill(run: RunDir) -> None:
    """SIGKILL a run's training process and wait until it is gone."""
    pid = processes.launched_pid(run)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not processes.process_alive(pid, run), "the killed process to disappear", 20)


def test_stop_then_resume_continues_from_the_checkpoint(runs: Path) -> None:
    run = launcher.launch(STOPPABLE, label="smoke", root=runs)
    wait_for(lambda: any(e.kind == "epoch" for e in run.read_events()), "the first epoch")
    launcher.stop(run)
    wait_for(lambda: state(run) not in processes.ACTIVE_STATES, "the run to stop")
    assert state(run) == "stopped", (run.read_status(), run.log_path.read_text())
    assert run.has_checkpoint() and run.load_checkpoint().epoch >= 1
    pid = processes.launched_pid(run)
    wait_for(lambda: not processes.process_alive(pid, run), "the stopped process to exit", 20)
    assert not run.stop_path.exists()  # cleared on the way out, so that a resumed run does not stop at once

    launcher.resume(run)
    wait_for(lambda: state(run) not in processes.ACTIVE_STATES, "the resumed run to end")
    assert state(run) == "finished", (run.read_status(), run.log_path.read_text())
    events = run.read_events()
    starts = [e.start_epoch for e in events if e.kind == "started"]
    assert starts[0] == 0 and starts[1] >= 1
    assert [e.status for e in events if e.kind == "ended"] == ["stopped", "finished"]
    assert sorted({e.epoch for e in events if e.kind == "epoch"}) == [1, 2, 3]


def test_a_killed_process_is_reported_failed_and_can_be_deleted(runs: Path) -> None:
    run = launcher.launch(TINY, label="smoke", root=runs)
    wait_for(lambda: run.read_status()["state"] == "running", "the process to report running")
    with pytest.raises(launcher.RunRefused, match="stop it before deleting"):
        launcher.delete(run)
    kill(run)
    assert run.read_status()["state"] == "running"  # what the dead process left behind...
    status = processes.refresh_status(run)  # ...until someone looks
    assert status["state"] == "failed" and status["error"] == processes.DIED
    assert run.read_status()["state"] == "failed"
    launcher.delete(run)
    assert not run.path.exists()


def test_a_process_that_exits_before_training_is_failed_with_its_own_words(runs: Path) -> None:
    run = RunDir.create(runs, TINY, label="smoke")
    run.checkpoint_path.write_bytes(b"not a checkpoint")
    run.write_status("stopped")
    launcher.resume(run)  # the process refuses the checkpoint before it reports anything
    wait_for(lambda: state(run) not in processes.ACTIVE_STATES, "the process to give up")
    status = run.read_status()
    assert status["state"] == "failed"
    assert status["error"].startswith(f"{processes.DIED}: ") and "is damaged" in status["error"], status


def test_only_the_latest_process_errors_count(runs: Path) -> None:
    run = RunDir.create(runs, TINY)
    run.log_path.write_text(f"{processes.LOG_MARKER} 1\nerror: out of memory\n{processes.LOG_MARKER} 2\nepoch 1/3\n")
    assert processes.logged_error(run) is None
    with run.log_path.open("a") as log:
        log.write("python -m alexnet_explorer: error: bad flag\n")
    assert processes.logged_error(run) == "bad flag"


def test_a_device_this_machine_lacks_is_refused_before_launching(runs: Path) -> None:
    missing = next(d for d in ("cuda", "mps") if d not in available_devices())
    with pytest.raises(launcher.RunRefused, match=f"device '{missing}' is not available"):
        launcher.launch(TINY.replace(device=missing), root=runs)
    assert list_runs(runs) == []


def test_the_cpu_estimate_times_a_full_batch_of_small_images_and_part_of_one_of_large() -> None:
    cpu = PRESETS["book"].replace(device="cpu")
    assert estimate.timing_batch(cpu) == 16  # 256 images of 224 px would take most of a minute
    assert estimate.timing_batch(cpu.replace(resize=96)) == 87  # as many pixels as 16 of 224 px
    classroom = PRESETS["classroom"].replace(device="cpu")
    assert estimate.timing_batch(classroom) == classroom.batch_size == 128  # its whole batch


def test_a_live_pid_of_another_program_does_not_keep_a_run_alive(runs: Path) -> None:
    run = RunDir.create(runs, TINY)
    run.write_status("running", pid=os.getpid())  # alive, but pytest, not this run's trainer (as after pid reuse)
    assert processes.refresh_status(run)["state"] == "failed"


def test_a_starting_run_without_process_waits_only_while_a_launch_holds_the_lock(runs: Path) -> None:
    run = RunDir.create(runs, TINY)
    run.write_status("starting")
    with processes.launch_lock(runs):
        assert processes.refresh_status(run)["state"] == "starting"
    status = processes.refresh_status(run)
    assert status["state"] == "failed" and status["error"] == processes.NEVER_STARTED


def test_a_queued_run_waits_without_a_process(runs: Path) -> None:
    run = RunDir.create(runs, TINY)
    assert processes.refresh_status(run)["state"] == "queued"  # in line, not failed


def test_two_simultaneous_launches_start_one_run(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create = RunDir.create

    def slow_create(*args: object, **kwargs: object) -> RunDir:
        time.sleep(0.5)  # widen the gap between "is the device free?" and "the run exists"
        return create(*args, **kwargs)

    monkeypatch.setattr(RunDir, "create", slow_create)
    barrier = threading.Barrier(2)
    started: list[RunDir] = []
    refused: list[launcher.RunRefused] = []

    def attempt() -> None:
        barrier.wait()
        try:
            started.append(launcher.launch(TINY, label="smoke", root=runs))
        except launcher.RunRefused as refusal:
            refused.append(refusal)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(started) == 2 and not refused  # nobody is refused: the second waits in the queue
        states = sorted(state(run) for run in started)
        assert states[0] == "queued" and states[1] in processes.ON_DEVICE, states
        assert sorted(run.path for run in list_runs(runs)) == sorted(run.path for run in started)
    finally:
        for run in started:
            if state(run) == "queued":
                launcher.cancel(run)
            else:
                kill(run)


# A run killed during epoch 2 and resumed from its epoch-1 checkpoint: it logs 1.5 again, then goes on.
KILLED_AND_RESUMED = [
    event("started", device="cpu", epochs=2, start_epoch=0, time=100.0),
    event("progress", epoch=0.5, train_loss=2.0, train_acc=0.2, examples_per_sec=10.0, elapsed=5.0, remaining=15.0),
    event("epoch", epoch=1, train_loss=1.8, train_acc=0.3, test_acc=0.4, examples_per_sec=10.0, elapsed=10.0,
          remaining=10.0),
    event("progress", epoch=1.5, train_loss=1.6, train_acc=0.4, examples_per_sec=10.0, elapsed=15.0, remaining=5.0),
    event("started", device="cpu", epochs=2, start_epoch=1, time=500.0),
    event("progress", epoch=1.5, train_loss=1.5, train_acc=0.45, examples_per_sec=12.0, elapsed=4.0, remaining=6.0),
]


def test_a_redone_stretch_replaces_the_old_points_in_the_curves() -> None:
    curves = training_curves(KILLED_AND_RESUMED)
    assert curves["train loss"] == ([0.5, 1.5], [2.0, 1.5])
    assert curves["test acc"] == ([1], [0.4])


def test_progress_adds_up_sessions_and_counts_on_while_training() -> None:
    done = history.progress_so_far(KILLED_AND_RESUMED)
    assert (done.epoch, done.examples_per_sec, done.elapsed, done.remaining) == (1.5, 12.0, 19.0, 6.0)
    live = history.progress_so_far(KILLED_AND_RESUMED, now=500.0 + 4.0 + 2.0)  # two seconds after the last record
    assert (live.elapsed, live.remaining) == (21.0, 4.0)
    stopped = event("ended", status="stopped", epoch=1.5, examples_per_sec=10.0, elapsed=16.0)
    resuming = history.progress_so_far(KILLED_AND_RESUMED[:4] + [stopped], now=900.0)
    assert (resuming.elapsed, resuming.remaining) == (16.0, None)  # the new process has not reported yet


# --- the queue: runs wait for their device in the runs folder, and start by themselves ---

def keeper_pids(runs: Path) -> list[int]:
    """The queue keeper processes of a runs folder, found by their command line."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0") if proc.name.isdigit() else []
        except OSError:
            continue
        if b"queue" in args and str(runs.resolve()).encode() in args:
            pids.append(int(proc.name))
    return pids


def trained_one_after_another(runs: list[RunDir]) -> bool:
    """Whether each run began training only after the one before it had ended (from its events and status)."""
    began = [next(e.time for e in run.read_events() if e.kind == "started") for run in runs]
    ended = [run.read_status()["updated"] for run in runs]
    return all(ended[i] <= began[i + 1] for i in range(len(runs) - 1)) and began == sorted(began)


def test_runs_started_at_once_train_in_order_by_themselves(runs: Path) -> None:
    config = TINY.replace(limit_train=128)
    # A stand-in for the app's server: it starts three runs at once and is gone, as a server that is restarted.
    subprocess.run([sys.executable, "-c", "import json, sys; from alexnet_explorer import launcher; from "
                    "alexnet_explorer.config import RunConfig; config = RunConfig.from_dict(json.loads(sys.argv[1]));"
                    " [launcher.launch(config, 'smoke', sys.argv[2]) for _ in range(3)]",
                    json.dumps(config.to_dict()), str(runs)], check=True, cwd=REPO, timeout=120)
    first, second, third = sorted(list_runs(runs), key=lambda run: run.title)
    assert [first.title, second.title, third.title] == ["smoke", "smoke 2", "smoke 3"]
    assert state(third) == "queued"
    wait_for(lambda: state(second) in ("running", "finished"), "the second run to start by itself")
    # The keeper dies too: each run that ends hands the queue on to the next by itself.
    for pid in keeper_pids(runs):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: state(third) == "finished", "the third run to end")
    assert [state(run) for run in (first, second, third)] == ["finished"] * 3, third.log_path.read_text()
    assert trained_one_after_another([first, second, third])
    wait_for(lambda: not processes.keeper_alive(runs), "the keeper to leave an empty queue", 20)


def test_a_queue_left_with_nobody_to_move_it_waits_for_the_next_page(runs: Path) -> None:
    run = RunDir.create(runs, TINY, label="smoke")
    run.write_status("queued", order=time.time())  # what a killed server and a killed run leave in the runs folder
    time.sleep(3 * launcher.KEEPER_POLL_SECONDS)
    assert state(run) == "queued"  # nobody left to start it...
    launcher.keep_queue_moving(runs)  # ...until the restarted app's Train page is opened
    wait_for(lambda: state(run) == "finished", "the queued run to end")
    wait_for(lambda: not processes.keeper_alive(runs), "the keeper to leave an empty queue", 20)


def test_pages_looking_at_once_start_one_queue_keeper(runs: Path) -> None:
    blocker = launcher.launch(STOPPABLE, label="smoke", root=runs)
    waiting = launcher.launch(TINY, label="smoke", root=runs)  # queued: its launch starts a keeper
    looks = [threading.Thread(target=launcher.keep_queue_moving, args=(runs,)) for _ in range(8)]
    for look in looks:  # every open Train page, while that keeper is still importing torch
        look.start()
    for look in looks:
        look.join()
    assert processes.keeper_alive(runs) and len(keeper_pids(runs)) == 1
    assert (runs / launcher.KEEPER_LOG).read_text().count("=== queue keeper") == 1
    launcher.cancel(waiting)
    wait_for(lambda: state(blocker) == "running", "the first run to train")
    launcher.stop(blocker)
    wait_for(lambda: not processes.keeper_alive(runs), "the keeper to leave an empty queue", 20)


def test_a_cancelled_queued_run_never_starts(runs: Path) -> None:
    blocker = launcher.launch(STOPPABLE, label="smoke", root=runs)
    fresh = launcher.launch(TINY, label="smoke", root=runs)
    stopped = RunDir.create(runs, TINY, label="stopped")
    stopped.append_event(event("started", device="cpu", epochs=3, start_epoch=0, time=1.0))
    stopped.write_status("stopped")
    failed = RunDir.create(runs, TINY, label="failed")
    failed.write_status("failed", error="no Fashion-MNIST here", cause="data")
    launcher.resume(stopped)
    launcher.resume(failed)
    assert state(fresh) == state(stopped) == state(failed) == "queued"
    for run in (fresh, stopped, failed):
        launcher.cancel(run)
    assert not fresh.path.exists()  # it never trained: nothing is left of it
    assert state(stopped) == "stopped"  # it trained before: it is left as it was, to resume later
    assert failed.read_status() | {"updated": 0} == {"state": "failed", "error": "no Fashion-MNIST here",
                                                     "cause": "data", "updated": 0}  # its reason kept
    launcher.delete(failed)
    wait_for(lambda: state(blocker) == "running", "the first run to train")
    launcher.stop(blocker)  # its device frees: the cancelled runs must not take it
    wait_for(lambda: state(blocker) == "stopped", "the first run to stop")
    time.sleep(3 * launcher.KEEPER_POLL_SECONDS)
    assert state(stopped) == "stopped" and [run.path for run in list_runs(runs)] == [stopped.path, blocker.path]
    assert not processes.keeper_alive(runs)


def test_a_killed_training_process_lets_the_next_run_start(runs: Path) -> None:
    first = launcher.launch(STOPPABLE, label="smoke", root=runs)
    second = launcher.launch(TINY, label="smoke", root=runs)
    wait_for(lambda: state(first) == "running", "the first run to train")
    assert state(second) == "queued"
    kill(first)
    wait_for(lambda: state(second) == "finished", "the second run to start and end")
    status = first.read_status()
    assert status["state"] == "failed" and status["error"] == processes.DIED


def niceness(pid: int, tid: int) -> int:
    """A thread's nice value, from /proc (the 19th field of its stat line)."""
    return int(Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_a_launched_run_trains_below_the_pages_in_every_thread(runs: Path) -> None:
    run = launcher.launch(STOPPABLE, label="smoke", root=runs)
    wait_for(lambda: any(e.kind == "progress" for e in run.read_events()), "the first progress point")
    pid = processes.launched_pid(run)
    levels = [niceness(pid, int(tid)) for tid in os.listdir(f"/proc/{pid}/task")]
    launcher.stop(run)
    wait_for(lambda: state(run) not in processes.ACTIVE_STATES, "the run to stop")
    assert len(levels) > 1  # the training threads as well as the main one
    assert set(levels) == {min(19, os.nice(0) + launcher.TRAINING_NICENESS)}
