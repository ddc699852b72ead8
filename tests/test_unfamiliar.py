"""The unlike-the-training-data signal: its scores against hand-computed ones, its calibration, and its hints."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from alexnet_explorer import unfamiliar
from alexnet_explorer.preprocess import preprocess


def test_energy_is_minus_logsumexp_of_the_logits():
    logits = [[0.0] * 10, [10.0] + [0.0] * 9, [3.0, -1.0, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [800.0] * 10]
    expected = [-math.log(10), -(10 + math.log(1 + 9 * math.exp(-10))),
                -math.log(math.exp(3) + math.exp(-1) + math.exp(2.5) + 7), -(800 + math.log(10))]
    np.testing.assert_allclose(unfamiliar.energy(np.array(logits)), expected, rtol=1e-12)
    assert unfamiliar.energy(np.array([[5.0] + [0.0] * 9]))[0] > unfamiliar.energy(np.array([[9.0] + [0.0] * 9]))[0]


def clusters(count: int, dims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of correlated features, as fc7 features of three garments might be."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, count)
    mixing = rng.normal(size=(dims, dims)) * np.linspace(2, 0.1, dims)
    return rng.normal(size=(count, dims)) @ mixing.T + 4 * np.eye(3, dims)[labels], labels


def hand_distances(train: np.ndarray, labels: np.ndarray, points: np.ndarray, kept: int) -> np.ndarray:
    """The Mahalanobis distance to the nearest class mean by a full eigendecomposition: the covariance's smallest
    eigenvalues beyond ``kept`` replaced by their mean, then shrunk toward the mean variance times the identity."""
    means = np.stack([train[labels == c].mean(0) for c in range(3)])
    within = train - means[labels]
    covariance = np.cov(within, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    values, vectors = values[::-1].copy(), vectors[:, ::-1]
    values[kept:] = values[kept:].mean() if kept < len(values) else values[kept:]
    values = (1 - unfamiliar.SHRINKAGE) * values + unfamiliar.SHRINKAGE * np.trace(covariance) / len(values)
    precision = vectors @ np.diag(1 / values) @ vectors.T
    return np.array([min((p - m) @ precision @ (p - m) for m in means) for p in points])


@pytest.mark.parametrize("components", [12, 4])  # every direction kept exactly; four kept, the rest as one
def test_the_mahalanobis_distance_matches_a_full_covariance(monkeypatch: pytest.MonkeyPatch, components: int):
    monkeypatch.setattr(unfamiliar, "COMPONENTS", components)
    train, labels = clusters(600, 12, seed=0)
    points = clusters(50, 12, seed=1)[0] * 1.5
    gaussians = unfamiliar.fit_gaussians(train, labels)
    np.testing.assert_allclose(gaussians.distances(points), hand_distances(train, labels, points, components),
                               rtol=1e-4)
    assert np.isnan(gaussians.means[3:]).all()  # classes that never appeared take no part


def test_the_calibrated_limit_flags_the_intended_share_of_a_synthetic_set():
    scores = np.random.default_rng(0).normal(size=1000)
    for share in (0.05, 0.025, 0.2):
        limit = unfamiliar.calibrated_limit(scores, share)
        assert (scores > limit).sum() == round(share * 1000)
    assert (np.arange(10.0) > unfamiliar.calibrated_limit(np.arange(10.0), 0.05)).sum() == 0  # 0.5 of a score: none


def test_the_two_scores_together_flag_at_most_five_percent_of_the_calibration_set():
    train, labels = clusters(500, 12, seed=0)
    test = torch.tensor(clusters(400, 12, seed=2)[0])
    logits = torch.tensor(np.random.default_rng(3).normal(size=(400, 10)) * 3)
    model = unfamiliar.fit(torch.tensor(train), torch.tensor(labels), test, logits)
    verdicts = unfamiliar.assess(model, test, logits, [np.zeros((28, 28), np.uint8)] * 400)
    flagged = np.mean([verdict.flagged for verdict in verdicts])
    assert unfamiliar.FLAGGED_SHARE / 2 <= flagged <= unfamiliar.FLAGGED_SHARE
    far = torch.tensor(clusters(20, 12, seed=4)[0] * 10)  # far from every class
    verdicts = unfamiliar.assess(model, far, logits[:20], [np.zeros((28, 28), np.uint8)] * 20)
    assert all(verdict.far and verdict.flagged and verdict.unusual == 1 for verdict in verdicts)
    assert "its answer is a guess" in verdicts[0].message() and "farther from every class" in verdicts[0].detail()


def test_an_ordinary_test_image_is_called_more_unusual_than_about_half_of_them_not_most():
    train, labels = clusters(500, 12, seed=0)
    test = torch.tensor(clusters(400, 12, seed=2)[0])
    logits = torch.tensor(np.random.default_rng(3).normal(size=(400, 10)) * 3)
    model = unfamiliar.fit(torch.tensor(train), torch.tensor(labels), test, logits)
    unusual = np.array([verdict.unusual for verdict in unfamiliar.assess(model, test, logits,
                                                                         [np.zeros((28, 28), np.uint8)] * 400)])
    # Each test image's share is its place among the test images themselves: spread evenly over [0, 1).
    for share in (0.25, 0.5, 0.75, 0.9):
        assert (unusual < share).mean() == pytest.approx(share, abs=0.03)
    words = unfamiliar.Verdict(False, False, 0.5, ()).detail()
    assert words == "More unusual than 50% of its own test images."


BOOT = [(100, 20), (180, 20), (180, 150), (250, 190), (250, 240), (40, 240), (40, 190), (100, 160)]


def drawing(shapes: list[list[tuple[int, int]]], filled: bool, size: tuple[int, int] = (280, 280)) -> np.ndarray:
    """Shapes drawn light on black as on the canvas, through the app's preprocessing: the 28×28 picture."""
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    for corners in shapes:
        if filled:
            draw.polygon(corners, fill=255)
        else:
            draw.line(corners + corners[:1], fill=255, width=10, joint="curve")
    return preprocess(canvas).image28


def test_the_outline_hint_fires_on_an_outline_and_not_on_its_filled_twin():
    assert unfamiliar.hints(drawing([BOOT], filled=False)) == ("hollow",)
    assert unfamiliar.hints(drawing([BOOT], filled=True)) == ()


def test_hints_for_several_objects_and_a_picture_that_is_mostly_background():
    right = [(x + 300, y) for x, y in BOOT]
    assert unfamiliar.hints(drawing([BOOT, right], filled=True, size=(560, 280))) == ("several",)
    dot = np.zeros((28, 28), np.uint8)
    dot[3:6, 20:23] = 255  # a small garment, the crop switched off
    assert unfamiliar.hints(dot) == ("background",)
    assert unfamiliar.hints(np.zeros((28, 28), np.uint8)) == ("background",)


def test_the_verdict_summary_names_the_guess_and_the_hints():
    assert unfamiliar.Verdict(True, False, 0.99, ("hollow",)).summary() == "a guess, an outline"
    assert unfamiliar.Verdict(False, False, 0.4, ()).summary() is None
    assert unfamiliar.Verdict(False, True, 0.98, ()).flagged
