"""What a class can break, answered in words with nothing lost: a full disk, damaged files, a stuck lock, a keeper
that is gone, a second window, a run trained on another machine (the probes of docs/classroom.md's fault table)."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from conftest import event

from alexnet_explorer import __main__ as cli
from alexnet_explorer import classroom, launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.runs import HOST, RunDir, checkpoint_bytes, load_weights
from alexnet_explorer.train import train as train_loop
from app_pages.widgets.pages import PAGES

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TINY = PRESETS["smoke"].replace(epochs=2, limit_train=32, limit_test=16, batch_size=8, device="cpu")
ALICE = classroom.Person("alice", instructor=False, address="10.0.0.7")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder; launched processes and the pages read the fixture data."""
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    monkeypatch.setenv("ALEXNET_EXPLORER_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


def train(run_dir: Path, data: Path, *flags: str) -> int:
    """The command line in this process, on the tiny run."""
    return cli.main(["train", "--preset", "smoke", "--device", "cpu", "--epochs", "2", "--limit-train", "32",
                     "--limit-test", "16", "--batch-size", "8", "--data-root", str(data), "--run-dir", str(run_dir),
                     *flags])


# --- a full disk ---------------------------------------------------------------------------------------------------

def test_a_full_disk_fails_the_run_with_the_reason_and_keeps_what_it_had(tmp_path, fixture_data_dir, monkeypatch,
                                                                        capsys):
    run = RunDir(tmp_path / "runs" / "r")
    assert train(run.path, fixture_data_dir, "--epochs", "1") == 0
    before = run.load_checkpoint()
    run.write_config(run.read_config().replace(epochs=2))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    assert train(run.path, fixture_data_dir, "--resume") == 1
    status = run.read_status()
    assert status["state"] == "failed" and status["error"].startswith("the disk is full: free space in ")
    assert "error: the disk is full" in capsys.readouterr().err
    assert run.load_checkpoint().epoch == before.epoch == 1  # the last checkpoint is still there and readable
    assert [e.epoch for e in run.read_events() if e.kind == "epoch"] == [1]


def test_a_disk_full_message_in_the_log_is_the_failure_reason(tmp_path):
    run = RunDir.create(tmp_path, TINY)
    run.log_path.write_text(f"{processes.LOG_MARKER} now\nTraceback (most recent call last):\n  ...\n"
                            "OSError: [Errno 28] No space left on device\n")
    assert processes.logged_error(run) == "OSError: [Errno 28] No space left on device"


def test_a_start_that_would_not_fit_on_the_disk_is_refused_before_it_begins(runs, monkeypatch):
    monkeypatch.setattr(launcher.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 10 * 2**20})())
    refusal = launcher.start_refusal(TINY, classroom.TERMINAL, runs)
    assert refusal and "10 MB free" in refusal and "delete runs you no longer need" in refusal
    with pytest.raises(launcher.RunRefused, match="MB free"):
        launcher.launch(TINY, root=runs)
    assert launcher.list_runs(runs) == []  # no run folder was made


def test_what_a_killed_writer_left_is_removed_and_a_live_writers_file_stays(tmp_path):
    run = RunDir.create(tmp_path, TINY)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = run.path / f".checkpoint.pt.{int(dead.stdout)}.1.tmp"
    left.write_bytes(b"x" * 1000)
    live = run.path / f".run.json.{os.getpid()}.1.tmp"
    live.write_text("{}")
    assert run.remove_leftovers() == [left]
    assert not left.exists() and live.exists()


def test_a_finished_run_keeps_no_optimizer_state_and_a_stopped_one_does(tmp_path, fixture_data_dir):
    finished = RunDir(tmp_path / "finished")
    assert train(finished.path, fixture_data_dir) == 0
    assert finished.load_checkpoint().optimizer is None
    assert finished.checkpoint_path.stat().st_size < 0.6 * checkpoint_bytes(TINY.replace(momentum=0.9))
    seen = []
    stopped = train_loop(TINY, load_fashion_mnist(fixture_data_dir), seen.append,
                         should_stop=lambda: any(e.kind == "epoch" for e in seen))
    assert stopped.status == "stopped" and stopped.checkpoint.optimizer is not None  # to go on exactly
    assert next(e for e in seen if e.kind == "epoch").checkpoint.optimizer is not None  # not the last epoch
    finished.write_config(finished.read_config().replace(epochs=3))  # a finished run given another epoch goes on
    assert train(finished.path, fixture_data_dir, "--resume") == 0
    assert finished.load_checkpoint().epoch == 3


# --- damaged files -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["null", '{"state": "running", "pid": "abc"}', "[1, 2]", '{"state": "flying"}',
                                    "{not json"])
def test_a_damaged_status_reads_as_damaged_and_the_queue_still_works(runs, damage):
    good = RunDir.create(runs, TINY, label="good")
    good.write_status("finished")
    broken = RunDir.create(runs, TINY, label="broken")
    broken.status_path.write_text(damage)
    status = processes.refresh_status(broken)
    assert status["state"] in ("failed", "running") and "pid" not in status or isinstance(status["pid"], int)
    if damage != '{"state": "running", "pid": "abc"}':
        assert status["damaged"] and "status file" in status["error"]
    assert launcher.active_runs(runs) == [] and launcher.queued_runs(runs) == []
    launcher.delete(broken)  # damaged, and deletable
    assert not broken.path.exists() and good.read_status()["state"] == "finished"


def test_damaged_metrics_lines_are_passed_over(tmp_path):
    run = RunDir.create(tmp_path, TINY)
    run.append_event(event("started", device="cpu", epochs=2))
    with open(run.metrics_path, "a") as f:
        f.write('5\n{"x": 1}\n{"kind": "epoch", "epoch": "two"}\nnull\n')
    run.append_event(event("epoch", epoch=1, test_acc=0.5))
    assert [e.kind for e in run.read_events()] == ["started", "epoch"]


def test_a_damaged_filters_snapshot_says_so_without_pytorchs_advice(tmp_path):
    path = tmp_path / "epoch_001.pt"
    path.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(Exception) as raised:
        load_weights(path)
    assert "damaged" in str(raised.value) and "weights_only" not in str(raised.value)


def test_a_damaged_classroom_file_refuses_students_and_says_why(runs):
    runs.mkdir(parents=True)
    (runs / classroom.SETTINGS_FILE).write_text("{broken")
    settings = classroom.read_settings(runs)
    assert settings.damaged and "cannot be read" in settings.damaged
    with pytest.raises(launcher.RunRefused, match="the instructor must save the limits again"):
        launcher.launch(TINY, root=runs, by=ALICE)
    assert launcher.start_refusal(TINY, classroom.TERMINAL, runs) is None  # the instructor is not refused
    classroom.write_settings(runs, classroom.Settings(), classroom.TERMINAL)
    assert classroom.read_settings(runs).damaged is None


def test_a_symlinked_run_folder_is_deleted_as_a_link_and_its_target_kept(tmp_path):
    target = RunDir.create(tmp_path / "elsewhere", TINY)
    target.write_status("finished")
    root = tmp_path / "runs"
    root.mkdir()
    link = RunDir(root / "linked")
    link.path.symlink_to(target.path, target_is_directory=True)
    launcher.delete(link)
    assert not link.path.exists() and target.config_path.is_file()


def test_pages_show_a_damaged_run_as_damaged_and_the_others_as_usual(runs):
    good = RunDir.create(runs, TINY, label="good one")
    good.write_status("finished")
    broken = RunDir.create(runs, TINY, label="broken one")
    broken.status_path.write_text("null")
    with open(broken.metrics_path, "w") as f:
        f.write('5\n{"x": 1}\n')
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=60).run()
        if page.url_path:
            at = at.switch_page(page.path).run()
        assert not at.exception, page.url_path
        errors = [e.value for e in at.error]
        assert not any("Something went wrong" in error for error in errors), (page.url_path, errors)
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(
        next(p.path for p in PAGES if p.url_path == "train")).run()
    table = at.dataframe[-1].value
    assert dict(zip(table["run"], table["status"])) == {"good one": "finished", "broken one": "failed"}


def test_a_hostile_name_in_a_run_file_is_shown_as_the_folders_name(runs):
    run = RunDir.create(runs, TINY, label="plain")
    run.write_status("finished")
    run.about_path.write_text(json.dumps({"title": "x` ![](http://evil.example/p.png) `y"}))
    at = AppTest.from_file(APP, default_timeout=60).run().switch_page(
        next(p.path for p in PAGES if p.url_path == "train")).run()
    assert not at.exception
    assert run.name in at.dataframe[-1].value["run"].tolist()
    shown = " ".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.warning, *at.error])
    assert "evil.example" not in shown


# --- the queue, the lock ------------------------------------------------------------------------------------------

def test_a_stuck_lock_holder_is_reported_not_waited_on(runs, monkeypatch):
    runs.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(runs / processes.LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        os.kill(holder.pid, signal.SIGSTOP)  # alive but stuck
        monkeypatch.setattr(processes, "LOCK_PATIENCE_SECONDS", 0.5)
        started = time.monotonic()
        with pytest.raises(launcher.RunRefused, match="it may be stuck; nothing was started"):
            launcher.launch(TINY, root=runs)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()


def test_the_next_queued_run_starts_when_a_run_ends_without_a_keeper(runs):
    first = launcher.launch(TINY.replace(epochs=3, limit_train=128), label="first", root=runs)
    second = launcher.launch(TINY, label="second", root=runs)
    assert second.read_status()["state"] == "queued"
    keeper = _keeper_pid(runs)
    assert keeper, "the queue has no keeper to kill"
    os.kill(keeper, signal.SIGKILL)  # the keeper is gone, and no page is open
    deadline = time.monotonic() + 300
    while processes.refresh_status(second)["state"] in ("queued", "starting") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes.refresh_status(first)["state"] == "finished"
    assert processes.refresh_status(second)["state"] in ("running", "finished")


def _keeper_pid(runs: Path) -> int | None:
    """The pid of the runs folder's queue keeper (``python -m alexnet_explorer queue --runs RUNS``), if one runs."""
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().decode().split("\0")
        except (OSError, UnicodeDecodeError):
            continue
        if args[1:4] == ["-m", "alexnet_explorer", "queue"] and str(runs.resolve()) in args:
            return int(proc.name)
    return None


# --- who is who ----------------------------------------------------------------------------------------------------

def test_a_new_window_on_the_same_laptop_is_the_same_student_for_the_limits(runs):
    classroom.write_settings(runs, classroom.Settings(classroom.Caps(max_active=1)), classroom.TERMINAL)
    busy = RunDir.create(runs, TINY, owner="alice", address="10.0.0.7")
    busy.write_status("queued", order=1.0)
    private_window = classroom.Person("alice-private", instructor=False, address="10.0.0.7")
    with pytest.raises(launcher.RunRefused, match="1 run queued or training per student"):
        launcher.launch(TINY, root=runs, by=private_window)
    bob = classroom.Person("bob", instructor=False, address="10.0.0.8")
    assert launcher.start_refusal(TINY, bob, runs) is None
    on_the_server = classroom.Person("carol", instructor=False, address="127.0.0.1")  # loopback: every local browser
    assert not on_the_server.started(RunDir.create(runs, TINY, owner="dave", address="127.0.0.1"))


def test_a_student_cannot_delete_the_class_run_even_their_own(runs):
    run = RunDir.create(runs, TINY, owner="alice")
    run.write_status("finished")
    classroom.write_settings(runs, classroom.Settings(class_run=run.name), classroom.TERMINAL)
    with pytest.raises(launcher.RunRefused, match="is the class run: only the instructor can delete it"):
        launcher.delete(run, ALICE)
    launcher.delete(run, classroom.TERMINAL)
    assert not run.path.exists()


def test_a_run_training_on_another_machine_is_running_elsewhere_not_dead(tmp_path):
    run = RunDir.create(tmp_path, TINY)
    run.write_status("running", pid=4_000_000, host="gpu-node-2")  # no such pid here
    assert processes.refresh_status(run)["state"] == "running"
    with pytest.raises(launcher.RunRefused, match="stop it before deleting"):
        launcher.delete(run)
    run.write_status("running", pid=4_000_000)  # on this machine: dead
    assert run.read_status()["host"] == HOST
    assert processes.refresh_status(run)["state"] == "failed"
