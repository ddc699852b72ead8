"""The pre-2012 way: hand-designed edge, Gabor and HOG features to compare with learned filters."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from skimage.feature import hog
from torch import nn

from .data import to_model_input
from .inspection import added_by_training, feature_maps, strongest_first
from .pipelines import gabor

GABOR_SIZE = 11  # AlexNet's first-layer kernel size, so the two banks can be compared side by side
GABOR_ANGLES = (0, 45, 90, 135)
# HOG draws 1-pixel strokes per cell: at least 128 pixels keep them visible on a projector.
HOG_SIDE, HOG_CELLS = 128, 8
LEARNED_SHOWN = 8  # learned filters beside the eight hand-made kernels


def filter_bank() -> dict[str, np.ndarray]:
    """Named hand-designed kernels: 3×3 Sobel and Prewitt x/y, 11×11 Gabor at 0°, 45°, 90°, 135°."""
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    prewitt_x = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=np.float64)
    bank = {
        "Sobel x": sobel_x,
        "Sobel y": sobel_x.T.copy(),
        "Prewitt x": prewitt_x,
        "Prewitt y": prewitt_x.T.copy(),
    }
    bank.update({f"Gabor {angle}°": gabor(angle, size=GABOR_SIZE).numpy() for angle in GABOR_ANGLES})
    return bank


def apply_bank(image: np.ndarray, bank: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Response of a 2-D grayscale image to each kernel, same size as the image."""
    image = np.asarray(image, dtype=np.float64)
    # Correlation, not flipped convolution: that is what a CNN's conv2d computes.
    return {name: ndimage.correlate(image, kernel, mode="reflect") for name, kernel in bank.items()}


def hog_image(image: np.ndarray, cell: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """HOG feature vector (9 orientations, cell×cell-pixel cells) and its visualisation scaled to [0, 1]."""
    features, picture = hog(
        np.asarray(image, dtype=np.float64),
        orientations=9,
        pixels_per_cell=(cell, cell),
        cells_per_block=(2, 2),
        visualize=True,
        feature_vector=True,
    )
    peak = picture.max()
    return features, picture / peak if peak > 0 else picture


def hog_picture(x: torch.Tensor) -> np.ndarray:
    """HOG of the network's 1×1×S×S input on HOG_CELLS×HOG_CELLS cells, drawn at least HOG_SIDE pixels wide, in
    [0, 1] and square-rooted so that faint strokes show."""
    image = to_model_input(x, max(HOG_SIDE, x.shape[-1]))[0, 0].double().numpy()
    return np.sqrt(hog_image(image, cell=image.shape[0] // HOG_CELLS)[1])


@dataclass(frozen=True)
class KernelResponses:
    """Named 2-D kernels and each one's response to an image, to be drawn in pairs."""

    kernels: dict[str, np.ndarray]
    responses: dict[str, np.ndarray]


def handmade_responses(x: torch.Tensor) -> KernelResponses:
    """The hand-made ``filter_bank`` and its responses to the network's 1×1×S×S input."""
    bank = filter_bank()
    return KernelResponses(bank, apply_bank(x[0, 0].double().numpy(), bank))


def strongest_learned(net: nn.Sequential, x: torch.Tensor, count: int = LEARNED_SHOWN) -> list[int]:
    """The conv1 filters the network's 1×1×S×S input excites most, strongest first."""
    return strongest_first(feature_maps(net, x, "conv1"))[:count]


def learned_responses(
    net: nn.Sequential, x: torch.Tensor, chosen: Sequence[int], start: torch.Tensor | None = None
) -> KernelResponses:
    """Chosen conv1 filters and their activation maps of the input; with the run's random ``start``, what training
    added to each filter instead (``added_by_training``), filtered like the hand-made kernels so the two rows compare
    directly."""
    weights = net.conv1.weight.detach()
    if start is None:
        maps = feature_maps(net, x, "conv1")
        return KernelResponses({f"filter {i}": weights[i, 0].numpy() for i in chosen},
                               {f"filter {i}": maps[i].numpy() for i in chosen})
    change = added_by_training(start, weights)
    added = {f"filter {i}": change[i, 0].double().numpy() for i in chosen}
    return KernelResponses(added, apply_bank(x[0, 0].double().numpy(), added))
