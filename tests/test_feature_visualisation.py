"""What a unit wants to see: the optimised input excites its unit more than any test image, the same seed gives the
same picture, the shared network is untouched, and the pictures are kept per saved network."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SMALL

from alexnet_explorer import feature_visualisation as fv
from alexnet_explorer import top_images
from alexnet_explorer.config import build_model
from alexnet_explorer.data import load_fashion_mnist, to_model_input
from alexnet_explorer.model import set_input_statistics
from alexnet_explorer.runs import RunDir

CONFIG = SMALL  # what the shared ``net`` fixture is built from


@pytest.fixture(scope="module")
def standardised() -> torch.nn.Sequential:
    torch.manual_seed(1)
    net = build_model(CONFIG.replace(input_normalisation="standardise")).eval()
    set_input_statistics(net, 0.29, 0.35)
    return net


@pytest.fixture(scope="module")
def test_inputs(fixture_data_dir: Path) -> torch.Tensor:
    return to_model_input(load_fashion_mnist(fixture_data_dir, allow_download=False).test_images, 65)


@pytest.mark.parametrize("network, layer, units", [("net", "conv2", [3, 200]), ("net", "fc7", [11]),
                                                   ("net", "fc8", [0, 7]), ("standardised", "conv4", [5])])
def test_the_picture_excites_its_unit_more_than_any_test_image(request: pytest.FixtureRequest, network: str,
                                                               layer: str, units: list[int],
                                                               test_inputs: torch.Tensor) -> None:
    model = request.getfixturevalue(network)
    pictures = fv.visualise(model, 65, layer, units)  # as the app makes them
    best_test = fv.excitement(model, test_inputs, layer).amax(dim=0)
    for unit, picture in zip(units, pictures):
        assert picture.pixels.shape == (28, 28) and picture.pixels.dtype == np.uint8  # a picture like the data's
        shown = to_model_input(torch.from_numpy(picture.pixels)[None, None], 65)  # enlarged as the data is
        assert picture.strength == pytest.approx(float(fv.excitement(model, shown, layer)[0, unit]), rel=1e-4)
        assert picture.strength > float(best_test[unit]), (layer, unit)


def test_a_conv_channel_is_measured_by_its_mean_activation(net: torch.nn.Sequential,
                                                           test_inputs: torch.Tensor) -> None:
    x = test_inputs[:3]
    maps = net.act1(net.conv1(x))
    np.testing.assert_allclose(fv.excitement(net, x, "conv1").numpy(), maps.mean(dim=(2, 3)).detach().numpy(),
                               rtol=1e-6)


def test_the_same_seed_gives_the_same_picture_and_leaves_the_network_and_torchs_generator_alone(
        net: torch.nn.Sequential) -> None:
    before = torch.random.get_rng_state()
    weights = {name: p.detach().clone() for name, p in net.state_dict().items()}
    first = fv.visualise(net, 65, "conv3", [1, 2], steps=8, seed=4)
    again = fv.visualise(net, 65, "conv3", [1, 2], steps=8, seed=4)
    other = fv.visualise(net, 65, "conv3", [1, 2], steps=8, seed=5)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(first, again))
    assert not np.array_equal(first[0].pixels, other[0].pixels)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(weights[name], p) for name, p in net.state_dict().items())


def test_pictures_are_kept_per_network_and_recomputed_for_a_newer_one(tmp_path: Path, net: torch.nn.Sequential,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fv, "STEPS", 4)
    run = RunDir.create(tmp_path, CONFIG, label="kept")
    heard: list[tuple[int, int]] = []
    wanted = [("fc8", 0), ("fc8", 1), ("conv5", 9)]
    first = fv.pictures_for(run, net, 65, 1, 0, wanted, lambda done, total: heard.append((done, total)))
    assert heard[-1] == (8, 8) and len(heard) == 8  # two layers of 4 steps
    assert set(first.pictures) == set(wanted) and run.unit_pictures_path.is_file()
    heard.clear()
    again = fv.pictures_for(run, net, 65, 1, 0, wanted[:2], lambda done, total: heard.append((done, total)))
    assert not heard  # read from the run's folder
    assert all(np.array_equal(again.pictures[pair].pixels, first.pictures[pair].pixels) for pair in wanted)
    fv.pictures_for(run, net, 65, 1, 0, [("fc8", 2)], lambda done, total: heard.append((done, total)))
    assert heard[-1] == (4, 4)  # only the new one
    assert set(fv.load(run.unit_pictures_path, 1, 0, 65).pictures) == set(wanted) | {("fc8", 2)}
    assert fv.load(run.unit_pictures_path, 2, 0, 65).pictures == {}  # a newer network: none of them is its
    newer = fv.pictures_for(run, net, 65, 2, 0, [("fc8", 0)])
    assert set(newer.pictures) == {("fc8", 0)} and set(fv.load(run.unit_pictures_path, 2, 0, 65).pictures) == {
        ("fc8", 0)}  # the older network's pictures were replaced


def test_a_damaged_file_costs_only_itself(tmp_path: Path, net: torch.nn.Sequential,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fv, "STEPS", 4)
    run = RunDir.create(tmp_path, CONFIG, label="damaged")
    run.unit_pictures_path.write_bytes(b"not a zip file")
    with pytest.raises(fv.DamagedPictures, match="unit-pictures.npz\\) cannot be read .*computed again"):
        fv.load(run.unit_pictures_path, 1, 0, 65)
    kept = fv.pictures_for(run, net, 65, 1, 0, [("fc6", 3)])
    assert set(fv.load(run.unit_pictures_path, 1, 0, 65).pictures) == {("fc6", 3)} == set(kept.pictures)


def test_the_strongest_units_are_those_a_test_image_excites_most_and_never_dead_ones() -> None:
    values = torch.tensor([[0.5, 0.1], [0.0, 0.0], [2.0, 1.0], [0.5, 0.5], [3.0, 0.0]])
    ranking = top_images.TopImages({"fc7": torch.zeros(5, 2, dtype=torch.long)}, {"fc7": values}, 2)
    assert top_images.strongest_units(ranking, "fc7", 3) == [4, 2, 0]
    assert top_images.strongest_units(ranking, "fc7", 9) == [4, 2, 0, 3]
