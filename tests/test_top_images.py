"""What each unit responds to: the ranking of test images against a brute-force one, its maps, and its file."""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch

from conftest import SMALL

from alexnet_explorer import top_images
from alexnet_explorer.data import to_model_input
from alexnet_explorer.inspection import feature_maps
from alexnet_explorer.model import conv_layers, inspectable_layers
from alexnet_explorer.config import build_model
from alexnet_explorer.runs import RunDir

CONFIG = SMALL  # what the shared ``net`` fixture is built from


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (23, 1, 28, 28), dtype=torch.uint8, generator=generator)


def brute_force(net: torch.nn.Sequential, images: torch.Tensor, layer: str) -> np.ndarray:
    """Units × images: each image alone through the network, each unit's response (a channel's largest value)."""
    def responses_of(image: torch.Tensor) -> np.ndarray:
        output = feature_maps(net, to_model_input(image[None], 65), layer)
        return (output.flatten(1).amax(dim=1) if layer in conv_layers(net) else output).numpy()

    return np.stack([responses_of(image) for image in images]).T


def test_the_ranking_is_the_brute_force_one_across_batches(net: torch.nn.Sequential, images: torch.Tensor) -> None:
    seen = []
    ranking = top_images.rank_images(net, images, 65, top=5, batch=7, progress=lambda done, total: seen.append(done))
    assert seen == [7, 14, 21, 23] and ranking.images == 23
    assert list(ranking.indices) == list(inspectable_layers(net))
    for layer in inspectable_layers(net):
        strengths = brute_force(net, images, layer)
        # sorted by response, then by image number
        order = np.stack([np.lexsort((np.arange(len(images)), -row))[:5] for row in strengths])
        best = np.take_along_axis(strengths, order, axis=1)
        ours = ranking.indices[layer].numpy()
        assert ours.shape == (getattr(net, layer).weight.shape[0], 5)
        # Batched and single passes add in other orders: up to 2e-6 of the layer's largest response apart (6.7e-6 of
        # 3.3 in conv5 with oneDNN's SSE4.1 kernels, 5.7e-6 of 6 in fc7 with the AVX2 ones), so a near tie may swap
        # two images. Each place must hold an image with the brute force's response there, within ten times that,
        # and most places the very same image.
        tolerance = 2e-5 * np.abs(best).max()
        np.testing.assert_allclose(np.take_along_axis(strengths, ours, axis=1), best, rtol=0, atol=tolerance)
        np.testing.assert_allclose(ranking.values[layer].numpy(), best, rtol=0, atol=tolerance)
        assert (ours == order).mean() > 0.99


def test_units_no_image_excites_list_the_earliest_images() -> None:
    silent = torch.nn.Sequential(build_model(CONFIG))[0].eval()
    with torch.no_grad():
        silent.fc7.weight.zero_()
        silent.fc7.bias.fill_(-1.0)  # after the ReLU every fc7 unit is 0 for every image
    blank = torch.zeros(12, 1, 28, 28, dtype=torch.uint8)
    ranking = top_images.rank_images(silent, blank, 65, top=4, batch=5)
    assert (ranking.indices["fc7"] == torch.tensor([0, 1, 2, 3])).all() and (ranking.values["fc7"] == 0).all()


def test_unit_maps_show_where_a_channel_responds_and_fc_units_have_none(net: torch.nn.Sequential,
                                                                        images: torch.Tensor) -> None:
    maps = top_images.unit_maps(net, images[:3], 65, "conv2", 7)
    assert maps.shape == (3, 28, 28) and maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1.0)
    own = feature_maps(net, to_model_input(images[1:2], 65), "conv2")[7]
    black = feature_maps(net, to_model_input(torch.zeros_like(images[:1]), 65), "conv2")[7]
    expected = torch.nn.functional.interpolate((own - black)[None, None], size=(28, 28), mode="bilinear",
                                               align_corners=False).clamp(min=0)
    np.testing.assert_allclose(maps[1], (expected / expected.max())[0, 0].numpy(), atol=1e-5)
    assert top_images.unit_maps(net, images[:3], 65, "fc6", 7) is None


def test_a_channel_its_bias_excites_is_not_drawn_over_the_whole_black_background(net: torch.nn.Sequential) -> None:
    lit = copy.deepcopy(net)
    with torch.no_grad():
        lit.conv1.bias[3] = 1.0  # channel 3 fires on black as much as anywhere
    picture = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    picture[0, 0, 10:18, 10:18] = 255  # a small bright garment on black
    [heat] = top_images.unit_maps(lit, picture, 65, "conv1", 3)
    assert heat.max() == pytest.approx(1.0)
    assert not heat[:4].any() and not heat[:, :4].any()  # the black far from the garment: nothing


def test_a_ranking_is_kept_per_checkpoint_and_recomputed_for_a_newer_one(tmp_path, net: torch.nn.Sequential,
                                                                        images: torch.Tensor) -> None:
    run = RunDir.create(tmp_path, CONFIG, label="kept")
    computed = []
    first = top_images.ranking_for(run, net, 65, 1, 0, images, lambda done, total: computed.append(done))
    assert computed and run.top_images_path(1, 0).is_file()
    computed.clear()
    again = top_images.ranking_for(run, net, 65, 1, 0, images, lambda done, total: computed.append(done))
    assert not computed  # read from the run's folder
    for layer in inspectable_layers(net):
        assert torch.equal(again.indices[layer], first.indices[layer])
    assert top_images.load_ranking(run.top_images_path(1, 0), len(images) - 1) is None  # other test images
    top_images.ranking_for(run, net, 65, 2, 0, images)
    assert [path.name for path in run.top_images_dir.iterdir()] == ["epoch_002_batch_00000.pt"]
    run.top_images_path(2, 0).write_bytes(b"damaged")
    assert top_images.load_ranking(run.top_images_path(2, 0), len(images)) is None


def test_guided_backprop_of_an_fc_unit_is_the_hand_computed_one(images: torch.Tensor) -> None:
    """Two ReLU layers: guided backpropagation passes a gradient back through a ReLU only where both its input and
    the gradient arriving at it are positive (Springenberg et al. 2015), computed here by hand."""
    torch.manual_seed(5)
    tiny = torch.nn.Sequential(OrderedDict([
        ("flatten", torch.nn.Flatten()), ("fc6", torch.nn.Linear(65 * 65, 6)), ("act6", torch.nn.ReLU()),
        ("fc7", torch.nn.Linear(6, 3)), ("act7", torch.nn.ReLU())])).eval()
    with torch.no_grad():
        tiny.fc7.bias.fill_(1.0)  # every fc7 unit fires: its projection is not all zeros
    found = top_images.unit_projections(tiny, images[:4], 65, "fc7", 1)
    plain_differs = False
    for projection, image in zip(found, images[:4]):
        pixels = image[None].float().div(255).requires_grad_()
        x = to_model_input(pixels, 65).flatten(1)
        pre6 = tiny.fc6(x)[0].detach()
        arriving = tiny.fc7.weight[1].detach()  # fc7 unit 1 fires (bias 1 and more), so the gradient starts as 1
        passed = arriving * (pre6 > 0) * (arriving > 0)
        (expected,) = torch.autograd.grad(x[0] @ (tiny.fc6.weight.detach().T @ passed), pixels)
        (plain,) = torch.autograd.grad(tiny(to_model_input(pixels, 65))[0, 1], pixels)
        expected = expected[0, 0]
        np.testing.assert_allclose(projection, (expected / expected.abs().max()).numpy(), atol=1e-5)
        plain_differs |= not torch.allclose(plain[0, 0] / plain.abs().max(), expected / expected.abs().max(),
                                            atol=1e-4)
    assert plain_differs  # the hand computation is not the plain gradient: guiding mattered
    assert all(p.grad is None for p in tiny.parameters()) and not any(m._backward_hooks for m in tiny.modules())


def test_a_channels_projection_lies_within_what_its_strongest_place_sees(net: torch.nn.Sequential,
                                                                         images: torch.Tensor) -> None:
    """conv1 sees an 11-pixel square of the 65-px input at each place: its projection is zero far from the place
    where it responds most (a channel that fires on all three images)."""
    outputs = [feature_maps(net, to_model_input(image[None], 65), "conv1") for image in images[:3]]
    unit = int(torch.nonzero(torch.stack([o.flatten(1).amax(dim=1) for o in outputs]).amin(dim=0) > 0)[0])
    projections = top_images.unit_projections(net, images[:3], 65, "conv1", unit)
    for projection, output in zip(projections, outputs):
        responses = output[unit]
        row, col = divmod(int(responses.flatten().argmax()), responses.shape[-1])
        seen = np.zeros((65, 65), bool)
        seen[max(0, 4 * row - 1):4 * row + 10, max(0, 4 * col - 1):4 * col + 10] = True  # stride 4, padding 1
        # through the 28→65 resize a 65-px pixel draws on the two nearest 28-px pixels each way: widen by one
        near = torch.nn.functional.interpolate(torch.from_numpy(seen).float()[None, None], size=28,
                                               mode="area")[0, 0].numpy() > 0
        near = np.pad(near, 1)[:-2, :-2] | np.pad(near, 1)[2:, 2:] | near
        assert np.abs(projection).max() == pytest.approx(1.0) and not projection[~near].any()
