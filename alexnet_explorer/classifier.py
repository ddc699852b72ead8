"""A trained network as the pages ask it: the network in eval mode, its settings, and how far training had come."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from .config import RunConfig
from .pipelines import PIPELINES
from .runs import load_checkpoint


@dataclass(frozen=True)
class Classifier:
    """A trained network in eval mode, its settings, and how far its training had come when it was saved."""

    net: nn.Sequential
    config: RunConfig
    epoch: int  # epochs completed
    batch: int  # batches into the next epoch (a run stopped mid-epoch), else 0
    test_acc: float | None  # after the last completed epoch

    @property
    def noun(self) -> str:
        """What it is, for a sentence: 'pipeline' for a hand-made pipeline, else 'network'."""
        return "pipeline" if self.config.network in PIPELINES else "network"

    @property
    def size(self) -> int:
        """The side of the square input the network takes (28×28 pictures are resized to it)."""
        return self.config.resize


def load_classifier(path: str | Path) -> Classifier:
    """The network saved in a run's checkpoint (loaded with weights_only); CheckpointError if unusable."""
    checkpoint = load_checkpoint(path)
    return Classifier(checkpoint.network(), checkpoint.config, checkpoint.epoch, checkpoint.batch,
                      checkpoint.test_acc)


def describe_progress(classifier: Classifier) -> str:
    """How far training had come when the network was saved, e.g. 'after epoch 3 of 10, test accuracy 81.2%'."""
    saved = f"after epoch {classifier.epoch} of {classifier.config.epochs}"
    if classifier.batch:
        saved += f" and {classifier.batch} batches of the next (it was stopped mid-epoch)"
    return saved + (f", test accuracy {classifier.test_acc:.1%}" if classifier.test_acc is not None else "")
