"""The README's "In class" steps through AppTest (#25): the pages open on the network worth showing and say when it
learned nothing, and a browser's choices last for its session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from conftest import event
from streamlit.testing.v1 import AppTest

from alexnet_explorer.config import RunConfig, build_model
from alexnet_explorer.data import DATA_ENV
from alexnet_explorer.runs import RUNS_ENV, Checkpoint, RunDir, list_runs
from app_pages.widgets.pages import HOME, PAGES_DIR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
TINY = RunConfig(epochs=1, resize=65, limit_train=32, limit_test=16, batch_size=16, device="cpu")
FILTERS, CLASSIFY = f"{PAGES_DIR}/filters.py", f"{PAGES_DIR}/classify.py"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path) -> Path:
    """An empty runs folder and the fixture data, through the app's environment variables; no passcode."""
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.delenv("ALEXNET_EXPLORER_INSTRUCTOR_PASSCODE", raising=False)
    return tmp_path / "runs"


def made_run(runs: Path, label: str, test_acc: float, config: RunConfig = TINY) -> RunDir:
    """A finished run, made the newest: conv1 at epochs 0 and 1, a network (made up, for speed) and its metrics,
    ending at ``test_acc`` on 2,000 test images."""
    torch.manual_seed(len(list_runs(runs)))
    net = build_model(config)
    run = RunDir.create(runs, config, label=label)
    run.save_filters(0, net.conv1.weight.detach().clone())
    run.save_filters(1, net.conv1.weight.detach() * 1.5)
    run.save_checkpoint(Checkpoint(config, net.state_dict(), None, epoch=1, batch=0))
    run.append_event(event("started", device="cpu", epochs=1, batches_per_epoch=2, train_examples=32,
                           test_examples=2000, time=1.0))
    run.append_event(event("epoch", epoch=1, train_loss=2.3, train_acc=0.1, test_acc=test_acc))
    run.write_status("finished")
    newest = max(r.config_path.stat().st_mtime for r in list_runs(runs)) + 1
    os.utime(run.config_path, (newest, newest))
    return run


def texts(at: AppTest, kind: str) -> str:
    return " ".join(element.value for element in at.get(kind))


def test_the_pages_open_on_the_best_network_say_when_one_learned_nothing_and_keep_a_choice(runs: Path) -> None:
    relu = made_run(runs, "classroom", 0.87)
    sigmoid = made_run(runs, "classroom-sigmoid", 0.089, TINY.replace(activation="sigmoid"))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = at.switch_page(FILTERS).run()
    assert not at.exception
    assert at.selectbox(key="filters_run").value == relu.name  # not the newest, which is at chance
    assert "Run **classroom**, the best finished run (test acc 0.87)" in texts(at, "markdown")
    assert "learned nothing" not in texts(at, "info")
    at = at.switch_page(CLASSIFY).run()
    assert at.selectbox(key="classify_run").value == relu.name and not at.exception

    at.selectbox(key="classify_run").set_value(sigmoid.name).run()  # the teacher shows the sigmoid network
    said = texts(at, "info")
    assert "This network learned nothing: its test accuracy, 0.09" in said and "the sigmoid lesson" in said
    at = at.switch_page(FILTERS).run()  # the choice holds on the other page
    assert at.selectbox(key="filters_run").value == sigmoid.name
    assert "the run you chose" in texts(at, "markdown") and "the sigmoid lesson" in texts(at, "info")
    at = at.switch_page(HOME.path).run()
    at = at.switch_page(CLASSIFY).run()  # and on a later visit
    assert at.selectbox(key="classify_run").value == sigmoid.name and not at.exception
