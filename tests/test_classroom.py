"""Roles, the instructor's limits and the class's settings, short run names, and the package refusing a student
what the page does not offer."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from alexnet_explorer import classroom, estimate, launcher
from alexnet_explorer.classroom import Caps, Person, Settings
from alexnet_explorer.config import PRESETS, starting_config
from alexnet_explorer.runs import RunDir

TINY = PRESETS["smoke"].replace(epochs=1, limit_train=32, limit_test=16, batch_size=8, device="cpu")
TEACHER, ALICE, BOB = Person("teacher", True), Person("alice", False), Person("bob", False)


def test_a_passcode_matches_only_itself():
    assert classroom.passcode_matches("owl-42", "owl-42")
    assert not classroom.passcode_matches("owl-4", "owl-42") and not classroom.passcode_matches("", "owl-42")
    assert not classroom.passcode_matches("OWL-42", "owl-42")


def test_the_instructor_and_the_runs_owner_may_manage_it(tmp_path: Path):
    run = RunDir.create(tmp_path, TINY, owner=ALICE.id)
    assert classroom.may_manage(ALICE, run) and classroom.may_manage(TEACHER, run)
    assert not classroom.may_manage(BOB, run)
    terminal_run = RunDir.create(tmp_path, TINY)  # started from a terminal: no owner
    assert not classroom.may_manage(BOB, terminal_run) and classroom.may_manage(classroom.TERMINAL, terminal_run)


def test_a_student_cannot_act_on_another_sessions_run_through_the_package(tmp_path: Path):
    run = RunDir.create(tmp_path, TINY, owner=ALICE.id)
    run.write_status("stopped")
    for action in (launcher.stop, launcher.resume, launcher.delete, launcher.cancel,
                   lambda run, by: launcher.rename(run, "mine now", by)):
        with pytest.raises(launcher.RunRefused, match="only the instructor or the browser that started"):
            action(run, BOB)
    with pytest.raises(launcher.RunRefused, match="only the instructor"):
        launcher.move_in_queue(run, -1, BOB)
    with pytest.raises(launcher.RunRefused, match="only the instructor"):
        launcher.clear_queue(tmp_path, BOB)
    assert run.read_status()["state"] == "stopped" and run.title == "run" and run.path.exists()
    launcher.rename(run, "alice's run", ALICE)
    launcher.delete(run, TEACHER)
    assert not run.path.exists()


def test_a_students_run_the_instructor_unqueued_is_the_instructors_to_resume(tmp_path: Path):
    theirs, own = (RunDir.create(tmp_path, TINY, owner=ALICE.id) for _ in range(2))
    for run in (theirs, own):
        run.write_status("queued", before={"state": "stopped"})  # resumed, waiting for the CPU
    launcher.cancel(theirs, TEACHER)
    launcher.cancel(own, ALICE)
    assert [run.read_status()["state"] for run in (theirs, own)] == ["stopped", "stopped"]
    assert theirs.held and not own.held  # only the instructor's act holds a run
    with pytest.raises(launcher.RunRefused, match="the instructor stopped run .*only the instructor can resume"):
        launcher.resume(theirs, ALICE)
    assert theirs.read_status()["state"] == "stopped"
    assert classroom.may_resume(TEACHER, theirs) and classroom.may_resume(ALICE, own)
    assert classroom.may_manage(ALICE, theirs)  # still hers to rename or delete


def test_limits_refuse_what_the_instructor_forbids():
    caps = Caps(presets_only=True, max_active=1, max_cpu_resize=96)
    caps.check(PRESETS["classroom"], "cpu", active=0)
    caps.check(starting_config("classroom", "sigmoid").replace(device="cpu"), "cpu", active=0)  # device is free
    with pytest.raises(ValueError, match="only the presets"):
        caps.check(PRESETS["classroom"].replace(lr=0.5), "cpu", active=0)
    with pytest.raises(ValueError, match="1 run queued or training"):
        caps.check(PRESETS["classroom"], "cpu", active=1)
    with pytest.raises(ValueError, match="up to 96 px on a CPU, not 224"):
        Caps(max_cpu_resize=96).check(PRESETS["book"], "cpu", active=0)
    Caps(max_cpu_resize=96).check(PRESETS["book"], "accelerator", active=0)
    Caps().check(PRESETS["book"].replace(lr=3.0), "cpu", active=99)  # no limits


def test_a_students_start_beyond_the_limits_is_refused_and_creates_nothing(tmp_path: Path):
    classroom.write_settings(tmp_path, Settings(Caps(max_cpu_resize=96)), TEACHER)
    with pytest.raises(launcher.RunRefused, match="up to 96 px"):
        launcher.launch(TINY.replace(resize=128), root=tmp_path, by=ALICE)
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]
    with pytest.raises(PermissionError):
        classroom.write_settings(tmp_path, Settings(), ALICE)
    assert classroom.read_settings(tmp_path).caps == Caps(max_cpu_resize=96)


def test_settings_survive_in_the_runs_folder_and_a_damaged_file_reads_as_defaults_that_say_so(tmp_path: Path):
    assert classroom.read_settings(tmp_path) == Settings()
    classroom.write_settings(tmp_path, Settings(Caps(True, 2, None), class_run="20261202-1-classroom"), TEACHER)
    assert classroom.read_settings(tmp_path) == Settings(Caps(True, 2, None), "20261202-1-classroom")
    (tmp_path / classroom.SETTINGS_FILE).write_text("{not json")
    damaged = classroom.read_settings(tmp_path)
    assert (damaged.caps, damaged.class_run) == (Caps(), None) and "cannot be read" in damaged.damaged


def test_runs_get_short_unique_names_that_can_be_changed(tmp_path: Path):
    first = RunDir.create(tmp_path, TINY, label="classroom")
    second = RunDir.create(tmp_path, TINY, label="classroom")
    sigmoid = RunDir.create(tmp_path, TINY, label="classroom-sigmoid")
    third = RunDir.create(tmp_path, TINY, label="classroom")
    assert [first.title, second.title, sigmoid.title, third.title] == [
        "classroom", "classroom 2", "classroom-sigmoid", "classroom 3"]
    assert len({first.name, second.name, third.name}) == 3  # the folders stay unique underneath
    second.rename("  ReLU   baseline ")
    assert second.title == "ReLU baseline"
    with pytest.raises(ValueError, match="already called"):
        third.rename("relu baseline")
    with pytest.raises(ValueError, match="cannot be empty"):
        third.rename("   ")
    with pytest.raises(ValueError, match="at most 40"):
        third.rename("x" * 41)
    assert RunDir.create(tmp_path, TINY, label="classroom").title == "classroom 2"  # free again
    legacy = tmp_path / "20261202-101146-classroom"
    RunDir.create(tmp_path, TINY).about_path.parent.rename(legacy)
    (legacy / "run.json").unlink()
    assert RunDir(legacy).title == legacy.name  # a run made before names: its folder's


def test_timings_of_several_sessions_take_turns(monkeypatch: pytest.MonkeyPatch):
    """Sessions timing at once would share the cores and each measure a fraction of the speed."""
    inside, most = [0], [0]
    lock = threading.Lock()

    def step(*args: object, **kwargs: object) -> tuple:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return (estimate.torch.zeros(()), None)

    monkeypatch.setattr(estimate, "train_step", step)
    config = PRESETS["smoke"].replace(device="cpu")
    threads = [threading.Thread(target=estimate.measure_throughput, args=(config, 2)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 1


def xsrf_cookie(token: bytes, mask: bytes) -> str:
    """Streamlit's XSRF cookie in Tornado's format '2|mask|masked token|time'."""
    masked = bytes(byte ^ mask[i % len(mask)] for i, byte in enumerate(token))
    return f"2|{mask.hex()}|{masked.hex()}|1700000000"


def test_a_browser_keeps_its_id_across_page_loads_and_two_browsers_differ():
    token = bytes(range(32))
    first, reload = xsrf_cookie(token, b"\x01\x02\x03\x04"), xsrf_cookie(token, b"\xa0\xb0\xc0\xd0")
    assert first != reload  # masked afresh on every page load
    assert classroom.browser_id(first) == classroom.browser_id(reload) is not None
    assert classroom.browser_id(xsrf_cookie(bytes(32), b"\x01\x02\x03\x04")) != classroom.browser_id(first)


@pytest.mark.parametrize("cookie", [None, "", "1|abc", "2|zz|zz|1", "2|0102|0304", "2||0304|1", "2|01020304||1"])
def test_no_browser_id_without_a_readable_cookie(cookie):
    assert classroom.browser_id(cookie) is None


def test_a_sign_in_holds_for_its_browser_until_it_ends_and_for_no_other():
    sign_ins = classroom.SignIns(lasting=3600)
    sign_ins.sign_in("teachers-browser", "owl-42", now=1000.0)
    assert sign_ins.signed_in("teachers-browser", "owl-42", now=1000.0 + 3599)  # a reload, later: the same browser
    assert not sign_ins.signed_in("students-browser", "owl-42", now=1001.0)
    assert not sign_ins.signed_in("teachers-browser", "owl-42", now=1000.0 + 3600)  # expired
    assert not sign_ins.signed_in("teachers-browser", "owl-43", now=1001.0)  # the passcode was changed since
    sign_ins.sign_out("teachers-browser")
    assert not sign_ins.signed_in("teachers-browser", "owl-42", now=1001.0)
    sign_ins.sign_out("never-signed-in")


def test_who_may_stop_cancel_or_resume_a_run(tmp_path: Path):
    run = RunDir.create(tmp_path, TINY, owner=ALICE.id)
    stop, cancel, resume = {classroom.STOP}, {classroom.CANCEL}, {classroom.RESUME}
    for person in (ALICE, TEACHER):
        assert classroom.allowed_actions(person, run, "running") == stop
        assert classroom.allowed_actions(person, run, "running", stopping=True) == set()  # its stop is pending
        assert classroom.allowed_actions(person, run, "queued") == cancel
        assert classroom.allowed_actions(person, run, "stopped") == classroom.allowed_actions(person, run, "failed")
        assert classroom.allowed_actions(person, run, "stopped") == resume
        assert classroom.allowed_actions(person, run, "starting") == classroom.allowed_actions(person, run,
                                                                                               "finished") == set()
    for state in ("queued", "running", "stopped"):
        assert classroom.allowed_actions(BOB, run, state) == set()  # another browser's run
    run.hold(True)  # the instructor stopped it
    assert classroom.allowed_actions(ALICE, run, "stopped") == set()
    assert classroom.allowed_actions(TEACHER, run, "stopped") == resume


def test_a_run_says_who_started_it(tmp_path: Path):
    run = RunDir.create(tmp_path, TINY, owner=ALICE.id)
    assert classroom.started_by(run, ALICE) == "you"
    assert classroom.started_by(run, BOB) == classroom.started_by(run, TEACHER) == "another browser"
    terminal_run = RunDir.create(tmp_path, TINY)  # no owner
    assert classroom.started_by(terminal_run, ALICE) == "a terminal"
    launched_run = RunDir.create(tmp_path, TINY, owner=classroom.TERMINAL.id)  # python -m alexnet_explorer
    assert classroom.started_by(launched_run, ALICE) == "a terminal"
