"""A run's network on its test set: the confusion matrix against sklearn's, the mistakes, and the cache on disk."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion

from conftest import real_data

from alexnet_explorer.classifier import Classifier, load_classifier
from alexnet_explorer import evaluation, plots, prediction
from alexnet_explorer import train as train_module
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import load_fashion_mnist, subset_indices
from alexnet_explorer.events import EpochEnd
from alexnet_explorer.evaluation import Answers, Evaluation, Mistake, confusion_matrix, most_confused, row_shares
from alexnet_explorer.runs import RunDir, RunRecorder
from alexnet_explorer.train import train

CONFIG = PRESETS["smoke"].replace(epochs=1, limit_train=64, limit_test=40, batch_size=16, device="cpu")


def test_the_confusion_figure_writes_a_few_mistakes_as_under_one_percent_and_none_as_nothing():
    confusion = np.diag([1000 - 20] * 10)
    confusion[0, 1:6] = [1, 4, 5, 6, 4]  # of 1,000 T-shirts: 0.1 %, 0.4 %, 0.5 %, 0.6 %, 0.4 %
    texts = plots.confusion_figure(confusion, [str(n) for n in range(10)]).data[0].text
    assert list(texts[0][:7]) == ["98%", "<1%", "<1%", "<1%", "1%", "<1%", ""]


def test_the_confusion_matrix_is_sklearns():
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    predictions[:200] = labels[:200]
    np.testing.assert_array_equal(confusion_matrix(labels, predictions),
                                  sklearn_confusion(labels, predictions, labels=range(10)))
    shares = row_shares(confusion_matrix(labels[:3], predictions[:3]))
    assert np.allclose(shares.sum(1)[np.unique(labels[:3])], 1) and (shares.sum(1) <= 1).all()


def test_the_most_confused_pairs_come_first_and_read_as_sentences():
    confusion = np.diag([90] * 10)
    confusion[6, 0], confusion[2, 4], confusion[0, 6], confusion[9, 7] = 112, 40, 40, 1
    mistakes = most_confused(confusion, 3)
    assert mistakes == [Mistake(6, 0, 112), Mistake(0, 6, 40), Mistake(2, 4, 40)]
    assert mistakes[0].describe() == "Shirt taken for T-shirt/top: 112 times"
    assert Mistake(9, 7, 1).describe() == "Ankle boot taken for Sneaker: 1 time"


def test_answers_pick_a_cells_pictures():
    answers = Answers(np.array([6, 6, 0, 6]), np.eye(10)[[0, 6, 0, 0]])
    assert answers.cell(6, 0).tolist() == [0, 3] and answers.cell(0, 0).tolist() == [2]
    assert answers.accuracy == 0.5


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, fixture_data_dir: Path) -> RunDir:
    run = RunDir.create(tmp_path_factory.mktemp("runs"), CONFIG, label="smoke")
    train(CONFIG, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    return run


def test_a_finished_run_keeps_its_test_answers_and_signal(finished_run: RunDir, fixture_data_dir: Path):
    saved = Evaluation.load(finished_run.evaluation_path)
    network = load_classifier(finished_run.checkpoint_path)
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    assert (saved.epoch, saved.batch) == (network.epoch, network.batch) == (1, 0)
    order = subset_indices(len(data.test_images), CONFIG.limit_test, CONFIG.seed)
    np.testing.assert_array_equal(saved.test_indices, order.numpy())
    np.testing.assert_array_equal(saved.labels, data.test_labels[order].numpy())
    by_page = prediction.probabilities(network, list(data.test_images[order, 0].numpy()))
    np.testing.assert_allclose(saved.probabilities, by_page, atol=1e-5)  # measured on the training device
    # The run's last test accuracy is the saved answers' own: the curves, the run's status and "Where it errs" give
    # one number, whatever precision the epochs' test passes ran in.
    assert saved.accuracy == network.test_acc == finished_run.read_status()["test_acc"]
    verdicts = prediction.judge(network, saved.familiarity, list(data.test_images[order, 0].numpy()))
    assert np.mean([verdict.flagged for verdict in verdicts]) <= 0.05 + 1e-9


def test_the_last_test_accuracy_is_the_saved_answers_whatever_an_epochs_test_pass_said(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fixture_data_dir: Path):
    monkeypatch.setattr(train_module, "evaluate", lambda *args, **kwargs: -1.0)  # a test pass that disagrees
    config = CONFIG.replace(epochs=2)
    run = RunDir.create(tmp_path, config, label="two epochs")
    recorder, ended_epochs = RunRecorder(run), []

    def emit(event: object) -> None:
        recorder(event)
        if isinstance(event, EpochEnd):
            ended_epochs.append(event.test_acc)

    ended = train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=emit)
    saved = Evaluation.load(run.evaluation_path)
    assert ended_epochs == [-1.0, saved.accuracy] and saved.accuracy >= 0  # the first epoch's pass, then the answers'
    assert ended.test_acc == saved.accuracy == run.read_status()["test_acc"]


def test_the_cache_is_measured_again_for_another_network_and_survives_bad_files(finished_run: RunDir,
                                                                                 fixture_data_dir: Path,
                                                                                 tmp_path: Path):
    network = load_classifier(finished_run.checkpoint_path)
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)
    path = tmp_path / "evaluation.npz"
    path.write_bytes(b"not an npz file")
    assert Evaluation.load(path) is None and not evaluation.is_saved_for(path, network)
    first = evaluation.cached(path, network, data)
    assert evaluation.is_saved_for(path, network)
    again = evaluation.cached(path, network, data)
    np.testing.assert_array_equal(first.probabilities, again.probabilities)
    assert again.familiarity.distance_limit == first.familiarity.distance_limit
    later = Classifier(network.net, network.config, epoch=2, batch=0, test_acc=None)  # a later save
    assert not evaluation.is_saved_for(path, later)
    assert evaluation.cached(path, later, data).epoch == 2 and Evaluation.load(path).epoch == 2
    assert evaluation.is_saved_for(path, later) and not evaluation.is_saved_for(path, network)


def test_a_long_measurement_is_told_apart_from_a_quick_one(fixture_data_dir: Path):
    data = load_fashion_mnist(fixture_data_dir, allow_download=False)  # 300 training and 100 test images
    assert evaluation.measured_pictures(CONFIG, data) == 40 + 64
    assert evaluation.measured_pictures(PRESETS["book"], data) == 100 + 300
    assert evaluation.quick(PRESETS["book"], data)  # 400 pictures at 224 px
    assert not evaluation.quick(PRESETS["book"].replace(resize=448), data)  # 400 at 448 px: 1.5 T multiply-adds


@real_data
def test_the_classroom_preset_is_measured_at_once_and_the_book_only_when_asked():
    data = load_fashion_mnist()
    assert evaluation.measured_pictures(PRESETS["classroom"], data) == 2000 + 5000
    assert evaluation.quick(PRESETS["classroom"], data) and not evaluation.quick(PRESETS["book"], data)


def test_a_run_too_small_to_measure_still_finishes(tmp_path: Path, fixture_data_dir: Path):
    config = CONFIG.replace(limit_train=1, limit_test=4, batch_size=1)
    run = RunDir.create(tmp_path, config, label="one")
    ended = train(config, load_fashion_mnist(fixture_data_dir, allow_download=False), emit=RunRecorder(run))
    assert ended.status == "finished" and not run.evaluation_path.exists()
