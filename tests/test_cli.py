"""The command line end to end on fixture data, in a real subprocess."""
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from alexnet_explorer.__main__ import ConsoleReport
from alexnet_explorer.events import Ended

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--preset", "smoke", "--epochs", "1", "--limit-train", "64", "--limit-test", "32", "--device", "cpu"]


def cli(*args, env_extra=None, timeout=300):
    env = {**os.environ, "XDG_CACHE_HOME": "/nonexistent/cache", **(env_extra or {})}
    env.pop("ALEXNET_EXPLORER_DATA", None)
    return subprocess.run([sys.executable, "-m", "alexnet_explorer", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_train_prints_the_chapters_lines_and_writes_a_run(fixture_data_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("train", *FAST, "--data-root", str(fixture_data_dir), "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "training on cpu"
    assert lines[1].startswith("epoch 1/1: loss ")
    assert lines[-2].startswith("loss ") and ", train acc " in lines[-2] and ", test acc " in lines[-2]
    assert lines[-1].endswith(" examples/sec on cpu")
    assert "epoch 1/1 [" in result.stderr  # the progress bar
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "metrics.jsonl", "status.json", "checkpoint.pt"}

    again = cli("train", "--run-dir", str(run_dir), "--data-root", str(fixture_data_dir))
    assert again.returncode == 2 and "add --resume" in again.stderr
    resumed = cli("train", "--run-dir", str(run_dir), "--resume", "--data-root", str(fixture_data_dir))
    assert resumed.returncode == 0 and resumed.stdout.splitlines()[-2] == lines[-2]  # already done: same result


@pytest.mark.parametrize("flags, words", [
    (["--lr", "-0.1"], "learning rate must be positive"),
    (["--resize", "40"], "smallest size is 65"),
    (["--resize", "5000"], "largest is 448"),
    (["--device", "tpu"], "device must be one of"),
    (["--activation", "tanh"], "invalid choice"),
    (["--epochs", "two"], "invalid int value"),
])
def test_bad_flags_give_one_line_and_status_2(flags, words):
    result = cli("train", *flags)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_missing_data_gives_the_paragraph_and_no_traceback(tmp_path, monkeypatch):
    # Only the named folder is tried: the download into it fails here for want of a network (or is refused).
    result = cli("train", *FAST, "--data-root", "/nonexistent/fashion-mnist",
                 env_extra={"https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9"})
    assert result.returncode == 1
    assert "apt-get install dataset-fashion-mnist" in result.stderr and "/nonexistent/fashion-mnist" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_dry_run_trains_a_couple_of_batches(fixture_data_dir):
    result = cli("train", "--preset", "smoke", "--device", "cpu", "--dry-run", "--data-root", str(fixture_data_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("examples/sec on cpu")


@pytest.mark.parametrize(("checkpoint", "said"), [(object(), "the checkpoint is saved"),
                                                  (None, "nothing was saved yet, so a resume starts it again")])
def test_a_stopped_run_says_whether_its_checkpoint_was_saved(checkpoint, said):
    out = io.StringIO()
    nan = float("nan")
    ConsoleReport(out, io.StringIO())(Ended("stopped", 0.0, nan, nan, nan, 0.0, 1.0, "cpu", checkpoint=checkpoint))
    assert out.getvalue().splitlines()[0] == f"stopped at epoch 0.00; {said}"
