"""The training images nearest to a picture in fc7 space: against a brute-force search, kept once per network."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from alexnet_explorer import neighbours
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.config import RunConfig, build_model
from alexnet_explorer.data import FashionMNIST, load_fashion_mnist, subset_indices, to_model_input
from alexnet_explorer.runs import RunDir

CONFIG = RunConfig(resize=65, init="kaiming", epochs=2, device="cpu", limit_train=200, seed=3)


@pytest.fixture(scope="module")
def data(fixture_data_dir: Path) -> FashionMNIST:
    return load_fashion_mnist(fixture_data_dir, allow_download=False)


@pytest.fixture(scope="module")
def model() -> Classifier:
    torch.manual_seed(0)
    return Classifier(build_model(CONFIG).eval(), CONFIG, 2, 0, None)


def fc7(model: Classifier, images: torch.Tensor) -> np.ndarray:
    """fc7's output after its ReLU, by running the network's layers by hand up to act7."""
    x = to_model_input(images, model.size)
    with torch.no_grad():
        for name, layer in model.net.named_children():
            if not isinstance(layer, torch.nn.Dropout):
                x = layer(x)
            if name == "act7":
                return x.numpy()
    raise AssertionError("no act7")


def test_the_nearest_are_those_a_brute_force_search_finds_nearest_first(model: Classifier,
                                                                          data: FashionMNIST) -> None:
    pool = neighbours.compute(model, data)
    positions = subset_indices(len(data.train_images), CONFIG.limit_train, CONFIG.seed)
    assert np.array_equal(pool.positions, positions.numpy())  # the run's own training images, in its order
    assert np.array_equal(pool.labels, data.train_labels[positions].numpy())
    picture = data.test_images[4, 0].numpy()
    expected = np.linalg.norm(fc7(model, data.train_images[positions]) - fc7(model, data.test_images[4:5]), axis=1)
    found = neighbours.nearest(model, pool, picture)
    assert [n.position for n in found] == positions[np.argsort(expected)[:5]].tolist()
    # float16 features keep about three significant digits of each distance
    assert [n.distance for n in found] == pytest.approx(np.sort(expected)[:5].tolist(), rel=2e-3)
    assert [n.label for n in found] == [int(data.train_labels[n.position]) for n in found]


def test_a_training_image_is_nearest_to_itself(model: Classifier, data: FashionMNIST) -> None:
    pool = neighbours.compute(model, data)
    position = int(pool.positions[17])
    nearest = neighbours.nearest(model, pool, data.train_images[position, 0].numpy(), count=1)[0]
    assert nearest.position == position and nearest.distance < 1e-2 * neighbours.nearest(
        model, pool, data.train_images[position, 0].numpy(), count=2)[1].distance


def test_the_features_are_computed_once_per_saved_network_and_kept(tmp_path: Path, model: Classifier,
                                                                    data: FashionMNIST,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run = RunDir.create(tmp_path, CONFIG)
    heard = []
    first = neighbours.features_for(run, model, data, lambda done, total: heard.append((done, total)))
    assert heard[-1] == (200, 200) and run.neighbours_path.is_file()
    monkeypatch.setattr(neighbours, "compute", lambda *args: pytest.fail("computed again"))
    kept = neighbours.features_for(run, model, data)
    assert np.array_equal(kept.features, first.features) and kept.features.dtype == np.float16
    monkeypatch.undo()
    later = dataclasses.replace(model, epoch=3)  # the run saved a newer network: its features are computed anew
    assert neighbours.load(run.neighbours_path, later) is None
    assert neighbours.features_for(run, later, data).epoch == 3
    run.neighbours_path.write_bytes(b"damaged")
    assert neighbours.load(run.neighbours_path, later) is None
