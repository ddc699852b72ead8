"""The scoreboard: its sentence in every case (a tie, either side winning, something missing), its rows from real run
folders, the command line's table, and the page through AppTest."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from alexnet_explorer import plots, scoreboard
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import DATA_ENV, load_fashion_mnist
from alexnet_explorer.runs import RUNS_ENV, RunDir, RunRecorder
from alexnet_explorer.scoreboard import Entry
from alexnet_explorer.train import train
from app_pages.widgets.pages import PAGES_DIR

ROOT = Path(__file__).resolve().parents[1]


def board_entry(run: str, accuracy: float, handmade: bool, test_images: int = 10_000,
                train_images: int = 60_000) -> Entry:
    return Entry(run, "HOG + linear SVM" if handmade else "AlexNet", handmade, "", accuracy, test_images,
                 train_images, 90.0, 1, "cpu")


@pytest.mark.parametrize("learned, handmade, words", [
    (0.871, 0.876, "the best hand-made pipeline, HOG + linear SVM (run *hog*: 87.6% in 1 min 30 s), **beats** the "
                   "best learned network, AlexNet (run *net*: 87.1% in 1 min 30 s), by 0.5 points: here the "
                   "chapter's claim does not hold"),
    (0.905, 0.876, "the best learned network, AlexNet (run *net*: 90.5% in 1 min 30 s), **beats** the best hand-made "
                   "pipeline, HOG + linear SVM (run *hog*: 87.6% in 1 min 30 s), by 2.9 points."),
    (0.878, 0.876, "**matches** the best learned network, AlexNet (run *net*: 87.8% in 1 min 30 s): they are 0.2 "
                   "points apart, less than the luck of which test pictures are hard."),
])
def test_the_sentence_says_who_wins_with_its_numbers(learned: float, handmade: float, words: str) -> None:
    board = [board_entry("net", learned, False), board_entry("hog", handmade, True),
             board_entry("weaker", 0.5, False)]
    assert words in scoreboard.verdict(board)


def test_the_sentence_says_when_the_two_learned_from_different_training_sets() -> None:
    same = scoreboard.verdict([board_entry("net", 0.905, False), board_entry("hog", 0.876, True)])
    assert "training sets differ" not in same
    different = scoreboard.verdict([board_entry("net", 0.905, False, train_images=21_000),
                                    board_entry("hog", 0.876, True)])
    assert different.startswith(same)
    assert different.endswith("Their training sets differ, though: the network learned from 21,000 pictures and the "
                              "pipeline from 60,000, so the data differ as well as the features.")


def test_runs_on_part_of_the_test_set_are_left_out_of_the_sentence() -> None:
    board = [board_entry("net", 0.95, False, test_images=2000), board_entry("hog", 0.876, True)]
    assert scoreboard.verdict(board).startswith("Nothing to compare yet: train a network (preset classroom or "
                                                "lenet-modern) with all 10,000 test images")
    assert "a hand-made pipeline (preset hog-svm) and a network" in scoreboard.verdict([])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, fixture_data_dir: Path) -> Path:
    """A runs folder with a fitted HOG pipeline, a tiny LeNet, and a run that never finished, on the fixture data."""
    root = tmp_path_factory.mktemp("runs")
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    for name, config in (("hog", PRESETS["hog-svm"]),
                         ("lenet", PRESETS["lenet-modern"].replace(epochs=1, limit_train=64, batch_size=16))):
        run = RunDir.create(root, config.replace(device="cpu"), label=name)
        train(run.read_config(), data, emit=RunRecorder(run))
    RunDir.create(root, PRESETS["classroom"], label="unfinished")
    return root


def test_the_published_figures_labels_each_sit_at_a_height_of_their_own() -> None:
    references = [(reference.label, reference.accuracy) for reference in scoreboard.REFERENCES]
    figure = plots.scoreboard_figure(["at chance", "classroom"], [0.1, 0.88], [False, False], [True, True], references)
    shifts = [annotation.yshift for annotation in figure.layout.annotations]
    assert len(shifts) == len(set(shifts)) == len(references) >= 3  # a run at chance stretches the axis: no overlap
    assert figure.layout.margin.t > max(shifts) + 11  # and the highest label, 11 px high, stays inside the figure


def test_the_board_reads_every_finished_run_from_its_folder(runs: Path) -> None:
    board = scoreboard.entries(runs)
    assert sorted(e.run for e in board) == ["hog", "lenet"]
    hog = next(e for e in board if e.run == "hog")
    assert (hog.kind, hog.handmade, hog.test_images, hog.train_images, hog.parameters) == (
        "HOG + linear SVM", True, 100, 300, 12_970)
    lenet = next(e for e in board if e.run == "lenet")
    assert (lenet.kind, lenet.handmade, lenet.train_images, lenet.parameters) == ("LeNet", False, 64, 61_706)
    assert [e.accuracy for e in board] == sorted((e.accuracy for e in board), reverse=True)
    # the chapter's AlexNet at 224 px, layer by layer: conv1 … conv5, fc6 (6,400 inputs), fc7, fc8
    book = [96 * 121 + 96, 256 * 96 * 25 + 256, 384 * 256 * 9 + 384, 384 * 384 * 9 + 384, 256 * 384 * 9 + 256,
            6400 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 10 + 10]
    assert scoreboard.learned_parameters(PRESETS["book"]) == sum(book) == 46_764_746
    # a pipeline learns only its classifier: ten classes' weights on its features (a kernel SVM: on its 2,000
    # landmarks' similarities), and a bias each
    assert [scoreboard.learned_parameters(PRESETS[name]) for name in ("raw-linear", "hog-svm", "hog-kernel-svm")] == [
        (784 + 1) * 10, (1296 + 1) * 10, (2000 + 1) * 10]


def test_the_command_line_prints_the_board(runs: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "alexnet_explorer", "scoreboard", "--runs", str(runs)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| run | kind | test accuracy |")
    assert any(line.startswith("| hog | HOG + linear SVM | ") and "| 100 | 300 |" in line for line in lines)
    assert lines[-1].startswith("Nothing to compare yet")  # the fixture's 100 test images are not all 10,000


def test_the_page_shows_the_sentence_the_chart_and_the_table(runs: Path, monkeypatch: pytest.MonkeyPatch,
                                                            fixture_data_dir: Path) -> None:
    monkeypatch.setenv(RUNS_ENV, str(runs))
    monkeypatch.setenv(DATA_ENV, str(fixture_data_dir))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at = at.switch_page(f"{PAGES_DIR}/scoreboard.py").run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("Nothing to compare yet") for m in at.markdown)
    assert [row for row in at.dataframe[0].value["run"]] == [e.run for e in scoreboard.entries(runs)]
    assert any("1.2 million colour photographs" in m.value for m in at.markdown)
    assert at.get("plotly_chart")


def test_an_empty_runs_folder_says_what_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNS_ENV, str(tmp_path))
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at = at.switch_page(f"{PAGES_DIR}/scoreboard.py").run()
    assert not at.exception and "No finished run yet" in at.info[0].value


def test_the_benchmark_trains_each_preset_once_per_seed_and_keeps_what_is_done(
        tmp_path: Path, fixture_data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    from benchmarks import scoreboard as benchmark

    arguments = ["--runs", str(tmp_path), "--presets", "hog-svm", "--seeds", "0", "1",
                 "--data-root", str(fixture_data_dir)]
    benchmark.main(arguments)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| hog-svm | ")]
    assert [row.split(" | ")[1] for row in rows[:2]] == ["0", "1"] and rows[2].startswith("| hog-svm | 2 | ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hog-svm-s0", "hog-svm-s1"]
    before = (tmp_path / "hog-svm-s0" / "checkpoint.pt").stat().st_mtime
    benchmark.main(arguments)  # finished runs are read back, not trained again
    assert (tmp_path / "hog-svm-s0" / "checkpoint.pt").stat().st_mtime == before
