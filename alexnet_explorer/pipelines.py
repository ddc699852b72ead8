"""The pre-2012 way as runs: features computed by a fixed recipe (the raw pixels, HOG, or a bank of hand-made filters),
then a linear classifier or a kernel SVM.

Each pipeline is an ``nn.Sequential`` like the networks, so that the run store, evaluation, Classify and "Where it
errs" take it as they take AlexNet: a fixed front that computes the features (``pixels`` or ``hog``), a fixed layer
that standardises them (``scaled``, the training images' mean and std per feature, as scikit-learn's
``StandardScaler``), for a kernel SVM a fixed layer that maps them to the kernel's space (``kernel``, scikit-learn's
``Nystroem``), and the classifier's one linear layer (``fc``), whose weights scikit-learn fits. HOG is written
here in torch rather than called from scikit-image so that the gradient-based views work through it; it computes
what ``skimage.feature.hog`` computes (a test compares the two). Like ``model.py`` this module imports nothing of
its package.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDClassifier
from sklearn.utils import check_random_state
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


def gabor(angle_degrees: float, wavelength: float = 5.0, sigma: float = 2.5, aspect: float = 0.5, size: int = 11,
          phase: float = 0.0) -> torch.Tensor:
    """A size×size real Gabor kernel (float64), less its mean so that flat regions give no response: a cosine wave
    across the given orientation under a Gaussian, shifted by ``phase`` (0: a bar, 90: an edge)."""
    half = size // 2
    y, x = torch.meshgrid(torch.arange(-half, half + 1, dtype=torch.float64),
                          torch.arange(-half, half + 1, dtype=torch.float64), indexing="ij")
    theta = math.radians(angle_degrees)
    along = x * math.cos(theta) + y * math.sin(theta)
    across = -x * math.sin(theta) + y * math.cos(theta)
    kernel = (torch.exp(-(along ** 2 + (aspect * across) ** 2) / (2 * sigma ** 2))
              * torch.cos(2 * math.pi * along / wavelength + math.radians(phase)))
    return kernel - kernel.mean()


def _gaussian(sigma: float, size: int) -> torch.Tensor:
    half = size // 2
    squared = torch.arange(-half, half + 1, dtype=torch.float64) ** 2
    kernel = torch.exp(-(squared[:, None] + squared[None]) / (2 * sigma ** 2))
    return kernel / kernel.sum()


BANK_NORM = 1.41  # each filter's length: that of a kaiming-started 11×11 filter (std √(2/121) × 11)


def filter_bank(size: int = 11, length: float = BANK_NORM) -> torch.Tensor:
    """96 hand-made size×size filters, the count of AlexNet's conv1, as 96×1×size×size float32: Gabor filters at 8
    orientations and 4 wavelengths in 2 phases (64: bars and edges at every angle and scale), differences of
    Gaussians at 4 scales, light-centred and dark-centred (8: spots and rings), first derivatives of a Gaussian at 8
    angles and 2 scales (16: edges, as Sobel's), and Gaussian blobs at 4 scales, light and dark (8). Each has
    length BANK_NORM."""
    kernels = [gabor(angle, wavelength, sigma=wavelength / 2, size=size, phase=phase)
               for wavelength in (3.0, 4.5, 6.5, 9.0) for angle in (22.5 * i for i in range(8)) for phase in (0, 90)]
    for sigma in (0.8, 1.3, 2.0, 3.0):
        centre_surround = _gaussian(sigma, size) - _gaussian(1.8 * sigma, size)
        kernels += [centre_surround, -centre_surround]
    half = size // 2
    y, x = torch.meshgrid(torch.arange(-half, half + 1, dtype=torch.float64),
                          torch.arange(-half, half + 1, dtype=torch.float64), indexing="ij")
    for sigma in (1.0, 2.0):
        for angle in range(0, 360, 45):
            theta = math.radians(angle)
            kernels.append((x * math.cos(theta) + y * math.sin(theta)) * _gaussian(sigma, size))
    for sigma in (1.0, 1.8, 2.8, 4.0):
        kernels += [_gaussian(sigma, size), -_gaussian(sigma, size)]
    bank = torch.stack(kernels)
    bank = bank / bank.flatten(1).norm(dim=1)[:, None, None] * length
    return bank[:, None].float()


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


LANDMARKS = 2000  # training pictures a kernel SVM compares each picture with (fewer if it trains on fewer)


class KernelMap(nn.Module):
    """A fixed layer: how alike a picture's standardised features are to those of LANDMARKS training pictures by the
    RBF kernel exp(−γ‖x − l‖²), whitened by the landmarks' own kernel matrix. A linear classifier on its output is
    then an RBF-kernel SVM, approximated with that many landmarks (Nyström's method, as scikit-learn's ``Nystroem``
    computes it; buffers set by the fit, never learned). A landmark left unused (fewer training pictures) gives 0."""

    def __init__(self, features: int, landmarks: int = LANDMARKS) -> None:
        super().__init__()
        self.register_buffer("landmarks", torch.zeros(landmarks, features))
        self.register_buffer("whitening", torch.zeros(landmarks, landmarks))
        self.register_buffer("gamma", torch.zeros(()))

    @property
    def out_features(self) -> int:
        """One number per landmark."""
        return self.whitening.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-self.gamma * torch.cdist(x, self.landmarks).square()) @ self.whitening.T

    def extra_repr(self) -> str:
        return f"landmarks={self.out_features}, features={self.landmarks.shape[1]}"


@dataclass(frozen=True)
class Pipeline:
    """A hand-made pipeline: its name for people, its fixed front, the linear classifier scikit-learn fits (made
    from the run's seed) and, for a kernel SVM, the kernel's map (made from the seed, the number of features and of
    training pictures)."""

    title: str
    front: type[nn.Module]
    classifier: Callable[[int], ClassifierMixin]
    kernel: Callable[[int, int, int], Nystroem] | None = None


class FilterBankFeatures(nn.Module):
    """The hand-made ``filter_bank`` over the picture, each response rectified (its absolute value, as Jarrett et al.
    2009) and averaged over 4×4 regions: N×1×S×S → N×(96·16)."""

    def __init__(self, regions: int = 4) -> None:
        super().__init__()
        self.register_buffer("bank", filter_bank())
        self.regions = regions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        responses = F.conv2d(x, self.bank, padding=self.bank.shape[-1] // 2).abs()
        return F.adaptive_avg_pool2d(responses, self.regions).flatten(1)


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


def landmarks(pictures: int) -> int:
    """How many training pictures a kernel SVM that learns from ``pictures`` compares each picture with."""
    return min(LANDMARKS, pictures)


def _rbf_map(seed: int, features: int, pictures: int) -> Nystroem:
    """The RBF kernel's map through LANDMARKS training pictures drawn by the seed (all of them, if fewer). γ is half
    scikit-learn's 'scale' for standardised features (1 / features): with 1,000 landmarks on HOG it scored 0.887,
    against 0.886 at 'scale' and 0.875 at twice it (docs/experiments.md)."""
    return Nystroem(kernel="rbf", gamma=0.5 / features, n_components=landmarks(pictures), random_state=seed)


def _kernel_svm(seed: int) -> SGDClassifier:
    """The linear SVM on the kernel's map: the hinge loss as ``_linear_svm``, with a penalty a hundred times weaker (the
    map's numbers are small, each picture's similarity to itself being 1, and need large weights; with 1,000 landmarks
    it scored 0.866 at 1e-4, 0.880 at 1e-5 and 0.886 at 1e-6), in ten passes (twenty scored the same in more time)."""
    return SGDClassifier(loss="hinge", alpha=1e-6, max_iter=10, tol=None, average=True, random_state=seed)


PIPELINES: dict[str, Pipeline] = {
    "raw-linear": Pipeline("raw pixels + logistic regression", Pixels, _logistic_regression),
    "hog-svm": Pipeline("HOG + linear SVM", HOG, _linear_svm),
    "filters-svm": Pipeline("hand-made filter bank + linear SVM", FilterBankFeatures, _linear_svm),
    "hog-kernel-svm": Pipeline("HOG + RBF-kernel SVM", HOG, _kernel_svm, _rbf_map),
}


def pipeline(name: str, input_size: int = SIDE, num_classes: int = 10) -> nn.Sequential:
    """Build one of PIPELINES for square pictures of ``input_size`` pixels, its classifier not yet fitted."""
    if name not in PIPELINES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)}, not {name!r}")
    front = PIPELINES[name].front()
    with torch.no_grad():
        features = front(torch.zeros(1, 1, input_size, input_size)).shape[1]
    layers: list[tuple[str, nn.Module]] = [("features", front), ("scaled", Scaled(features))]
    if PIPELINES[name].kernel:
        layers.append(("kernel", KernelMap(features)))
    layers.append(("fc", nn.Linear(layers[-1][1].out_features, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def multiply_adds(name: str, input_size: int = SIDE) -> int:
    """Multiply-adds a picture costs past the features: the kernel's map, if any, and the classifier."""
    net = pipeline(name, input_size)
    kernel = getattr(net, "kernel", None)
    mapped = kernel.out_features * (kernel.landmarks.shape[1] + kernel.out_features) if kernel is not None else 0
    return mapped + net.fc.in_features * net.fc.out_features


def is_pipeline(net: nn.Module) -> bool:
    """Whether a network is one of the hand-made pipelines (nothing in it is learned but its last layer)."""
    return isinstance(getattr(net, "scaled", None), Scaled)


def set_kernel(net: nn.Sequential, fitted: Nystroem) -> None:
    """Give a kernel SVM's map its fitted landmarks and whitening; with fewer landmarks than the layer has (fewer
    training pictures), the rest stay 0."""
    landmarks, whitening = (torch.as_tensor(a, dtype=torch.float32)
                            for a in (fitted.components_, fitted.normalization_))
    with torch.no_grad():
        net.kernel.landmarks.zero_()[:len(landmarks)] = landmarks
        net.kernel.whitening.zero_()[:len(whitening), :len(whitening)] = whitening
        net.kernel.gamma.fill_(fitted.gamma)


def fitted_rows(make: Callable[[int], ClassifierMixin], seed: int, inputs: np.ndarray,
                targets: np.ndarray) -> Iterator[tuple[int, np.ndarray, float]]:
    """Fit a linear classifier one class against the rest, as scikit-learn's ``SGDClassifier`` does, but one class at
    a time, each class's weights and bias given as soon as they are fitted, so that a caller can show progress and
    stop between classes. Each class gets the seed scikit-learn's own fit of all classes would give it, so the weights
    are the same. With two classes scikit-learn fits one classifier, the second against the first, split here into two
    rows of half each, which keeps the answer and, for logistic regression, the probability."""
    classes = np.unique(targets)
    if len(classes) == 2:
        fitted = make(seed).fit(inputs, targets)
        yield int(classes[0]), -fitted.coef_[0] / 2, -fitted.intercept_[0] / 2
        yield int(classes[1]), fitted.coef_[0] / 2, fitted.intercept_[0] / 2
        return
    seeds = check_random_state(seed).randint(np.iinfo(np.int32).max, size=len(classes))
    for label, class_seed in zip(classes, seeds):
        fitted = make(int(class_seed)).fit(inputs, targets == label)
        yield int(label), fitted.coef_[0], fitted.intercept_[0]


def set_classifier(net: nn.Sequential, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor,
                   bias: torch.Tensor) -> None:
    """Give a pipeline its fitted standardisation and linear classifier (std 0, a constant feature, is left at 1)."""
    with torch.no_grad():
        net.scaled.mean.copy_(mean)
        net.scaled.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        net.fc.weight.copy_(weight)
        net.fc.bias.copy_(bias)

