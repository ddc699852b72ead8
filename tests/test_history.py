"""Which run a page opens on, and what it says of a network that learned nothing (history.run_to_open,
history.learned_nothing)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import event
from test_curves import CLASSROOM, finished_run

from alexnet_explorer import history
from alexnet_explorer.config import PRESETS
from alexnet_explorer.history import Choice
from alexnet_explorer.runs import RunDir, list_runs


def runs_in_order(root: Path, *accuracies: float | None) -> list[RunDir]:
    """Finished runs with these last test accuracies (None: stopped before its first test), oldest first; returned
    newest first, as list_runs gives them."""
    for place, accuracy in enumerate(accuracies):
        if accuracy is None:
            run = RunDir.create(root, CLASSROOM, label=f"run {place}")
            run.write_status("stopped")
        else:
            run = finished_run(root, f"run {place}", CLASSROOM, [1.0], [accuracy])
        os.utime(run.config_path, (1000 + place, 1000 + place))
    return list_runs(root)


def test_a_page_opens_on_the_class_run_then_the_browsers_choice_then_the_best_finished_run(tmp_path: Path) -> None:
    newest, middle, oldest = runs_in_order(tmp_path, 0.85, 0.88, 0.10)  # accuracies given oldest first
    assert [history.last_test_acc(run.read_events()) for run in (newest, middle, oldest)] == [0.10, 0.88, 0.85]
    assert history.run_to_open([newest, middle, oldest]).run == middle  # not the newest, at chance: the best
    assert history.run_to_open([newest, middle, oldest]).why == "the best finished run (test acc 0.88)"
    assert history.run_to_open([newest, middle, oldest], oldest.name).run == oldest
    assert history.run_to_open([newest, middle, oldest], oldest.name).why == "the class run"
    # A run chosen since the class run was pinned wins; one chosen before it does not.
    assert history.run_to_open([newest, middle, oldest], oldest.name, Choice(newest.name, oldest.name)).run == newest
    assert history.run_to_open([newest, middle, oldest], oldest.name, Choice(newest.name, None)).run == oldest
    assert history.run_to_open([newest, middle, oldest], None, Choice(oldest.name, None)).why == "the run you chose"
    # A class run or a choice the page cannot show (deleted, or without a network on Classify) is passed over.
    assert history.run_to_open([newest, oldest], middle.name, Choice(middle.name, None)).run == oldest
    assert history.run_to_open([]) is None


def test_a_page_opens_on_a_network_before_a_hand_made_pipeline_that_scored_higher(tmp_path: Path) -> None:
    network = finished_run(tmp_path, "network", CLASSROOM, [1.0], [0.8905])
    pipeline = finished_run(tmp_path, "pipeline", PRESETS["hog-kernel-svm"], [1.0], [0.892])
    assert history.run_to_open([pipeline, network]) == history.Opening(network, "the best finished run (test acc 0.89)")
    assert history.run_to_open([pipeline]).run == pipeline  # with no network finished, the pipeline


def test_equal_runs_open_on_the_newest_and_without_a_finished_run_on_the_newest(tmp_path: Path) -> None:
    newest, older = runs_in_order(tmp_path / "equal", 0.8, 0.8)
    assert history.run_to_open([newest, older]).run == newest
    stopped, failed = runs_in_order(tmp_path / "none", None, None)
    failed.write_status("failed", error="nan")
    assert history.run_to_open([stopped, failed]) == history.Opening(stopped, "the newest run")
    stopped.write_status("finished")  # finished, with no test accuracy recorded: still before a failed run
    assert history.run_to_open([failed, stopped]) == history.Opening(stopped, "the newest finished run")


def test_a_run_at_chance_is_said_to_have_learned_nothing_and_the_sigmoid_one_is_the_lesson(tmp_path: Path) -> None:
    sigmoid = finished_run(tmp_path, "sigmoid", CLASSROOM.replace(activation="sigmoid"), [2.3] * 4,
                           [0.1, 0.1, 0.1, 0.089])
    said = history.learned_nothing(sigmoid)
    assert said.startswith("This network learned nothing: its test accuracy, 0.09, is what guessing scores (0.10).")
    assert "That is the sigmoid lesson" in said
    relu = finished_run(tmp_path, "relu", CLASSROOM, [1.0, 0.5], [0.8, 0.87])
    assert history.learned_nothing(relu) is None
    untested = RunDir.create(tmp_path, CLASSROOM, label="untested")
    untested.append_event(event("started", test_examples=2000))
    assert history.learned_nothing(untested) is None  # nothing is known before the first epoch is tested
    avg = finished_run(tmp_path, "avg", CLASSROOM.replace(pooling="avg"), [2.3], [0.1])
    assert "sigmoid" not in history.learned_nothing(avg) and "train this one longer" in history.learned_nothing(avg)


def test_the_run_that_handed_the_device_on_is_the_one_that_ended_just_before(tmp_path: Path) -> None:
    def ended(label: str, state: str, when: float) -> RunDir:
        run = RunDir.create(tmp_path, CLASSROOM, label=label)
        run.status_path.write_text(json.dumps({"state": state, "updated": when}))
        return run

    earlier, just_before, failed = ended("earlier", "finished", 500.0), ended("first", "finished", 990.0), \
        ended("failed", "failed", 995.0)
    queued = RunDir.create(tmp_path, CLASSROOM.replace(activation="sigmoid"), label="sigmoid")
    runs = list_runs(tmp_path)
    assert history.handed_over_from(queued, runs, now=1000.0).path == just_before.path  # still starting
    queued.append_event(event("started", time=1005.0))
    assert history.handed_over_from(queued, runs).path == just_before.path
    assert history.handed_over_from(queued, runs, now=5000.0).path == just_before.path  # from its start, not now
    queued.append_event(event("started", time=2000.0))  # resumed much later: nothing was handed on then
    assert history.handed_over_from(queued, runs) is None
    assert history.handed_over_from(earlier, [earlier, failed]) is None


def test_before_any_network_a_page_opens_on_the_run_training_then_the_first_in_line(tmp_path: Path) -> None:
    training, first, second = (RunDir.create(tmp_path, CLASSROOM, label=label) for label in ("relu", "a", "b"))
    first.write_status("queued", order=1.0)
    second.write_status("queued", order=2.0)
    training.write_status("running", pid=4_000_000, host="gpu-node-2")  # on another machine: taken as it says
    newest_first = [second, first, training]
    assert history.next_network(newest_first) == training  # not the newest run, queued behind it
    assert history.run_to_open(newest_first) == history.Opening(training, "the run training now")
    training.write_status("finished")
    assert history.next_network([second, first]) == first  # the first in line, not the newest
    assert history.next_network([training]) is None
