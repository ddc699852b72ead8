"""Data sources, IDX reading and device-resident batches."""
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import real_data, synthetic_split, write_fixture_dataset, write_idx
from alexnet_explorer import data
from alexnet_explorer.data import (AUGMENTATIONS, CLASSES, CorruptDataError, DataUnavailableError, DeviceBatches,
                                   augment, augment_like_drawings, load_fashion_mnist, locate, read_idx,
                                   to_model_input)


def test_reads_gzip_and_raw_idx_alike(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    write_idx(tmp_path / "a", array)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), array)
    assert np.array_equal(read_idx(tmp_path / "a"), array)


def test_truncated_idx_is_reported_with_its_path(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CorruptDataError, match=str(path)):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"hello world, not an idx file", b"\x00\x00\x08\x03\x00"])
def test_non_idx_files_are_reported(tmp_path, content):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(CorruptDataError, match="bad"):
        read_idx(path)


def test_damaged_gzip_is_reported(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"\x00" * 2000)[:30])
    with pytest.raises(CorruptDataError, match="bad.gz"):
        read_idx(path)


def test_loads_a_folder_into_uint8_tensors(fixture_data_dir, offline):
    loaded = load_fashion_mnist(fixture_data_dir)
    assert loaded.train_images.shape == (300, 1, 28, 28) and loaded.train_images.dtype == torch.uint8
    assert loaded.test_labels.dtype == torch.int64 and len(loaded.test_labels) == 100
    assert loaded.classes == CLASSES and len(CLASSES) == 10
    images, _ = synthetic_split(300, 1)
    assert torch.equal(loaded.train_images[:, 0], torch.from_numpy(images))


def test_torchvision_raw_layout_and_uncompressed_files_are_found(tmp_path, offline):
    write_fixture_dataset(tmp_path / "FashionMNIST" / "raw", gz=False)
    assert load_fashion_mnist(tmp_path).train_images.shape[0] == 300


def test_named_folder_wins_over_environment_and_is_used_alone(tmp_path, offline, monkeypatch):
    named = write_fixture_dataset(tmp_path / "named", train=20, test=10)
    env = write_fixture_dataset(tmp_path / "env", train=30, test=10)
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(env))
    assert len(load_fashion_mnist(named).train_images) == 20
    assert len(load_fashion_mnist().train_images) == 30
    with pytest.raises(DataUnavailableError):
        locate(tmp_path / "empty")  # named but empty: never silently replaced by the environment's folder


def test_debian_copy_comes_before_the_download_cache(tmp_path, offline, monkeypatch):
    debian = write_fixture_dataset(tmp_path / "debian", train=40, test=10)
    cache = write_fixture_dataset(tmp_path / "cache" / "alexnet-explorer", train=50, test=10)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert len(load_fashion_mnist().train_images) == 50
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    assert len(load_fashion_mnist().train_images) == 40
    assert cache.exists()


def test_download_goes_into_a_named_empty_folder(tmp_path, offline, monkeypatch):
    target = tmp_path / "fresh"
    monkeypatch.setattr(data, "download", lambda folder: write_fixture_dataset(Path(folder) / "FashionMNIST" / "raw"))
    assert load_fashion_mnist(target).source == str(target / "FashionMNIST" / "raw")


def test_no_source_gives_one_paragraph_naming_the_ways_to_get_the_data(tmp_path, offline):
    with pytest.raises(DataUnavailableError) as caught:
        load_fashion_mnist(tmp_path / "nothing-here")
    message = str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in message and "--data-root" in message
    assert "nothing-here" in message and "no network in tests" in message and "\n" not in message


def test_model_input_is_scaled_and_resized():
    images = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    x = to_model_input(images, 67)
    assert x.shape == (2, 1, 67, 67) and x.dtype == torch.float32
    assert torch.allclose(x, torch.ones_like(x))


def test_batches_cover_every_example_once_in_a_seeded_order():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 28, 28).contiguous()
    labels = torch.arange(10)
    first = DeviceBatches(images, labels, 4, 65, torch.device("cpu"), shuffle=True, seed=3)
    again = DeviceBatches(images, labels, 4, 65, torch.device("cpu"), shuffle=True, seed=3)
    batches = list(first)
    assert [len(y) for _, y in batches] == [4, 4, 2] and len(first) == 3
    order = torch.cat([y for _, y in batches])
    assert sorted(order.tolist()) == list(range(10)) and order.tolist() != list(range(10))
    assert torch.equal(order, torch.cat([y for _, y in again]))
    for x, y in batches:  # images still belong to their labels after shuffling and resizing
        assert torch.allclose(x[:, 0, 0, 0] * 255, y.float(), atol=1e-3)


def test_resuming_an_epoch_part_way_replays_the_same_order():
    images = torch.zeros(10, 1, 28, 28, dtype=torch.uint8)
    batches = DeviceBatches(images, torch.arange(10), 4, 65, torch.device("cpu"), shuffle=True, seed=5)
    state = batches.generator.get_state()
    full = torch.cat([y for _, y in batches])
    batches.generator.set_state(state)
    assert torch.equal(torch.cat([y for _, y in batches.starting_at(1)]), full[4:])


def test_augment_flips_and_shifts_within_bounds():
    image = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    image[0, 0, 10:14, 3:6] = 200
    outs = torch.cat([augment(image, torch.Generator().manual_seed(s)) for s in range(30)])
    assert outs.shape == (30, 1, 28, 28) and outs.dtype == torch.uint8
    assert (outs.flatten(1) == 200).sum(1).eq(12).all()  # the patch is moved, never cut, by ≤2 px shifts
    columns = {int(o[0].nonzero()[:, 1].min()) for o in outs}
    assert min(columns) >= 1 and max(columns) >= 20  # some flipped to the right side


def test_augmenting_like_drawings_flips_all_and_reshapes_only_its_share():
    images = torch.zeros(200, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 6:22, 9:15] = torch.arange(100, 200).reshape(1, 1, 100).repeat(2, 1, 1).reshape(200, 1, 1)
    images[:, 0, 6:9, 15:20] = 255  # a sleeve on the right: the picture is not its own mirror image
    flipped_only = augment_like_drawings(images, torch.Generator().manual_seed(0), share=0.0)
    as_floats = images.float() / 255
    unchanged, mirrored = (flipped_only == as_floats).flatten(1).all(1), (flipped_only == as_floats.flip(-1)).flatten(
        1).all(1)
    assert (unchanged ^ mirrored).all() and 60 < mirrored.sum() < 140  # every one is itself or its mirror image
    out = augment_like_drawings(images, torch.Generator().manual_seed(0), share=1.0)
    assert out.shape == images.shape and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert not ((out == as_floats) | (out == as_floats.flip(-1))).flatten(1).all(1).any()  # each one redrawn
    again = augment_like_drawings(images, torch.Generator().manual_seed(0), share=1.0)
    assert torch.equal(out, again)  # the generator decides everything: resuming replays the same pictures


def test_a_batch_is_augmented_as_the_config_names_it():
    images = torch.zeros(8, 1, 28, 28, dtype=torch.uint8)
    images[:, 0, 8:20, 8:20] = 180
    for name in AUGMENTATIONS:
        batches = DeviceBatches(images, torch.arange(8), 8, 65, torch.device("cpu"), augment=name, seed=1)
        x, _ = next(iter(batches))
        assert x.shape == (8, 1, 65, 65) and 0 <= x.min() and x.max() <= 1
        if name == "none":
            assert torch.equal(x, to_model_input(images, 65))


@real_data
def test_real_fashion_mnist_has_the_official_sizes():
    loaded = load_fashion_mnist(data.DEBIAN_DIR)
    assert loaded.train_images.shape == (60000, 1, 28, 28) and loaded.test_images.shape == (10000, 1, 28, 28)
    assert torch.bincount(loaded.test_labels).tolist() == [1000] * 10


def test_missing_data_says_why_or_nothing(fixture_data_dir, tmp_path, offline, monkeypatch):
    assert "apt-get install dataset-fashion-mnist" in data.missing_data()
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(tmp_path / "empty"))
    message = data.missing_data()
    assert "empty (no IDX files)" in message and "a download into" not in message  # nothing is downloaded
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(fixture_data_dir))
    assert data.missing_data() is None


def test_the_data_folder_is_read_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ALEXNET_EXPLORER_DATA", raising=False)
    assert data.data_root_from_env() is None
    monkeypatch.setenv("ALEXNET_EXPLORER_DATA", str(tmp_path))
    assert data.data_root_from_env() == str(tmp_path)
