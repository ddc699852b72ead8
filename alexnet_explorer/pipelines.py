"""The pre-2012 way as runs: features computed by a fixed recipe (the raw pixels, or HOG), then a linear classifier.

Each pipeline is an ``nn.Sequential`` like the networks, so that the run store, evaluation, Classify and "Where it
errs" take it as they take AlexNet: a fixed front that computes the features (``pixels`` or ``hog``), a fixed layer
that standardises them (``scaled``, the training images' mean and std per feature, as scikit-learn's
``StandardScaler``), and the classifier's one linear layer (``fc``), whose weights scikit-learn fits. HOG is written
here in torch rather than called from scikit-image so that the gradient-based views work through it; it computes
what ``skimage.feature.hog`` computes (a test compares the two). Like ``model.py`` this module imports nothing of
its package.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.linear_model import SGDClassifier
from torch import nn

SIDE = 28  # the pipelines read Fashion-MNIST's pictures at their own size


class HOG(nn.Module):
    """Histograms of oriented gradients (Dalal & Triggs 2005) as ``skimage.feature.hog`` computes them with
    ``block_norm='L2-Hys'``: centred differences (0 at the border), each pixel's gradient magnitude added to the bin
    of its unsigned orientation, averaged over each cell, then each block of cells normalised, clipped at 0.2 and
    normalised again. N×1×S×S pictures in [0, 1] → N×features."""

    def __init__(self, orientations: int = 9, cell: int = 4, block: int = 2) -> None:
        super().__init__()
        self.orientations, self.cell, self.block = orientations, cell, block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image = x[:, 0]
        rows, cols = torch.zeros_like(image), torch.zeros_like(image)
        rows[:, 1:-1] = image[:, 2:] - image[:, :-2]
        cols[:, :, 1:-1] = image[:, :, 2:] - image[:, :, :-2]
        magnitude = torch.sqrt(rows ** 2 + cols ** 2 + 1e-12) * (rows != 0).logical_or(cols != 0)
        angle = torch.rad2deg(torch.atan2(rows, cols)).remainder(180)
        bins = (angle / (180 / self.orientations)).floor().clamp(max=self.orientations - 1).long().detach()
        votes = F.one_hot(bins, self.orientations).movedim(-1, 1) * magnitude[:, None]
        side = image.shape[-1] // self.cell * self.cell  # skimage leaves out the pixels past the last whole cell
        cells = F.avg_pool2d(votes[..., :side, :side], self.cell)  # N×orientations×cells×cells
        blocks = cells.unfold(2, self.block, 1).unfold(3, self.block, 1)  # N×O×B×B×block×block
        blocks = blocks.permute(0, 2, 3, 4, 5, 1).flatten(3)  # N×B×B×(block·block·O), skimage's order
        eps = 1e-5
        normed = blocks / torch.sqrt((blocks ** 2).sum(-1, keepdim=True) + eps ** 2)
        normed = normed.clamp(max=0.2)
        normed = normed / torch.sqrt((normed ** 2).sum(-1, keepdim=True) + eps ** 2)
        return normed.flatten(1)

    def extra_repr(self) -> str:
        return f"orientations={self.orientations}, cell={self.cell}, block={self.block}"


class Scaled(nn.Module):
    """A fixed layer: each feature less the training images' mean of it, divided by their std (buffers, set by the
    fit and kept in the checkpoint, never learned)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))

    @property
    def out_features(self) -> int:
        """As many numbers as it is given: the width of the features, read like a layer's."""
        return self.mean.numel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


@dataclass(frozen=True)
class Pipeline:
    """A hand-made pipeline: its name for people, its fixed front, and the linear classifier scikit-learn fits (made
    from the run's seed)."""

    title: str
    front: type[nn.Module]
    classifier: Callable[[int], ClassifierMixin]


class Pixels(nn.Sequential):
    """The raw pixels as the features: N×1×S×S → N×S²."""

    def __init__(self) -> None:
        super().__init__(nn.Flatten())


# Both classifiers are fitted by 20 averaged passes of SGD over the standardised features (scikit-learn's
# SGDClassifier, L2 penalty 1e-4): the exact solvers took 4-6 minutes on two cores (lbfgs on 60,000 × 784 pixels,
# liblinear on 60,000 × 1,296 HOG numbers) for about a point (docs/experiments.md).
def _logistic_regression(seed: int) -> SGDClassifier:
    """Logistic regression: the log loss, one class against the rest."""
    return SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=20, tol=None, average=True, random_state=seed)


def _linear_svm(seed: int) -> SGDClassifier:
    """A linear SVM: the hinge loss, one class against the rest."""
    return SGDClassifier(loss="hinge", alpha=1e-4, max_iter=20, tol=None, average=True, random_state=seed)


PIPELINES: dict[str, Pipeline] = {
    "raw-linear": Pipeline("raw pixels + logistic regression", Pixels, _logistic_regression),
    "hog-svm": Pipeline("HOG + linear SVM", HOG, _linear_svm),
}


def pipeline(name: str, input_size: int = SIDE, num_classes: int = 10) -> nn.Sequential:
    """Build one of PIPELINES for square pictures of ``input_size`` pixels, its classifier not yet fitted."""
    if name not in PIPELINES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)}, not {name!r}")
    front = PIPELINES[name].front()
    with torch.no_grad():
        features = front(torch.zeros(1, 1, input_size, input_size)).shape[1]
    return nn.Sequential(OrderedDict([("features", front), ("scaled", Scaled(features)),
                                      ("fc", nn.Linear(features, num_classes))]))


def feature_count(name: str, input_size: int = SIDE) -> int:
    """How many numbers the pipeline's front computes of one picture (784 pixels; 1,296 for HOG at 28 px)."""
    return pipeline(name, input_size).scaled.out_features


def is_pipeline(net: nn.Module) -> bool:
    """Whether a network is one of the hand-made pipelines (nothing in it is learned but its last layer)."""
    return isinstance(getattr(net, "scaled", None), Scaled)


def set_classifier(net: nn.Sequential, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor) -> None:
    """Give a pipeline its fitted standardisation and linear classifier (std 0, a constant feature, is left at 1)."""
    with torch.no_grad():
        net.scaled.mean.copy_(mean)
        net.scaled.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        net.fc.weight.copy_(weight)
        net.fc.bias.copy_(bias)

