"""A class in Chromium: an instructor and a student in two browser contexts against one real server with a
passcode. The instructor stays signed in across a reload; the student is not offered Stop on the instructor's run;
the student's own run, queued behind it, keeps its Cancel across a reload."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import held

from alexnet_explorer import classroom, processes
from alexnet_explorer.runs import RunDir, list_runs

from .test_train_browser import WAIT_MS, set_number

pytestmark = pytest.mark.browser
PASSCODE = "owl-42"
expect.set_options(timeout=30_000)


@pytest.fixture
def class_server(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> tuple[str, Path]:
    """The app's server, started with the instructor's passcode in its environment."""
    monkeypatch.setenv(classroom.PASSCODE_ENV, PASSCODE)
    return request.getfixturevalue("app_server")


def sign_in(page: Page, passcode: str) -> None:
    field = page.get_by_label("Instructor's passcode", exact=True)
    field.fill(passcode)
    page.get_by_role("button", name="Sign in").click()


def wait_for_run(runs: Path, count: int) -> list[RunDir]:
    deadline = time.monotonic() + 30
    while len(list_runs(runs)) < count:
        assert time.monotonic() < deadline, "no run folder appeared after pressing Start training"
        time.sleep(0.2)
    return list_runs(runs)


def test_a_student_is_not_offered_stop_on_the_instructors_run(class_server: tuple[str, Path], page: Page) -> None:
    url, runs = class_server
    teacher = page
    student = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

    teacher.goto(f"{url}/train")
    expect(teacher.get_by_text("No runs yet.")).to_be_visible(timeout=WAIT_MS)
    sign_in(teacher, "owl-41")
    expect(teacher.get_by_text("That is not the instructor's passcode.")).to_be_visible()
    expect(teacher.get_by_label("Instructor's passcode", exact=True)).to_have_value("")  # what was typed is not kept
    sign_in(teacher, PASSCODE)
    expect(teacher.get_by_text("Signed in as the instructor.")).to_be_visible()

    # The instructor's run: long enough to be watched (40 epochs of the 300 fixture images).
    teacher.get_by_role("radio", name="smoke", exact=True).click()
    expect(teacher.get_by_label("input size (px)", exact=True)).to_have_value("65")
    for label, value in (("epochs", 40), ("test images", 32)):
        set_number(teacher, label, value)
    teacher.get_by_role("button", name="Start training").click()
    [run] = wait_for_run(runs, 1)
    expect(teacher.get_by_role("button", name="Stop")).to_be_visible(timeout=WAIT_MS)
    teacher.reload()  # on the projector, in front of the class: still the instructor
    expect(teacher.get_by_text("Signed in as the instructor.")).to_be_visible(timeout=WAIT_MS)
    expect(teacher.get_by_role("button", name="Stop")).to_be_visible(timeout=WAIT_MS)

    deadline = time.monotonic() + WAIT_MS / 1000
    while processes.refresh_status(run)["state"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    # Its process held while the student looks: a fast CPU may train even these 40 epochs (400 steps) before the
    # student's page is done with it.
    with held(processes.launched_pid(run)):
        student.goto(f"{url}/train")
        expect(student.get_by_role("strong").filter(has_text=f"Run {run.title}")).to_be_visible(timeout=WAIT_MS)
        expect(student.get_by_text("Started by another browser")).to_be_visible(timeout=WAIT_MS)
        assert student.get_by_role("button", name="Stop").count() == 0
        # The student's own run waits behind it, and stays hers after a reload (her browser, not her tab).
        student.get_by_role("radio", name="smoke", exact=True).click()
        expect(student.get_by_label("input size (px)", exact=True)).to_have_value("65")
        student.get_by_role("button", name="Start training").click()
        mine = next(other for other in wait_for_run(runs, 2) if other.path != run.path)
        expect(student.get_by_text(f"Run {mine.title} is queued: 1st in line")).to_be_visible(timeout=WAIT_MS)
        student.reload()
        expect(student.get_by_role("button", name=f"Cancel {mine.title}")).to_be_visible(timeout=WAIT_MS)
        assert student.get_by_role("button", name="Stop").count() == 0

        student.get_by_role("button", name=f"Cancel {mine.title}").click()
        expect(student.get_by_role("button", name=f"Cancel {mine.title}")).to_have_count(0)
        assert not mine.path.exists()

    teacher.get_by_role("button", name="Stop").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    while processes.refresh_status(run)["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.read_status()["state"] == "stopped"
    for other in (teacher, student):
        assert other.get_by_test_id("stException").count() == 0
