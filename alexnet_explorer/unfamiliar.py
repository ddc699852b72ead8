"""Whether a picture is unlike the garments a network learned from, and what about it is unusual.

The network always answers with one of its ten classes, even for a drawing of a cat. Two scores from the
out-of-distribution literature, neither of which needs pictures other than the run's own, tell when the answer is a
guess:

* the **Mahalanobis distance** of the picture's fc7 features to the nearest class mean (Lee, Lee, Lee & Shin, "A
  Simple Unified Framework for Detecting Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018): class
  means and one covariance shared by the classes, fitted on training images. The covariance of 4096 features from a
  few thousand images is singular, so it is shrunk toward a multiple of the identity (Ledoit & Wolf, 2004) and kept
  as its leading directions plus one variance for all others (a few MB per run instead of 64).
  It catches what is far from every class: outlines, digits.
* the **energy** of the logits, −logsumexp (Liu, Wang, Owens & Li, "Energy-based Out-of-distribution Detection",
  NeurIPS 2020): high when no class's score stands out. Unlike the top softmax probability it keeps the scores'
  size, which softmax throws away: two answers "98 % sure" can come from strong or from weak scores.

Each score's limit is calibrated on the run's own test images so that together they flag at most ``FLAGGED_SHARE``
of them (`benchmarks/unfamiliar.py` measures what they flag elsewhere). Hints name a cause that can be seen in the
picture itself: an outline instead of a filled shape, a picture that is mostly background, several objects.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

FLAGGED_SHARE = 0.05  # of the run's own test images, at most, by the two scores together
COMPONENTS = 256  # leading directions of the within-class covariance kept exactly
SHRINKAGE = 0.1  # weight of the identity in the shrunk covariance
MIN_IMAGES = 2  # training images a spread can be fitted on
# Hints: a pixel is ink above this grey level (of 255); measured on the 10,000 test images and on drawings made like
# students' (benchmarks/drawings.py), each hint fires on fewer than 0.3 % of test images.
INK_LEVEL = 13
HOLLOW_BELOW = 0.6  # ink over the shape with its holes filled: drawn outlines 0.2–0.5, 99.9 % of test images ≥ 0.68
BACKGROUND_ABOVE = 0.92  # share of the 28×28 picture without ink: 99.9 % of test garments cover 11 % or more
PART_SHARE = 0.2  # a separate part this big a share of the ink counts as another object
HINTS = {  # key: (a short name, what to do about it)
    "hollow": ("an outline", "It is an outline: the network learned from photos of whole garments, so fill the "
                             "shape in (the polygon, rectangle and circle tools fill it)."),
    "background": ("mostly background", "The garment covers only a small part of the picture, where Fashion-MNIST's "
                                        "garments fill theirs: draw it bigger, or leave \"Crop to the garment\" on."),
    "several": ("several objects", "It looks like several objects, where every Fashion-MNIST picture shows one "
                                   "garment: draw or upload one at a time."),
}


def energy(logits: torch.Tensor | np.ndarray) -> np.ndarray:
    """Energy score −logsumexp of each row of logits (temperature 1): higher is more unusual."""
    return (-torch.logsumexp(torch.as_tensor(logits, dtype=torch.float64), dim=1)).numpy()


@dataclass(frozen=True)
class Gaussians:
    """Class means of the features and their shared, shrunk covariance as leading directions plus the rest."""

    means: np.ndarray  # 10×D; a class absent from the fitted images is NaN
    components: np.ndarray  # k×D, orthonormal rows
    variances: np.ndarray  # k: the shrunk covariance's variance along each component
    rest_variance: float  # its variance along every direction orthogonal to the components

    def distances(self, features: torch.Tensor | np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each feature row to the nearest class mean."""
        features = torch.as_tensor(features, dtype=torch.float64)
        present = ~np.isnan(self.means).any(axis=1)
        means = torch.from_numpy(self.means[present]).double()
        components = torch.from_numpy(self.components).double()
        # Expanded and projected, never as N×C×D differences: those take gigabytes for a test set of 4096 features.
        distance = (features ** 2).sum(1, keepdim=True) - 2 * features @ means.T + (means ** 2).sum(1)  # N×C
        along = (features @ components.T)[:, None, :] - (means @ components.T)[None]  # N×C×k
        across = (distance - (along ** 2).sum(-1)).clamp(min=0)
        squared = (along ** 2 / torch.from_numpy(self.variances).double()).sum(-1) + across / self.rest_variance
        return squared.min(dim=1).values.numpy()


def fit_gaussians(features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray,
                  classes: int = 10) -> Gaussians:
    """Class means and their shared covariance, shrunk by SHRINKAGE toward its mean variance times the identity."""
    features = torch.as_tensor(features, dtype=torch.float64)
    labels = torch.as_tensor(labels)
    means = torch.full((classes, features.shape[1]), float("nan"), dtype=torch.float64)
    for label in labels.unique():
        means[label] = features[labels == label].mean(0)
    within = features - means[labels]
    within = within - within.mean(0)
    count, dims = within.shape
    if count < MIN_IMAGES:
        raise ValueError(f"the network's training images are too few to tell what is unlike them ({count})")
    k = min(COMPONENTS, count - 1, dims)
    singular, directions = leading_directions(within, k)
    variances = singular ** 2 / (count - 1)
    total = (within ** 2).sum() / (count - 1)  # the trace: the sum of all D variances
    mean_variance = total / dims
    rest = (total - variances.sum()).clamp(min=0) / max(dims - k, 1)
    return Gaussians(means.numpy().astype(np.float32), directions.numpy().astype(np.float32),
                     ((1 - SHRINKAGE) * variances + SHRINKAGE * mean_variance).numpy(),
                     float((1 - SHRINKAGE) * rest + SHRINKAGE * mean_variance))


def leading_directions(matrix: torch.Tensor, k: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest singular values of a matrix and their right singular vectors (rows), by a randomized range
    finder with power iterations (Halko, Martinsson & Tropp, 2011): seconds where an exact decomposition of 4096
    features takes a minute. Its own generator: the app's sessions share torch's global one."""
    generator = torch.Generator().manual_seed(seed)
    probe = torch.randn(matrix.shape[1], min(k + 10, min(matrix.shape)), generator=generator, dtype=matrix.dtype)
    sketch = matrix @ probe
    for _ in range(4):
        sketch = matrix @ torch.linalg.qr(matrix.T @ torch.linalg.qr(sketch).Q).Q
    _, singular, directions = torch.linalg.svd(torch.linalg.qr(sketch).Q.T @ matrix, full_matrices=False)
    return singular[:k], directions[:k]


def calibrated_limit(scores: np.ndarray, share: float) -> float:
    """The limit above which at most ``share`` of these scores lie: halfway between the largest score left under it
    and the next (so that the same pictures, scored again on another device, land on the same side of it)."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    kept = len(ordered) - int(np.floor(share * len(ordered) + 1e-9))  # how many stay under the limit
    if kept < len(ordered):
        return float((ordered[kept - 1] + ordered[kept]) / 2)
    gap = ordered[-1] - ordered[-2] if len(ordered) > 1 else abs(ordered[-1])
    return float(ordered[-1] + gap / 2)


def stronger_place(test_distances: np.ndarray, test_energies: np.ndarray, distances: np.ndarray,
                   energies: np.ndarray) -> np.ndarray:
    """For each picture, the larger of its two scores' places among the test images' sorted scores (the share of
    them each score is above)."""
    return np.maximum(np.searchsorted(test_distances, distances, side="left") / len(test_distances),
                      np.searchsorted(test_energies, energies, side="left") / len(test_energies))


@dataclass(frozen=True)
class FamiliarityFit:
    """What the run's network makes of its training images (the Gaussians) and of its test images: their scores,
    sorted, the limits that flag at most FLAGGED_SHARE of them, and each one's ``stronger_place``, sorted."""

    gaussians: Gaussians
    test_distances: np.ndarray
    test_energies: np.ndarray
    distance_limit: float
    energy_limit: float
    test_unusual: np.ndarray


def fit(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
        test_logits: torch.Tensor) -> FamiliarityFit:
    """Fit the Gaussians on training features; score the test images; set each score's limit at half the share."""
    gaussians = fit_gaussians(train_features, train_labels)
    distances, energies = gaussians.distances(test_features), energy(test_logits)
    sorted_distances, sorted_energies = np.sort(distances), np.sort(energies)
    # The larger of two places is above half for most pictures, the test images' own too: a picture is ranked
    # among the test images' larger places, or an ordinary one would be called more unusual than most of them.
    places = stronger_place(sorted_distances, sorted_energies, distances, energies)
    return FamiliarityFit(gaussians, sorted_distances, sorted_energies, calibrated_limit(distances, FLAGGED_SHARE / 2),
                          calibrated_limit(energies, FLAGGED_SHARE / 2), np.sort(places))


@dataclass(frozen=True)
class Verdict:
    """How unlike the training garments one picture is."""

    far: bool  # its features are farther from every class than the limit
    weak: bool  # no class's score stands out (its energy is above the limit)
    unusual: float  # the share of the run's test images it is more unusual than, by stronger_place
    hints: tuple[str, ...]  # keys of HINTS

    @property
    def flagged(self) -> bool:
        """Whether the answer should be called a guess."""
        return self.far or self.weak

    def summary(self) -> str | None:
        """A few words for a table: 'a guess' when flagged, and the hints' names; None when there is nothing to say."""
        words = (["a guess"] if self.flagged else []) + [HINTS[hint][0] for hint in self.hints]
        return ", ".join(words) or None

    def message(self) -> str:
        """What the verdict means, in one plain sentence."""
        if self.flagged:
            return "This picture is unlike the garments it learned from: its answer is a guess."
        return "This picture is like the garments it learned from."

    def detail(self) -> str:
        """Why, in words a student can check against the picture."""
        reasons = [text for text, fired in (
            ("its features (the last layer before the classes) are farther from every class than those of almost "
             "any test image", self.far),
            ("none of the ten class scores stands out", self.weak)) if fired]
        more = f"More unusual than {self.unusual:.0%} of its own test images"
        return more + (f": {' and '.join(reasons)}." if reasons else ".")


def assess(model: FamiliarityFit, features: torch.Tensor, logits: torch.Tensor,
           images28: Sequence[np.ndarray]) -> list[Verdict]:
    """A verdict for each picture from its fc7 features, its logits and the 28×28 picture itself (for the hints)."""
    distances, energies = model.gaussians.distances(features), energy(logits)
    places = stronger_place(model.test_distances, model.test_energies, distances, energies)
    unusual = np.searchsorted(model.test_unusual, places, side="left") / len(model.test_unusual)
    return [Verdict(bool(distance > model.distance_limit), bool(score > model.energy_limit), float(share), hints(image))
            for distance, score, share, image in zip(distances, energies, unusual, images28)]


def hints(image28: np.ndarray) -> tuple[str, ...]:
    """The causes of unusualness that show in the picture: keys of HINTS, in that order."""
    ink = np.asarray(image28) > INK_LEVEL
    if not ink.any():
        return ("background",)
    found = []
    if ink.sum() < HOLLOW_BELOW * ndimage.binary_fill_holes(ink).sum():
        found.append("hollow")
    if 1 - ink.mean() > BACKGROUND_ABOVE:
        found.append("background")
    parts, _ = ndimage.label(ink, structure=np.ones((3, 3)))
    if (np.bincount(parts.ravel())[1:] >= PART_SHARE * ink.sum()).sum() > 1:
        found.append("several")
    return tuple(found)
