"""The separability comparison: which features a probe sees, the projection methods, and probes with projections."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from alexnet_explorer.data import to_model_input
from alexnet_explorer.inspection import (
    FEATURE_KINDS,
    PROJECTIONS,
    feature_maps,
    linear_probe,
    project,
    raw_pixels,
    sample_features,
    separability,
)
from alexnet_explorer.model import alexnet


def clusters(count: int = 200, dims: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten noisy Gaussian clusters, one per class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=count)
    return rng.normal(scale=3, size=(10, dims))[labels] + rng.normal(size=(count, dims)), labels


def test_the_tables_name_feature_kinds_and_projection_methods_for_people():
    assert FEATURE_KINDS == {"raw": "raw pixels", "fc7": "fc7 features"}
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


def test_separability_is_the_linear_probe_on_70_percent_and_a_projection_per_method():
    features, labels = clusters(count=150, dims=60)
    result = separability(features, labels, ["pca", "tsne"])
    cut = round(0.7 * len(features))
    assert result.probe == linear_probe(features[:cut], labels[:cut], features[cut:], labels[cut:])
    assert result.probe > 0.9  # the clusters are far apart
    assert list(result.projections) == ["pca", "tsne"]
    np.testing.assert_allclose(result.projections["pca"], project(features, "pca"))
    np.testing.assert_allclose(result.projections["tsne"], project(features, "tsne"))
    assert list(separability(features, labels, ["pca"]).projections) == ["pca"]
    with pytest.raises(ValueError):
        separability(features, labels, ["umap"])


def test_sample_features_are_raw_pixels_or_each_images_fc7_activations():
    torch.manual_seed(0)
    net = alexnet(65)
    images = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    np.testing.assert_array_equal(sample_features(images, "raw"), raw_pixels(images))
    reference = torch.stack([feature_maps(net, to_model_input(image[None], 65), "fc7") for image in images])
    np.testing.assert_allclose(sample_features(images, "fc7", net, 65), reference.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="need a network"):
        sample_features(images, "fc7")
    with pytest.raises(ValueError, match="kind must be one of"):
        sample_features(images, "fc6", net, 65)
