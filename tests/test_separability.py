"""The separability comparison: which features a probe sees, the projection methods, and probes with projections."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alexnet_explorer.data import to_model_input
from alexnet_explorer.inspection import (
    FEATURE_KINDS,
    PROJECTIONS,
    STEP_COSTS,
    feature_maps,
    holdout_probe,
    ladder_features,
    linear_probe,
    project,
    raw_pixels,
    representation_ladder,
    sample_features,
    separability_steps,
)
from alexnet_explorer.model import alexnet, count_macs


def clusters(count: int = 200, dims: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten noisy Gaussian clusters, one per class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count)
    return rng.normal(scale=3, size=(10, dims))[labels] + rng.normal(size=(count, dims)), labels


def test_the_tables_name_feature_kinds_and_projection_methods_for_people():
    assert FEATURE_KINDS == {"raw": "raw pixels", "learned": "the last hidden layer's features"}
    assert {method: option.display for method, option in PROJECTIONS.items()} == {"pca": "PCA", "tsne": "t-SNE"}


def test_pca_projection_matches_the_two_leading_singular_directions():
    features, _ = clusters()
    centred = features - features.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    reference = centred @ directions[:2].T
    points = project(features, "pca")
    for column in range(2):  # each direction is defined up to its sign
        sign = np.sign(points[:, column] @ reference[:, column])
        np.testing.assert_allclose(sign * points[:, column], reference[:, column], atol=1e-8)


def test_the_probe_trains_on_70_percent_and_each_projection_is_its_methods():
    features, labels = clusters(count=150, dims=60)
    cut = round(0.7 * len(features))
    assert holdout_probe(features, labels) == linear_probe(features[:cut], labels[:cut], features[cut:], labels[cut:])
    assert holdout_probe(features, labels) > 0.9  # the clusters are far apart
    assert project(features, "pca").shape == project(features, "tsne").shape == (150, 2)
    with pytest.raises(ValueError):
        project(features, "umap")


def test_the_steps_name_what_they_compute_in_order_with_their_expected_seconds():
    steps = separability_steps(2000, ["pca", "tsne"])
    assert [(step.kind, step.task) for step in steps] == [
        ("raw", "probe"), ("raw", "pca"), ("raw", "tsne"),
        ("learned", "features"), ("learned", "probe"), ("learned", "pca"), ("learned", "tsne")]
    assert [step.label for step in steps][3:5] == ["fc7 features of 2,000 test images", "linear probe on fc7 features"]
    for step in steps:
        at_1000, growth = STEP_COSTS[step.kind, step.task]
        assert step.seconds == pytest.approx(at_1000 * 2 ** growth)
    assert [step.task for step in separability_steps(500, ["pca"])] == ["probe", "pca", "features", "probe", "pca"]
    book = {step.task: step.seconds for step in separability_steps(2000, ["pca"], input_size=224) if step.kind == "learned"}
    assert book["features"] == pytest.approx(steps[3].seconds * count_macs(224) / count_macs(67))
    assert book["probe"] == pytest.approx(steps[4].seconds)  # only the forward pass depends on the input size
    with pytest.raises(ValueError, match="method must be one of"):
        separability_steps(100, ["umap"])


def test_sample_features_are_raw_pixels_or_each_images_fc7_activations():
    torch.manual_seed(0)
    net = alexnet(65)
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    np.testing.assert_array_equal(sample_features(images, "raw"), raw_pixels(images))
    reference = torch.stack([feature_maps(net, to_model_input(image[None], 65), "fc7") for image in images])
    np.testing.assert_allclose(sample_features(images, "learned", net, 65), reference.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="need a network"):
        sample_features(images, "learned")
    with pytest.raises(ValueError, match="kind must be one of"):
        sample_features(images, "fc6", net, 65)


def test_the_ladder_probes_each_rung_as_the_probe_does_with_conv_maps_averaged_down(net):
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = np.arange(40) % 2
    rungs = ladder_features(net, images, 65)
    assert list(rungs) == ["raw pixels", "HOG", "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
    assert rungs["HOG"].shape == (40, 1296) and rungs["fc7"].shape == (40, 4096)
    conv1 = torch.stack([feature_maps(net, to_model_input(image[None], 65), "conv1") for image in images])
    np.testing.assert_allclose(rungs["conv1"], F.adaptive_avg_pool2d(conv1, 4).flatten(1).numpy(), atol=1e-5)
    assert rungs["conv5"].shape == (40, 256 * 3 * 3)  # already smaller than 4×4 at 65 px
    seen = []
    ladder = representation_ladder(net, images, labels, 65, progress=lambda done, total: seen.append((done, total)))
    assert ladder["raw pixels"] == holdout_probe(rungs["raw pixels"], labels)
    assert seen[-1] == (9, 9)
