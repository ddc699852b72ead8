"""Hand-crafted vs learned: the hand-made bank's and the learned filters' responses to one image, and its HOG."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.feature import hog

from alexnet_explorer.handcrafted import (
    HOG_CELLS,
    LEARNED_SHOWN,
    filter_bank,
    handmade_responses,
    hog_picture,
    learned_responses,
    strongest_learned,
)
from alexnet_explorer.model import alexnet


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Sequential, torch.Tensor, torch.Tensor]:
    """A network whose conv1 moved away from its random start, the start, and an input."""
    torch.manual_seed(0)
    net = alexnet(65)
    start = net.conv1.weight.detach().clone()
    with torch.no_grad():
        net.conv1.weight += 0.05 * torch.randn_like(start)
    return net, start, torch.rand(1, 1, 65, 65)


def conv1_maps(net: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """conv1's activation maps written out by hand: 11×11 kernels, stride 4, padding 1, then ReLU."""
    with torch.no_grad():
        return F.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias, stride=4, padding=1))[0]


def correlate_reflected(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Same-size correlation with the image mirrored at its edges (edge pixel repeated), through torch."""
    half = kernel.shape[0] // 2
    padded = torch.from_numpy(np.pad(image, half, mode="symmetric"))[None, None]
    return F.conv2d(padded, torch.from_numpy(kernel)[None, None])[0, 0].numpy()


def test_handmade_responses_are_the_bank_correlated_with_the_image(trained):
    _, _, x = trained
    image = x[0, 0].double().numpy()
    handmade = handmade_responses(x)
    assert list(handmade.kernels) == list(filter_bank()) == list(handmade.responses)
    np.testing.assert_allclose(handmade.responses["Sobel x"], ndimage.sobel(image, axis=1, mode="reflect"), atol=1e-12)
    for name, kernel in handmade.kernels.items():
        np.testing.assert_allclose(handmade.responses[name], correlate_reflected(image, kernel), atol=1e-10)


def test_learned_minus_start_kernels_are_w_e_minus_w_0_filtered_like_the_handmade_ones(trained):
    net, start, x = trained
    chosen = [5, 17, 2]
    added = learned_responses(net, x, chosen, start)
    assert list(added.kernels) == ["filter 5", "filter 17", "filter 2"] == list(added.responses)
    difference = net.conv1.weight.detach().double().numpy() - start.double().numpy()
    difference -= difference.mean(axis=(1, 2, 3), keepdims=True)  # the shift shared by a filter's weights
    for i in chosen:
        np.testing.assert_allclose(added.kernels[f"filter {i}"], difference[i, 0], atol=1e-7)
        np.testing.assert_allclose(added.responses[f"filter {i}"],
                                   correlate_reflected(x[0, 0].double().numpy(), difference[i, 0]), atol=1e-6)


def test_learned_kernels_without_a_start_are_the_weights_and_their_relu_maps(trained):
    net, _, x = trained
    learned = learned_responses(net, x, [3, 40])
    maps = conv1_maps(net, x)
    for i in (3, 40):
        np.testing.assert_array_equal(learned.kernels[f"filter {i}"], net.conv1.weight[i, 0].detach().numpy())
        np.testing.assert_allclose(learned.responses[f"filter {i}"], maps[i].numpy(), rtol=1e-5, atol=1e-6)
        assert learned.responses[f"filter {i}"].shape == (15, 15)


def test_strongest_learned_are_the_filters_with_the_highest_mean_activation(trained):
    net, _, x = trained
    means = conv1_maps(net, x).mean(dim=(1, 2)).tolist()
    by_hand = sorted(range(len(means)), key=lambda i: -means[i])[:LEARNED_SHOWN]
    assert strongest_learned(net, x) == by_hand
    assert strongest_learned(net, x, count=3) == by_hand[:3]


@pytest.mark.parametrize(("size", "side"), [(65, 128), (224, 224)])
def test_hog_picture_is_drawn_at_least_128_pixels_wide_on_8_by_8_cells(size, side):
    torch.manual_seed(1)
    x = torch.rand(1, 1, size, size)
    picture = hog_picture(x)
    assert picture.shape == (side, side) and picture.min() >= 0 and picture.max() == pytest.approx(1.0)
    image = F.interpolate(x.double(), size=(side, side), mode="bilinear", align_corners=False)[0, 0].numpy()
    cell = side // HOG_CELLS
    _, reference = hog(image, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2), visualize=True)
    np.testing.assert_allclose(picture, np.sqrt(reference / reference.max()), atol=1e-5)
