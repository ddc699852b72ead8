"""The pre-2012 way: hand-designed edge, Gabor and HOG features to compare with learned filters."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.feature import hog

GABOR_SIZE = 11  # AlexNet's first-layer kernel size, so the two banks can be compared side by side
GABOR_ANGLES = (0, 45, 90, 135)


def _gabor(angle_degrees: float, wavelength: float = 5.0, sigma: float = 2.5, aspect: float = 0.5) -> np.ndarray:
    """Real (cosine) Gabor kernel, zero-mean so flat regions give no response."""
    half = GABOR_SIZE // 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    theta = np.deg2rad(angle_degrees)
    along = x * np.cos(theta) + y * np.sin(theta)
    across = -x * np.sin(theta) + y * np.cos(theta)
    kernel = np.exp(-(along**2 + (aspect * across) ** 2) / (2 * sigma**2)) * np.cos(2 * np.pi * along / wavelength)
    return kernel - kernel.mean()


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
    bank.update({f"Gabor {angle}°": _gabor(angle) for angle in GABOR_ANGLES})
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
