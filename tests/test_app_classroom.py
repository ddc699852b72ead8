"""The Train page in class, through AppTest: roles with and without the instructor's passcode, the limits, the
class run, short run names, the form kept across pages, and a machine without Fashion-MNIST."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_fixture_dataset
from streamlit.testing.v1 import AppTest
from test_app_train import APP, past_run, select_rows, train_page

from alexnet_explorer import classroom, launcher, processes
from alexnet_explorer.config import PRESETS
from alexnet_explorer.runs import RunDir
from app_pages.widgets import identity

PASSCODE = "owl-42"
SMOKE = PRESETS["smoke"].replace(device="cpu")


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """The fixture data, an empty runs folder, and no passcode."""
    runs = tmp_path / "runs"
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    monkeypatch.setenv("ALEXNET_EXPLORER_RUNS", str(runs))
    monkeypatch.delenv(classroom.PASSCODE_ENV, raising=False)
    return runs


@pytest.fixture
def in_class(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The same, with the instructor's passcode set."""
    monkeypatch.setenv(classroom.PASSCODE_ENV, PASSCODE)
    return app_env


def training_run(runs: Path, owner: str, stand_ins: list[subprocess.Popen]) -> RunDir:
    """A run that is 'running': its status and a live process whose command line trains its folder."""
    run = past_run(runs, "running", owner=owner)
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "alexnet_explorer",
                                "--run-dir", str(run.path.resolve())])
    stand_ins.append(process)
    run.write_status("running", pid=process.pid)
    deadline = time.monotonic() + 20
    while not processes.process_alive(process.pid, run):
        assert time.monotonic() < deadline, "the stand-in process did not start"
        time.sleep(0.05)
    return run


def seat(at: AppTest) -> classroom.Person:
    """The session's person as the package sees it (a student until signed in)."""
    return classroom.Person(at.session_state["seat"], identity.sign_ins().signed_in(at.session_state["seat"], PASSCODE))


def sign_in(at: AppTest, passcode: str) -> AppTest:
    at.text_input(key="instructor_passcode").input(passcode)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def test_without_a_passcode_there_is_no_sign_in_and_anyone_may_stop_any_run(app_env: Path, stand_ins: list) -> None:
    run = training_run(app_env, owner="another-session", stand_ins=stand_ins)
    at = train_page()
    assert not at.exception and not at.text_input
    at.button(key=f"stop_{run.name}").click().run()
    assert run.stop_path.exists()


def test_a_student_cannot_stop_resume_or_delete_another_sessions_run(in_class: Path, stand_ins: list) -> None:
    running = training_run(in_class, owner="instructors-seat", stand_ins=stand_ins)
    stopped = past_run(in_class, "stopped", owner="instructors-seat")
    at = train_page()
    assert not at.exception and at.text_input(key="instructor_passcode")
    assert not any(label == "Stop" or label.startswith("Resume") for label in labels(at))
    assert any("Started by another browser" in c.value for c in at.caption)
    student = seat(at)
    assert not student.instructor
    with pytest.raises(launcher.RunRefused):
        launcher.stop(running, student)
    with pytest.raises(launcher.RunRefused):
        launcher.resume(stopped, student)
    at = select_rows(at, [0, 1])  # both runs selected in the history
    assert "Delete…" not in labels(at) and not any(label.startswith("Delete these") for label in labels(at))
    assert any("Only the instructor or the browser that started a run" in c.value for c in at.caption)
    with pytest.raises(launcher.RunRefused):
        launcher.delete(stopped, student)
    assert not running.stop_path.exists() and stopped.path.exists()
    assert stopped.read_status()["state"] == "stopped"


def test_a_student_may_stop_and_delete_their_own_runs(in_class: Path, stand_ins: list) -> None:
    at = train_page()
    me = seat(at)
    mine = training_run(in_class, owner=me.id, stand_ins=stand_ins)
    theirs = past_run(in_class, "stopped", owner="someone-else")
    finished = past_run(in_class, "finished", owner=me.id)
    at.run()
    at.button(key=f"stop_{mine.name}").click().run()
    assert mine.stop_path.exists()
    assert [t.value for t in at.toast] == [f"Run {mine.title} stops at its next batch, with a checkpoint."]
    by_title = {row: i for i, row in enumerate(at.dataframe[-1].value["run"])}
    at = select_rows(at, [by_title[finished.title], by_title[theirs.title]])
    assert any(f"You may delete only `{finished.title}`" in c.value for c in at.caption)
    at.button(key="delete").click().run()
    at.button(key="delete_yes").click().run()
    assert not at.exception and not finished.path.exists() and theirs.path.exists()
    assert [t.value for t in at.toast] == ["Deleted 1 run."]


def test_the_instructor_signs_in_and_may_stop_resume_and_delete_any_run(in_class: Path, stand_ins: list) -> None:
    running = training_run(in_class, owner="a-student", stand_ins=stand_ins)
    stopped = past_run(in_class, "stopped", owner="another-student")
    at = train_page()
    tic = time.monotonic()
    at = sign_in(at, "owl-41")
    assert time.monotonic() - tic >= classroom.WRONG_PASSCODE_DELAY  # a wrong guess waits
    assert [e.value for e in at.error] == ["That is not the instructor's passcode."]
    assert not seat(at).instructor and "Stop" not in labels(at)
    at = sign_in(at, PASSCODE)
    assert seat(at).instructor and any("Signed in as the instructor" in s.value for s in at.success)
    at.button(key=f"stop_{running.name}").click().run()
    assert running.stop_path.exists()
    by_title = {row: i for i, row in enumerate(at.dataframe[-1].value["run"])}
    at = select_rows(at, [by_title[stopped.title]])
    at.button(key="delete").click().run()
    at.button(key="delete_yes").click().run()
    assert not at.exception and not stopped.path.exists()


def test_the_instructors_sign_in_outlasts_a_reload_of_that_browser_only(in_class: Path, stand_ins: list,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    running = training_run(in_class, owner="a-student", stand_ins=stand_ins)
    browser = {"cookie": "the projector's browser"}
    monkeypatch.setattr(classroom, "browser_id", lambda cookie: browser["cookie"])  # AppTest sends no cookie
    at = sign_in(train_page(), PASSCODE)
    assert seat(at).instructor
    reloaded = train_page()  # a reload: a new session in the same browser
    assert any("Signed in as the instructor" in s.value for s in reloaded.success)
    assert reloaded.button(key=f"stop_{running.name}") and not reloaded.text_input
    browser["cookie"] = "a student's browser"
    student = train_page()
    assert not any(b.key == f"stop_{running.name}" for b in student.button) and student.text_input
    browser["cookie"] = "the projector's browser"
    next(b for b in reloaded.button if b.label == "Sign out").click().run()
    assert not any(b.key == f"stop_{running.name}" for b in train_page().button)  # signed out, in every tab


def test_a_students_run_the_instructor_stopped_waits_for_the_instructor(in_class: Path, stand_ins: list) -> None:
    student = train_page()
    mine = training_run(in_class, owner=seat(student).id, stand_ins=stand_ins)
    launcher.stop(mine, classroom.Person("teachers-seat", instructor=True))
    assert mine.held and mine.stop_path.exists()
    mine.write_status("stopped")  # as the trainer does at its next batch
    student.run()
    assert not student.exception and not any(label.startswith("Resume") for label in labels(student))
    assert any("The instructor stopped this run" in i.value for i in student.info)
    with pytest.raises(launcher.RunRefused, match="only the instructor can resume"):
        launcher.resume(mine, seat(student))
    teacher = sign_in(train_page(), PASSCODE)
    assert any(label.startswith("Resume") for label in labels(teacher))
    assert any("This student's run is held" in i.value for i in teacher.info)
    assert any("Started by another browser." in c.value for c in teacher.caption)


def test_the_instructors_limits_apply_to_students(in_class: Path, stand_ins: list) -> None:
    classroom.write_settings(in_class, classroom.Settings(classroom.Caps(presets_only=True, max_active=1)),
                             classroom.TERMINAL)
    at = train_page()
    assert at.number_input(key="cfg_epochs").disabled and at.radio(key="cfg_activation").disabled
    assert any("The instructor allows only the presets" in c.value for c in at.caption)
    assert not at.button(key="start").disabled and not at.warning
    training_run(in_class, owner=seat(at).id, stand_ins=stand_ins)
    at.run()  # a second run of hers while the first trains: said before Start, which is not offered
    assert any("This run cannot start" in w.value and "1 run queued or training" in w.value for w in at.warning)
    assert at.button(key="start").disabled
    assert len(list(in_class.glob("*/config.json"))) == 1


def test_a_student_is_told_an_input_above_the_limit_before_start(in_class: Path) -> None:
    classroom.write_settings(in_class, classroom.Settings(classroom.Caps(max_cpu_resize=96)), classroom.TERMINAL)
    at = train_page()
    at.segmented_control(key="preset").set_value("book").run()
    assert any("up to 96 px on a CPU, not 224" in w.value for w in at.warning)
    assert at.button(key="start").disabled and not any("Estimate" in c.value for c in at.caption)
    at = sign_in(at, PASSCODE)
    assert not at.button(key="start").disabled and not any("px on a CPU" in w.value for w in at.warning)


def test_a_pinned_class_run_is_where_every_page_opens_on_every_visit(in_class: Path) -> None:
    oldest, middle, newest = (past_run(in_class, "finished") for _ in range(3))
    for age, run in enumerate((newest, middle, oldest)):
        os.utime(run.config_path, (1000 - age, 1000 - age))
    classroom.write_settings(in_class, classroom.Settings(class_run=oldest.name), classroom.TERMINAL)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page("app_pages/filters.py").run()
    assert at.selectbox(key="filters_run").value == oldest.name  # not the newest
    at = at.switch_page("app_pages/home.py").run().switch_page("app_pages/filters.py").run()
    assert at.selectbox(key="filters_run").value == oldest.name  # on the student's next visit too
    at.selectbox(key="filters_run").set_value(middle.name).run()
    at = at.switch_page("app_pages/home.py").run().switch_page("app_pages/filters.py").run()
    assert at.selectbox(key="filters_run").value == middle.name  # the student may look elsewhere, and it holds
    classroom.write_settings(in_class, classroom.Settings(class_run=newest.name), classroom.TERMINAL)
    at.run()
    assert at.selectbox(key="filters_run").value == newest.name  # until the instructor pins another


def test_the_instructor_pins_and_unpins_the_class_run_and_is_told(app_env: Path) -> None:
    run = past_run(app_env, "finished")
    at = select_rows(train_page(), [0])
    at.button(key="pin").click().run()
    assert classroom.read_settings(app_env).class_run == run.name
    assert [t.value for t in at.toast] == [f"Run {run.title} is the class run: every page opens on it."]
    at.button(key="pin").click().run()
    assert classroom.read_settings(app_env).class_run is None
    assert [t.value for t in at.toast] == ["No class run now: every page opens on its own choice."]


def test_runs_have_short_names_that_can_be_renamed(app_env: Path) -> None:
    first = RunDir.create(app_env, SMOKE, label="classroom")
    second = RunDir.create(app_env, SMOKE, label="classroom")
    for run in (first, second):
        run.write_status("finished")
    at = train_page()
    assert sorted(at.dataframe[-1].value["run"]) == ["classroom", "classroom 2"]
    at = select_rows(at, [list(at.dataframe[-1].value["run"]).index("classroom 2")])
    at.text_input(key=f"rename_text_{second.name}").input("relu")
    next(b for b in at.button if b.label == "Rename").click().run()
    assert not at.exception and second.title == "relu" and second.path.exists()
    assert sorted(at.dataframe[-1].value["run"]) == ["classroom", "relu"]


def test_the_form_is_kept_while_another_page_is_shown(app_env: Path) -> None:
    at = train_page()
    at.segmented_control(key="preset").set_value("smoke").run()
    at.pills(key="experiment").set_value("no-dropout").run()
    at.number_input(key="cfg_epochs").set_value(7).run()
    at = at.switch_page("app_pages/home.py").run()
    at = at.switch_page("app_pages/train.py").run()
    assert at.segmented_control(key="preset").value == "smoke"
    assert at.pills(key="experiment").value == "no-dropout"
    assert at.number_input(key="cfg_epochs").value == 7 and at.number_input(key="cfg_dropout").value == 0.0


def test_without_data_the_page_says_what_to_do_and_offers_no_resume_that_would_fail(
        app_env: Path, tmp_path: Path, offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-data"
    empty.mkdir()
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(empty))
    failed = past_run(app_env, "failed", error="Fashion-MNIST could not be found", cause="DataUnavailableError")
    at = train_page()
    assert not at.exception
    warning = next(w.value for w in at.warning if "Fashion-MNIST" in w.value)
    assert "apt-get install dataset-fashion-mnist" in warning and str(empty) in warning  # the CLI's paragraph
    assert at.button(key="start").disabled and not any("Estimate:" in c.value for c in at.caption)
    assert not any(label.startswith("Resume") for label in labels(at))
    write_fixture_dataset(empty)  # the data arrives
    at.run()
    assert not at.button(key="start").disabled and any(label.startswith("Resume") for label in labels(at))
    assert failed.read_status()["state"] == "failed"
