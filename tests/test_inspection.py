"""Filter grids, feature maps, embeddings, probes and the hand-designed feature bank."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alexnet_explorer.config import PRESETS, build_model
from alexnet_explorer.data import to_model_input
from alexnet_explorer.handcrafted import apply_bank, filter_bank, hog_image
from alexnet_explorer.inspection import (
    filter_order,
    filter_peaks,
    NOISE_HIDES_BELOW,
    FilterHistory,
    added_by_training,
    changes_since_init,
    extract_features,
    feature_maps,
    filter_changes,
    filter_grid,
    filter_history,
    filter_norms,
    filter_strength,
    filter_view,
    grid_shape,
    linear_probe,
    project,
    random_filters,
    raw_pixels,
    relative_change,
    strongest_first,
)
from alexnet_explorer.model import (
    alexnet,
    conv_layers,
    layer_output_shapes,
)
from alexnet_explorer.runs import CheckpointError, RunDir, load_weights


@pytest.fixture(scope="module")
def nets() -> dict[int, torch.nn.Sequential]:
    torch.manual_seed(0)
    return {size: alexnet(size) for size in (65, 96)}


def tile(grid: np.ndarray, index: int, kernel: int = 11, columns: int = 12, gap: int = 1) -> np.ndarray:
    step = kernel + gap
    top, left = (index // columns) * step, (index % columns) * step
    return grid[top:top + kernel, left:left + kernel]


# --- filter grid -----------------------------------------------------------------------------------

def test_grid_layout_for_96_filters_has_8x12_tiles_and_nan_gaps():
    weights = torch.randn(96, 1, 11, 11)
    grid = filter_grid(weights)
    assert grid_shape(96, 12) == (8, 12)
    assert grid.shape == (8 * 11 + 7, 12 * 11 + 11)
    assert np.isnan(grid[11, :]).all() and np.isnan(grid[:, 11]).all()
    assert not np.isnan(tile(grid, 95)).any()
    assert np.nanmax(np.abs(grid)) <= 1.0


def test_per_filter_normalisation_matches_reference_and_peaks_at_one():
    weights = torch.randn(96, 1, 11, 11) * torch.linspace(0.1, 5, 96).view(96, 1, 1, 1)
    grid = filter_grid(weights, "per_filter")
    for index in (0, 13, 95):
        w = weights[index, 0].double().numpy()
        np.testing.assert_allclose(tile(grid, index), w / np.abs(w).max())
        assert np.abs(tile(grid, index)).max() == pytest.approx(1.0)


def test_shared_normalisation_keeps_relative_scales():
    base = torch.randn(1, 11, 11)
    weights = torch.stack([base, 0.5 * base, 0.1 * base, torch.zeros(1, 11, 11)])
    shared = filter_grid(weights, "shared", columns=2)
    per_filter = filter_grid(weights, "per_filter", columns=2)
    peaks = [np.abs(tile(shared, i, columns=2)).max() for i in range(4)]
    assert peaks == pytest.approx([1.0, 0.5, 0.1, 0.0])
    assert np.abs(tile(per_filter, 1, columns=2)).max() == pytest.approx(1.0)


def test_zero_filter_gives_zeros_not_nan():
    weights = torch.randn(12, 1, 11, 11)
    weights[5] = 0
    for normalization in ("per_filter", "shared"):
        assert (tile(filter_grid(weights, normalization), 5) == 0).all()
        all_zero = filter_grid(torch.zeros(3, 1, 5, 5), normalization)
        assert (all_zero[~np.isnan(all_zero)] == 0).all() and np.isnan(all_zero).sum() == 2 * 5


def test_incomplete_last_row_lays_the_tiles_in_reading_order_between_gaps():
    count, kernel, columns = 10, 5, 4
    weights = torch.randn(count, 1, kernel, kernel)
    grid = filter_grid(weights, columns=columns)
    assert grid_shape(count, columns) == (3, 4)
    assert grid.shape == (3 * 6 - 1, 4 * 6 - 1)
    for index in range(count):
        top, left = (index // columns) * 6, (index % columns) * 6
        tile = weights[index, 0].double().numpy()
        np.testing.assert_allclose(grid[top:top + kernel, left:left + kernel], tile / np.abs(tile).max())
    assert np.isnan(grid[5]).all() and np.isnan(grid[:, 5]).all()  # gaps between rows and columns
    assert np.isnan(grid[12:17, 12:17]).all()                      # the empty slot after the tenth tile


def test_filter_grid_rejects_bad_arguments():
    with pytest.raises(ValueError):
        filter_grid(torch.randn(4, 1, 3, 3), "global")
    with pytest.raises(ValueError):
        filter_grid(torch.randn(4, 3, 3, 3))


# --- norms and changes -----------------------------------------------------------------------------

def test_filter_norms_and_changes_match_the_formula():
    torch.manual_seed(1)
    snapshots = {3: torch.randn(6, 1, 11, 11), 0: torch.randn(6, 1, 11, 11), 1: torch.randn(6, 1, 11, 11)}
    first = snapshots[0].double().numpy()
    np.testing.assert_allclose(filter_norms(snapshots[0]), [np.sqrt((w**2).sum()) for w in first])
    changes = filter_changes(snapshots)
    assert [epoch for epoch, _ in changes] == [1, 3]
    for (epoch, change), previous in zip(changes, (0, 1)):
        after, before = snapshots[epoch].double().numpy(), snapshots[previous].double().numpy()
        assert change == pytest.approx(np.linalg.norm(after - before) / np.linalg.norm(before))
    assert filter_changes({0: snapshots[0], 1: snapshots[0].clone()}) == [(1, 0.0)]


def added_by_hand(start: torch.Tensor, weights: torch.Tensor) -> np.ndarray:
    """W − W_0 with each filter's own mean taken away, filter by filter."""
    return np.stack([change - change.mean() for change in weights.double().numpy() - start.double().numpy()])


def test_what_training_added_loses_the_shift_shared_by_a_filters_weights():
    torch.manual_seed(5)
    start, pattern = torch.randn(3, 1, 11, 11), torch.randn(3, 1, 11, 11)
    shifted = start + pattern + torch.tensor([2.0, -3.0, 0.5]).reshape(3, 1, 1, 1)  # a large offset per filter
    added = added_by_training(start, shifted)
    np.testing.assert_allclose(added.numpy(), added_by_hand(start, shifted), atol=1e-6)
    np.testing.assert_allclose(added.numpy(), added_by_hand(torch.zeros_like(pattern), pattern), atol=1e-5)
    assert added.flatten(1).mean(dim=1).abs().max() < 1e-6


def test_changes_since_init_subtract_the_random_start_from_every_later_epoch():
    torch.manual_seed(2)
    snapshots = {0: torch.randn(4, 1, 11, 11), 2: torch.randn(4, 1, 11, 11), 1: torch.randn(4, 1, 11, 11)}
    changes = changes_since_init(snapshots)
    assert sorted(changes) == [1, 2]
    for epoch, change in changes.items():
        np.testing.assert_allclose(change.numpy(), added_by_hand(snapshots[0], snapshots[epoch]), atol=1e-6)
    assert relative_change(snapshots[0], snapshots[2]) == pytest.approx(
        float(np.linalg.norm(snapshots[2].numpy() - snapshots[0].numpy()) / np.linalg.norm(snapshots[0].numpy())))
    assert changes_since_init({1: snapshots[1], 2: snapshots[2]}) == {}  # no random start saved


def test_filter_view_shows_w_minus_w0_only_when_asked_and_there_is_a_later_epoch():
    torch.manual_seed(3)
    snapshots = {0: torch.randn(4, 1, 11, 11), 1: torch.randn(4, 1, 11, 11), 2.5: torch.randn(4, 1, 11, 11)}
    added = filter_view(snapshots, show_added=True)
    assert added.added and sorted(added.filters) == [1, 2.5]
    for epoch, change in added.filters.items():
        np.testing.assert_allclose(change.numpy(), added_by_hand(snapshots[0], snapshots[epoch]), atol=1e-6)
    plain = filter_view(snapshots, show_added=False)
    assert not plain.added and plain.filters is snapshots
    for only_some in ({0: snapshots[0]}, {1: snapshots[1], 2.5: snapshots[2.5]}):  # nothing to subtract
        view = filter_view(only_some, show_added=True)
        assert not view.added and view.filters is only_some


def test_filter_strength_is_the_norm_and_the_rank_a_brute_force_count_gives():
    torch.manual_seed(4)
    weights = torch.randn(12, 1, 11, 11)
    weights[7] = weights[2]  # equal norms share a rank
    norms = [float(np.linalg.norm(w.double().numpy())) for w in weights]
    for index in range(12):
        strength = filter_strength(weights, index)
        assert strength.norm == pytest.approx(norms[index]) and strength.count == 12
        assert strength.rank == 1 + sum(1 for other in norms if other > norms[index] + 1e-12)
    assert filter_strength(weights, int(np.argmax(norms))).rank == 1
    assert filter_strength(weights, int(np.argmin(norms))).rank == 12
    assert filter_strength(weights, 2).rank == filter_strength(weights, 7).rank


def test_random_filters_are_a_seeded_classroom_init_that_leaves_the_global_random_state_alone():
    before = torch.random.get_rng_state()
    filters = random_filters(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(3)
    torch.testing.assert_close(filters, build_model(PRESETS["classroom"]).conv1.weight.detach())
    assert tuple(filters.shape) == (96, 1, 11, 11) and not torch.equal(filters, random_filters(4))


def test_filter_history_reads_every_snapshot_and_frame_and_names_the_unreadable_ones(tmp_path):
    run = RunDir.create(tmp_path, PRESETS["smoke"], label="history")
    saved = {epoch: torch.randn(96, 1, 11, 11) for epoch in (0, 0.5, 1, 1.5, 2)}
    for epoch, weights in saved.items():
        (run.save_filters if float(epoch).is_integer() else run.save_frame)(epoch, weights)
    run.filters_path(1).write_bytes(b"garbage")

    history = filter_history(run)
    assert sorted(history.snapshots) == [0, 2] and sorted(history.frames) == [0.5, 1.5]
    for epoch, weights in history.timeline.items():
        torch.testing.assert_close(weights, saved[epoch])
    ((what, epoch, error),) = [(u.what, u.epoch, u.error) for u in history.unreadable]
    assert (what, epoch) == ("Snapshot", 1) and isinstance(error, CheckpointError)
    assert history.start is history.snapshots[0]

    read = []

    def vanishing(path):  # a cached reader whose file went away between listing and reading
        read.append(path)
        if path == run.frame_path(1.5):
            raise FileNotFoundError(2, "No such file", str(path))
        return load_weights(path)

    history = filter_history(run, vanishing)
    assert sorted(read) == sorted([run.filters_path(e) for e in (0, 1, 2)] + [run.frame_path(e) for e in (0.5, 1.5)])
    assert [(u.what, u.epoch) for u in history.unreadable] == [("Snapshot", 1), ("Frame", 1.5)]
    assert FilterHistory({0: saved[0]}).start is None and FilterHistory({2: saved[2]}).start is None


# --- feature maps ----------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [65, 96])
def test_feature_map_shapes_match_layer_output_shapes(nets, size):
    net = nets[size]
    expected = dict(layer_output_shapes(net, size))
    x = torch.rand(1, 1, size, size)
    for layer in conv_layers(net):
        maps = feature_maps(net, x, layer)
        assert tuple(maps.shape) == expected[layer]
        assert (maps >= 0).all()
    assert tuple(feature_maps(net, x, "fc7").shape) == (4096,)


def test_conv1_feature_maps_at_224():
    torch.manual_seed(0)
    net = alexnet(224)
    assert tuple(feature_maps(net, torch.rand(1, 1, 224, 224), "conv1").shape) == (96, 54, 54)


def test_feature_maps_equal_a_manual_forward_pass(nets):
    net = nets[65]
    x = torch.rand(1, 1, 65, 65)
    up_to_act7 = net[: list(dict(net.named_children())).index("act7") + 1]
    with torch.no_grad():
        conv1 = F.relu(net.conv1(x))[0]
        fc7 = up_to_act7.eval()(x)[0]
    net.train()  # the slice shares its modules with the fixture's net
    torch.testing.assert_close(feature_maps(net, x, "conv1"), conv1)
    torch.testing.assert_close(feature_maps(net, x, "fc7"), fc7)


def test_hooks_removed_and_mode_restored(nets):
    net = nets[65]
    x = torch.rand(1, 1, 65, 65)
    for training in (True, False):
        net.train(training)
        first = feature_maps(net, x, "fc6")
        assert all(module.training == training for module in net.modules())
        assert all(not module._forward_hooks for module in net.modules())
        torch.testing.assert_close(feature_maps(net, x, "fc6"), first)  # dropout stays off
    with pytest.raises(ValueError):
        feature_maps(net, x, "fc8")
    assert all(not module._forward_hooks for module in net.modules())


def test_strongest_first_orders_by_mean_activation():
    maps = torch.zeros(4, 3, 3)
    maps[0] = 1.0
    maps[2] = 3.0
    maps[3, 0, 0] = 18.0  # mean 2: a single hot pixel still counts through the mean
    assert strongest_first(maps) == [2, 3, 0, 1]
    assert strongest_first(torch.tensor([0.5, 2.0, 1.0])) == [1, 2, 0]


# --- embeddings and probes -------------------------------------------------------------------------

def test_extract_features_batches_like_single_images(nets):
    net = nets[65]
    images = torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8)
    features = extract_features(net, images, 65, batch_size=2)
    assert features.shape == (5, 4096)
    reference = torch.stack([feature_maps(net, to_model_input(im[None], 65), "fc7") for im in images])
    np.testing.assert_allclose(features, reference.numpy(), rtol=1e-5, atol=1e-6)
    assert extract_features(net, images[:3], 65, layer="conv5").shape == (3, 256 * 3 * 3)


@pytest.mark.parametrize("dims", [20, 64])
def test_project_gives_two_finite_columns(dims):
    features = np.random.default_rng(0).normal(size=(60, dims))
    for method in ("pca", "tsne"):
        points = project(features, method)
        assert points.shape == (60, 2) and np.isfinite(points).all()
    np.testing.assert_allclose(project(features, "pca"), project(features, "pca"))
    with pytest.raises(ValueError):
        project(features, "umap")


def test_linear_probe_separable_vs_random_labels():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(3, 8))
    labels = rng.integers(0, 3, size=600)
    points = centres[labels] + rng.normal(size=(600, 8))
    assert linear_probe(points[:300], labels[:300], points[300:], labels[300:]) > 0.98

    noise = rng.normal(size=(3000, 5))
    random_labels = rng.integers(0, 10, size=3000)
    accuracy = linear_probe(noise[:1000], random_labels[:1000], noise[1000:], random_labels[1000:])
    assert abs(accuracy - 0.1) < 0.04


def test_raw_pixels_flattens_to_unit_range():
    images = torch.tensor([0, 255], dtype=torch.uint8).repeat(3, 1, 28, 14)
    pixels = raw_pixels(images)
    assert pixels.shape == (3, 784)
    assert pixels.min() == 0.0 and pixels.max() == 1.0


# --- hand-designed features ------------------------------------------------------------------------

def test_filter_bank_shapes():
    bank = filter_bank()
    assert set(bank) == {"Sobel x", "Sobel y", "Prewitt x", "Prewitt y",
                         "Gabor 0°", "Gabor 45°", "Gabor 90°", "Gabor 135°"}
    for name, kernel in bank.items():
        assert kernel.shape == ((11, 11) if name.startswith("Gabor") else (3, 3))
        assert abs(kernel.sum()) < 1e-9  # zero-mean: a flat image gives no response


def test_sobel_x_sees_vertical_edges_only():
    vertical = np.zeros((28, 28))
    vertical[:, 14:] = 1.0
    horizontal = vertical.T.copy()
    bank = filter_bank()
    on_vertical, on_horizontal = apply_bank(vertical, bank), apply_bank(horizontal, bank)
    assert on_vertical["Sobel x"].shape == (28, 28)
    assert on_vertical["Sobel x"][:, 13:15].min() == pytest.approx(4.0)
    assert np.abs(on_horizontal["Sobel x"]).max() == 0.0
    assert np.abs(on_horizontal["Sobel y"]).max() == pytest.approx(4.0)
    energy = {name: np.square(response).sum() for name, response in on_vertical.items()}
    assert energy["Gabor 0°"] > 10 * energy["Gabor 90°"]


def test_hog_shapes_and_range():
    image = np.zeros((28, 28))
    image[8:20, 8:20] = 1.0
    features, picture = hog_image(image)
    assert features.shape == (6 * 6 * 2 * 2 * 9,)  # 7×7 cells of 4 px, 2×2-cell blocks
    assert picture.shape == (28, 28)
    assert picture.min() >= 0.0 and picture.max() == pytest.approx(1.0)
    blank_features, blank_picture = hog_image(np.zeros((28, 28)))
    assert np.isfinite(blank_features).all() and (blank_picture == 0).all()


def test_a_conv1_that_moved_little_from_its_random_start_counts_as_still_hidden_by_its_noise():
    start = random_filters(0)
    learned = torch.randn(start.shape, generator=torch.Generator().manual_seed(1))
    learned *= start.norm() / learned.norm()  # a pattern as strong as the start's noise
    assert relative_change(start, start + 0.1 * learned) < NOISE_HIDES_BELOW  # the grid still looks random
    assert relative_change(start, start + learned) > NOISE_HIDES_BELOW  # the learned pattern shows


def edge(angle: str) -> np.ndarray:
    """An 11×11 step edge that runs vertically ('|'), horizontally ('-') or along a diagonal ('/')."""
    side = np.arange(11) - 5
    x, y = side[None, :], side[:, None]
    across = {"|": x + 0 * y, "-": y + 0 * x, "/": x + y}[angle]
    return np.where(across < 0, -1.0, 1.0)


def test_filters_order_by_edge_angle_with_blobs_after_the_edges_and_dead_ones_last():
    side = np.arange(11) - 5
    blob = np.exp(-(side[:, None] ** 2 + side[None, :] ** 2) / 4)
    bank = torch.tensor(np.stack([blob, edge("|"), edge("-"), edge("/"), edge("|") * 0.5, edge("-")]))[:, None]
    order = filter_order(bank, "orientation", dead=[5])
    # horizontal (0°), the two vertical ones side by side (90°), the diagonal (135°); the blob, then the dead one
    assert order == [2, 1, 4, 3, 0, 5]
    assert filter_order(bank, "number", dead=[5]) == list(range(6))  # as numbered is as numbered


def test_filters_order_from_coarse_to_fine():
    side = np.arange(11) - 5
    stripes = [np.cos(2 * np.pi * cycles * side / 11)[None, :].repeat(11, 0) for cycles in (4, 1, 2.5)]
    assert filter_order(torch.tensor(np.stack(stripes))[:, None], "coarseness") == [1, 2, 0]
    with pytest.raises(ValueError, match="order must be one of"):
        filter_order(torch.zeros(2, 1, 11, 11), "colour")


def test_a_filter_is_dead_when_relu_silences_it_on_every_picture():
    torch.manual_seed(0)
    net = build_model(PRESETS["smoke"]).eval()
    with torch.no_grad():
        net.conv1.weight[:3] = -net.conv1.weight[:3].abs()  # pixels are never negative: these see only ≤ 0...
        net.conv1.bias[:3] = -0.1  # ...below zero
        net.conv1.weight[3] = net.conv1.weight[3].abs()
        net.conv1.bias[3] = 0.1  # and this one fires on every picture, even a black one
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8)
    peaks = filter_peaks(net, images, 65, batch=16)
    brute = torch.relu(net.conv1(to_model_input(images, 65))).amax(dim=(0, 2, 3)).detach().numpy()
    np.testing.assert_allclose(peaks, brute, rtol=1e-5, atol=1e-6)
    assert (peaks[:3] == 0).all() and peaks[3] > 0
