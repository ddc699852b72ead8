"""A run's network measured on its own test set: every answer (for the confusion matrix and where it errs) and the
fit of the unlike-the-training-data signal, computed once per saved network and kept in the run's folder."""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import RunConfig, forward_macs
from .activations import features_and_logits
from .classifier import Classifier
from .data import CLASSES, FashionMNIST, subset, subset_indices
from .runs import write_atomically
from .unfamiliar import Gaussians, FamiliarityFit, fit

FIT_IMAGES = 5000  # training images the signal's Gaussians are fitted on (about 10 s at 67 px on two CPU cores)
FORMAT = 2  # of the saved file; another number is measured again (1: without the test images' test_unusual)
# What np.load and reading its entries raise for a missing, damaged or foreign file.
UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile)
# What the app measures on its CPU without asking first: about the classroom preset's 7,000 pictures at 67 px
# (seconds); the book's 15,000 at 224 px take minutes there (a finished run brings its own, measured on its device).
QUICK_MACS = 1e12


@dataclass(frozen=True)
class Answers:
    """A network's answers to labelled pictures."""

    labels: np.ndarray
    probabilities: np.ndarray  # N×10

    @property
    def predictions(self) -> np.ndarray:
        return self.probabilities.argmax(1)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.labels).mean()) if len(self.labels) else float("nan")

    def confusion(self) -> np.ndarray:
        """Counts of (true class, answer): rows are what the pictures are, columns what the network said."""
        return confusion_matrix(self.labels, self.predictions)

    def cell(self, true: int, answered: int) -> np.ndarray:
        """Positions of the pictures of class ``true`` answered ``answered``."""
        return np.flatnonzero((self.labels == true) & (self.predictions == answered))


@dataclass(frozen=True)
class Evaluation(Answers):
    """The network saved after ``epoch`` epochs and ``batch`` batches, on the run's test images (``test_indices``:
    their positions in Fashion-MNIST's test set), and the signal fitted for it."""

    epoch: int
    batch: int
    test_indices: np.ndarray
    familiarity: FamiliarityFit

    def save(self, path: Path) -> None:
        """Write it as one .npz file, atomically."""
        g = self.familiarity.gaussians
        arrays = {"format": FORMAT, "epoch": self.epoch, "batch": self.batch, "test_indices": self.test_indices,
                  "labels": self.labels, "probabilities": self.probabilities, "means": g.means,
                  "components": g.components, "variances": g.variances, "rest_variance": g.rest_variance,
                  "test_distances": self.familiarity.test_distances, "test_energies": self.familiarity.test_energies,
                  "distance_limit": self.familiarity.distance_limit, "energy_limit": self.familiarity.energy_limit,
                  "test_unusual": self.familiarity.test_unusual}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_atomically(path, lambda p: p.write_bytes(buffer.getvalue()))

    @classmethod
    def load(cls, path: Path) -> Evaluation | None:
        """A saved evaluation, or None when there is none or it is unreadable or of another format."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                if int(saved["format"]) != FORMAT:
                    return None
                gaussians = Gaussians(saved["means"], saved["components"], saved["variances"],
                                      float(saved["rest_variance"]))
                familiarity = FamiliarityFit(gaussians, saved["test_distances"], saved["test_energies"],
                                             float(saved["distance_limit"]), float(saved["energy_limit"]),
                                             saved["test_unusual"])
                return cls(saved["labels"], saved["probabilities"], int(saved["epoch"]), int(saved["batch"]),
                           saved["test_indices"], familiarity)
        except UNREADABLE:
            return None


def evaluate(net: nn.Sequential, config: RunConfig, data: FashionMNIST, epoch: int, batch: int) -> Evaluation:
    """Answer the run's test images and fit the signal on up to FIT_IMAGES of its training images, on the network's
    device."""
    train_images, train_labels = subset(data.train_images, data.train_labels, config.limit_train, config.seed)
    train_features, _ = features_and_logits(net, config.resize, train_images[:FIT_IMAGES])
    indices = subset_indices(len(data.test_images), config.limit_test, config.seed)
    test_features, test_logits = features_and_logits(net, config.resize, data.test_images[indices])
    familiarity = fit(train_features, train_labels[:FIT_IMAGES], test_features, test_logits)
    return Evaluation(data.test_labels[indices].numpy(), torch.softmax(test_logits.double(), dim=1).float().numpy(),
                      epoch, batch, indices.numpy(), familiarity)


def measured_pictures(config: RunConfig, data: FashionMNIST) -> int:
    """How many pictures ``evaluate`` puts through the network: the run's test images and the fit's training ones."""
    return (len(subset_indices(len(data.test_images), config.limit_test, config.seed))
            + min(FIT_IMAGES, config.limit_train or len(data.train_images), len(data.train_images)))


def quick(config: RunConfig, data: FashionMNIST) -> bool:
    """Whether measuring this run's network takes seconds rather than minutes on a CPU (QUICK_MACS)."""
    return measured_pictures(config, data) * forward_macs(config) <= QUICK_MACS


def is_saved_for(path: Path, classifier: Classifier) -> bool:
    """Whether an evaluation of this network (the same epoch and batch) is saved at ``path``, reading only those
    numbers (a page asks on every rerun; the whole file is megabytes for a full test set)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            return (int(saved["format"]) == FORMAT
                    and (int(saved["epoch"]), int(saved["batch"])) == (classifier.epoch, classifier.batch))
    except UNREADABLE:
        return False


def saved_for(path: Path, classifier: Classifier) -> Evaluation | None:
    """The evaluation saved at ``path`` if it is of this network (the same epoch and batch), else None."""
    return Evaluation.load(path) if is_saved_for(path, classifier) else None


def cached(path: Path, classifier: Classifier, data: FashionMNIST) -> Evaluation:
    """The evaluation of this network saved at ``path``, or a new one, saved there (if the folder can be written)."""
    saved = saved_for(path, classifier)
    if saved is not None:
        return saved
    evaluation = evaluate(classifier.net, classifier.config, data, classifier.epoch, classifier.batch)
    try:
        evaluation.save(path)
    except OSError:
        pass  # a read-only runs folder: measured again next time
    return evaluation


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = len(CLASSES)) -> np.ndarray:
    """classes×classes counts of (true label, prediction)."""
    return np.bincount(np.asarray(labels) * classes + np.asarray(predictions), minlength=classes ** 2).reshape(
        classes, classes)


def row_shares(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its total: the share of each class's pictures given each answer (empty rows stay 0)."""
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros(confusion.shape), where=totals > 0)


@dataclass(frozen=True)
class Mistake:
    """One kind of wrong answer and how often it was given."""

    true: int
    answered: int
    count: int

    def describe(self) -> str:
        return f"{CLASSES[self.true]} taken for {CLASSES[self.answered]}: {self.count} time{'s' * (self.count != 1)}"


def most_confused(confusion: np.ndarray, count: int = 5) -> list[Mistake]:
    """The ``count`` most frequent wrong answers, most frequent first (ties in class order)."""
    wrong = [Mistake(true, answered, int(confusion[true, answered])) for true in range(len(confusion))
             for answered in range(len(confusion)) if true != answered and confusion[true, answered]]
    return sorted(wrong, key=lambda mistake: -mistake.count)[:count]
