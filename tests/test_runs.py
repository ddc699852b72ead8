"""Run directories: the files a run leaves, atomic checkpoints, and checkpoint errors."""
import json
import re

import pytest
import torch

from conftest import event

from alexnet_explorer.config import RunConfig
from alexnet_explorer.events import Ended, EpochEnd, Progress, Started
from alexnet_explorer.model import alexnet
from alexnet_explorer.runs import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    RunDir,
    Checkpoint,
    RunRecorder,
    load_checkpoint,
    slug,
    write_atomically,
)

CONFIG = RunConfig(resize=65, epochs=1, device="cpu")


def small_checkpoint(config=CONFIG):
    return Checkpoint(config, alexnet(65).state_dict(), optimizer=None, epoch=0, batch=0)


def test_create_writes_config_and_queued_status(tmp_path):
    run = RunDir.create(tmp_path, CONFIG, label="Classroom preset")
    again = RunDir.create(tmp_path, CONFIG, label="Classroom preset")
    assert run.path != again.path and "classroom-preset" in run.name
    assert run.read_config() == CONFIG and run.read_status()["state"] == "queued"


def test_recorder_writes_metrics_status_filters_and_checkpoint(tmp_path):
    run = RunDir.create(tmp_path, CONFIG)
    record = RunRecorder(run, pid=123)
    conv1 = torch.randn(96, 1, 11, 11)
    record(Started("cpu", 1, 0, 3, 96, 64, 0.0, conv1=conv1))
    assert run.read_status()["state"] == "running" and run.read_status()["pid"] == 123
    record(Progress(2 / 3, 2.0, 0.2, 10.0, 1.0, 1.0, conv1=conv1 * 1.5))
    record(Progress(1.0, 1.6, 0.3, 10.0, 1.5, 0.5, conv1=conv1 * 2))
    record(EpochEnd(1, 1.5, 0.4, 0.5, 10.0, 2.0, 0.0, conv1=conv1 * 2, checkpoint=small_checkpoint()))
    record(Ended("finished", 1.0, 1.5, 0.4, 0.5, 10.0, 2.0, "cpu"))
    assert [e.kind for e in run.read_events()] == ["started", "progress", "progress", "epoch", "ended"]
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    assert "conv1" not in lines[0] and "checkpoint" not in lines[3]  # tensors travel in-process only
    assert run.filter_epochs() == [0, 1] and torch.equal(run.load_filters(1), conv1 * 2)
    assert run.frame_epochs() == [0.667] and torch.equal(run.load_frame(0.667), conv1 * 1.5)  # epoch ends: above
    assert run.read_status()["state"] == "finished" and run.read_status()["test_acc"] == 0.5
    checkpoint = run.load_checkpoint()
    net, config = checkpoint.network(), checkpoint.config
    assert config == CONFIG and not net.training


def test_a_half_written_metrics_line_is_left_for_the_next_read(tmp_path):
    run = RunDir.create(tmp_path, CONFIG)
    run.append_event(event("progress", epoch=0.2))
    with open(run.metrics_path, "a") as f:
        f.write('{"kind": "progr')
    assert run.read_events() == [event("progress", epoch=0.2)]


def test_a_failed_checkpoint_write_keeps_the_previous_one(tmp_path):
    run = RunDir.create(tmp_path, CONFIG)
    run.save_checkpoint(small_checkpoint())
    before = run.checkpoint_path.read_bytes()

    def crash(path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomically(run.checkpoint_path, crash)
    assert run.checkpoint_path.read_bytes() == before
    assert [p.name for p in run.path.iterdir() if p.name.endswith(".tmp")] == []


def test_corrupt_and_foreign_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="damaged or is not an AlexNet Explorer checkpoint"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save(alexnet(65).state_dict(), tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not an AlexNet Explorer checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    good = tmp_path / "good.pt"
    torch.save(small_checkpoint().to_dict(), good)
    good.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(good)


def test_weights_that_do_not_fit_the_configuration_are_refused(tmp_path):
    checkpoint = small_checkpoint(CONFIG.replace(resize=224))  # 65-px weights under a 224-px configuration
    with pytest.raises(CheckpointError, match="do not fit"):
        checkpoint.network()


def test_a_checkpoint_saved_as_a_plain_dict_before_the_record_loads_with_every_field(tmp_path):
    weights = alexnet(65).state_dict()
    saved = {"format": CHECKPOINT_FORMAT, "config": CONFIG.to_dict(), "model": weights, "optimizer": {"state": {}},
             "epoch": 2, "batch": 3, "train_seconds": 4.5, "sums": torch.tensor([1.0, 2.0]), "count": 7,
             "shuffle_state": torch.tensor([1, 2], dtype=torch.uint8), "torch_state": torch.get_rng_state(),
             "metrics": [0.5, 0.75, 0.8]}
    torch.save(saved, tmp_path / "old.pt")
    loaded = load_checkpoint(tmp_path / "old.pt")
    assert (loaded.config, loaded.epoch, loaded.batch, loaded.count) == (CONFIG, 2, 3, 7)
    assert loaded.metrics == (0.5, 0.75, 0.8)
    assert loaded.test_acc == 0.8 and loaded.optimizer == {"state": {}}
    torch.testing.assert_close(loaded.model, weights)
    assert loaded.to_dict().keys() == saved.keys()  # written back in the same form
    torch.save({"format": CHECKPOINT_FORMAT, "config": CONFIG.to_dict(), "model": weights}, tmp_path / "bare.pt")
    bare = load_checkpoint(tmp_path / "bare.pt")  # only a network: looked at, not resumed
    assert (bare.optimizer, bare.epoch, bare.test_acc) == (None, 0, None)


def test_unreadable_status_reads_as_failed(tmp_path):
    run = RunDir.create(tmp_path, CONFIG)
    run.status_path.write_text("{not json")
    assert run.read_status()["state"] == "failed"
    run.config_path.write_text(json.dumps({"epochs": 1, "colour": "blue"}))
    with pytest.raises(ValueError, match="colour"):
        run.read_config()


def test_one_slug_rule_names_files_and_folders(tmp_path):
    assert slug("Classroom (ReLU) 2") == "classroom-relu-2"
    assert slug("T-shirt/top") == "t-shirt-top" and slug("  Ankle boot ") == "ankle-boot"
    assert slug("???") == slug("") == "run"
    assert RunDir.create(tmp_path, CONFIG, label="Sigmoid, no dropout!").name.endswith("-sigmoid-no-dropout")
    assert RunDir.create(tmp_path, CONFIG, label="?!").name.endswith("-run")


@pytest.mark.parametrize("hostile, reason", [
    ("x` ![](http://evil.example/p.png) `y", "not '!'"),  # an outside image inside a code span it breaks out of
    ("[click](http://evil.example)", "spaces and these marks: # & ' ( ) + , - . — not '/'"),
    ("<img src=x onerror=alert(1)>", "not '<', '=', '>'"),
    ("**everyone** look", "not '*'"),
    ("www.evil.example", "cannot look like a web address"),
    ("class\u200broom", "not U+200B"),  # a zero-width space: looks like 'classroom'
    ("cl\u0430ssroom", "one alphabet, not several (cyrillic, latin)"),  # a Cyrillic а among Latin letters
    ("new\x1bline", "not U+001B"),
    ("x" * 41, "at most 40 characters"),
])
def test_a_name_that_is_not_plain_text_is_refused_and_never_shown(tmp_path, hostile, reason):
    run = RunDir.create(tmp_path, CONFIG, label="mine")
    with pytest.raises(ValueError, match=re.escape(reason)):
        run.rename(hostile)
    assert run.title == "mine"
    run.about_path.write_text(json.dumps({"title": hostile}))  # written by hand, or by an older version
    assert run.title == run.name  # the folder's name, a-z, 0-9 and '-', is shown instead


def test_a_look_alike_of_another_runs_name_is_refused(tmp_path):
    RunDir.create(tmp_path, CONFIG, label="classroom")
    other = RunDir.create(tmp_path, CONFIG, label="other")
    for look_alike in ("CLASSROOM", "ｃｌａｓｓｒｏｏｍ"):  # capitals, full-width letters
        with pytest.raises(ValueError, match="classroom"):
            other.rename(look_alike)
    latin = RunDir.create(tmp_path, CONFIG, label="cepa")
    with pytest.raises(ValueError, match="'сера' looks like the name of another run, 'cepa'"):
        other.rename("\u0441\u0435\u0440\u0430")  # 'сера', all Cyrillic, drawn as 'cepa'
    greek = RunDir.create(tmp_path, CONFIG, label="\u03bf\u03c1\u03b1")  # 'ορα', Greek
    with pytest.raises(ValueError, match="looks like the name of another run"):
        other.rename("opa")
    other.rename("classroom 2 (ReLU) - take 3")
    assert other.title == "classroom 2 (ReLU) - take 3" and greek.title == "ορα" and latin.title == "cepa"
    hostile = RunDir.create(tmp_path, CONFIG, label="x` ![](http://evil.example/p.png) `y")
    assert hostile.title == "x-http-evil-example-p-png-y"  # a label no run may be called becomes its slug
