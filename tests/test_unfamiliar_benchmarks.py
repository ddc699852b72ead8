"""The drawn pictures the unlike-the-training-data and augmentation benchmarks use, and both scripts end to end on the fixture data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alexnet_explorer import unfamiliar
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV, load_fashion_mnist
from alexnet_explorer.preprocess import preprocess
from alexnet_explorer.runs import RunDir, RunRecorder
from alexnet_explorer.train import train
from benchmarks import augmentation, drawn_answers
from benchmarks import unfamiliar as unfamiliar_benchmark
from benchmarks.drawings import SHAPES, STYLES, drawn_set, foreign_sets


def test_every_class_is_drawn_in_every_style_and_outlines_read_as_outlines():
    drawings = drawn_set(2, seed=3)
    assert len(drawings) == 2 * len(SHAPES) * len(STYLES)
    hollow = {style: 0 for style in STYLES}
    for picture, label, style in drawings:
        image28 = preprocess(picture).image28  # each one is something the app answers
        hollow[style] += "hollow" in unfamiliar.hints(image28)
    assert hollow["filled"] == hollow["brush"] == 0 and hollow["outline"] >= 0.7 * 2 * len(SHAPES)


@pytest.fixture
def tiny_run(tmp_path: Path, fixture_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    config = PRESETS["smoke"].replace(epochs=1, limit_train=64, limit_test=20, batch_size=16, device="cpu")
    run = RunDir.create(tmp_path, config, label="smoke")
    train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    return run.path


def test_the_unfamiliar_benchmark_prints_a_row_per_set(tiny_run: Path, capsys: pytest.CaptureFixture):
    unfamiliar_benchmark.main(["--run", str(tiny_run), "--per-class", "1", "--count", "3"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    sets = [row.split(" | ")[0].removeprefix("| ") for row in rows[1:]]
    assert sets == ["the run's own test images (calibration)", "the other test images (held out)",
                    "photo-like test garments (dark on white, JPEG)", *(f"drawn garments, {s}" for s in STYLES),
                    *foreign_sets(1, load_fashion_mnist().test_images[:1, 0].numpy())]
    assert rows[1].split(" | ")[1] == "20"  # the run's own test images


def test_the_augmentation_benchmark_measures_a_run(tiny_run: Path, capsys: pytest.CaptureFixture):
    augmentation.main(["--runs", str(tiny_run), "--per-class", "1", "--rounds", "1"])
    out = capsys.readouterr().out
    assert "drawings: " in out and f"ms for a batch of {PRESETS['classroom'].batch_size} (classroom)" in out
    [row] = [line for line in out.splitlines() if line.startswith(f"| {tiny_run.name} ")]
    assert row.split(" | ")[1] == "none" and len(row.split(" | ")) == 8


def test_the_drawn_answers_benchmark_compares_drawings_with_photos_and_answers_them(tiny_run: Path,
                                                                                     capsys: pytest.CaptureFixture,
                                                                                     tmp_path: Path):
    drawn_answers.main([str(tiny_run), "--per-class", "1", "--montage", str(tmp_path / "drawn.png")])
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [row[0] for row in rows[1:4]] == ["| test pictures", "| drawn, filled", "| drawn, brush"]
    answers = [row for row in rows if row[0] == f"| {tiny_run}"]
    assert [row[1] for row in answers] == ["filled", "brush"] and all(len(row) == 14 for row in answers)
    assert (tmp_path / "drawn.png").exists()


def test_a_flat_fill_has_no_ink_spread_and_a_centred_one_is_not_off_centre():
    square = np.zeros((28, 28), np.uint8)
    square[9:19, 9:19] = 255
    looks = drawn_answers.looks(square[None])
    assert looks["ink spread"] == 0 and looks["off centre"] == pytest.approx(0, abs=1e-5)
    assert looks["cover"] == pytest.approx(100 / 784)
    moved = np.roll(square, 5, axis=1)
    assert drawn_answers.looks(moved[None])["off centre"] == pytest.approx(5, abs=1e-4)
