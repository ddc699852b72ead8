"""What the network compares a picture with: the training images nearest to it in fc7 space.

The fc7 features of the training images searched take one pass over them, so they are computed once per saved network
and kept in the run's folder (``RunDir.neighbours_path``, replaced when a newer network is saved), as float16: the
distances keep three significant digits.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .activations import BATCH, extract_features
from .classifier import Classifier
from .data import FashionMNIST, subset_indices
from .preprocess import to_tensor
from .runs import RunDir, write_atomically

# Training images searched: the first of the run's own training subset, as many as the unlike-the-training-data fit
# reads (about 10 s at 67 px on two CPU cores; 41 MB kept, as float16).
POOL = 5000
NEAREST = 5
FORMAT = 1  # of the kept file; another number is computed again
UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError)


@dataclass(frozen=True)
class TrainingFeatures:
    """The fc7 features of some of a run's training images, from the network saved after ``epoch`` and ``batch``."""

    positions: np.ndarray  # in Fashion-MNIST's training set
    labels: np.ndarray
    features: np.ndarray  # N×4096, float16
    epoch: int
    batch: int


@dataclass(frozen=True)
class Neighbour:
    """A training image near the picture: where it is in the training set, its class, its fc7 distance."""

    position: int
    label: int
    distance: float


def pool_positions(classifier: Classifier, data: FashionMNIST) -> torch.Tensor:
    """The training images searched: the first POOL of the run's own (seeded) training subset."""
    config = classifier.config
    return subset_indices(len(data.train_images), config.limit_train, config.seed)[:POOL]


def compute(classifier: Classifier, data: FashionMNIST,
            progress: Callable[[int, int], None] = lambda done, total: None) -> TrainingFeatures:
    """The fc7 features of the pool's training images, in batches; ``progress`` hears (images done, images)."""
    positions = pool_positions(classifier, data)
    parts = []
    for start in range(0, len(positions), BATCH):
        chosen = positions[start:start + BATCH]
        parts.append(extract_features(classifier.net, data.train_images[chosen], classifier.size)
                     .astype(np.float16))
        progress(start + len(chosen), len(positions))
    return TrainingFeatures(positions.numpy(), data.train_labels[positions].numpy(), np.concatenate(parts),
                            classifier.epoch, classifier.batch)


def save(path: Path, kept: TrainingFeatures) -> None:
    """Write them as one .npz file, atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, format=FORMAT, positions=kept.positions, labels=kept.labels, features=kept.features,
             epoch=kept.epoch, batch=kept.batch)
    write_atomically(path, lambda p: p.write_bytes(buffer.getvalue()))


def load(path: Path, classifier: Classifier) -> TrainingFeatures | None:
    """The kept features of this network (the same epoch and batch), or None when there are none or they are of no
    use."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            if int(kept["format"]) != FORMAT or (int(kept["epoch"]), int(kept["batch"])) != (classifier.epoch,
                                                                                             classifier.batch):
                return None
            return TrainingFeatures(kept["positions"], kept["labels"], kept["features"], classifier.epoch,
                                    classifier.batch)
    except UNREADABLE:
        return None


def features_for(run: RunDir, classifier: Classifier, data: FashionMNIST,
                 progress: Callable[[int, int], None] = lambda done, total: None) -> TrainingFeatures:
    """The run's training features for its saved network: read from its folder, else computed and kept."""
    path = run.neighbours_path
    kept = load(path, classifier)
    if kept is not None:
        return kept
    computed = compute(classifier, data, progress)
    save(path, computed)
    return computed


def nearest(classifier: Classifier, pool: TrainingFeatures, image28: np.ndarray,
            count: int = NEAREST) -> list[Neighbour]:
    """The ``count`` training images of the pool nearest to a uint8 28×28 picture in fc7 space (Euclidean distance),
    nearest first."""
    picture = extract_features(classifier.net, to_tensor(image28), classifier.size)
    distances = np.linalg.norm(pool.features.astype(np.float32) - picture, axis=1)
    order = np.argsort(distances, kind="stable")[:count]
    return [Neighbour(int(pool.positions[k]), int(pool.labels[k]), float(distances[k])) for k in order]
