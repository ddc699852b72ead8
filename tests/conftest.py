"""Shared fixtures: tiny Fashion-MNIST-shaped IDX files that the tests write themselves, events made by hand,
holding a training process, processes that pass for a run's trainer, and a runs folder for the app."""
from __future__ import annotations

import dataclasses
import gzip
import os
import shutil
import signal
import subprocess
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pytest
import torch

from alexnet_explorer.config import RunConfig, build_model
from alexnet_explorer.data import DATA_ENV, DEBIAN_DIR, IDX_FILES, find_idx_files
from alexnet_explorer.events import KINDS, Event, from_record
from alexnet_explorer.runs import RUNS_ENV


SMALL = RunConfig(resize=65, init="kaiming", device="cpu")  # the smallest input AlexNet takes, started as it learns


@pytest.fixture(scope="module")
def net() -> torch.nn.Sequential:
    """An untrained SMALL network of seed 0, in eval mode (one per test module: a test may not change it)."""
    torch.manual_seed(0)
    return build_model(SMALL).eval()


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip'd when the name ends in .gz)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def synthetic_split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28×28 images: each class is a bright bar at its own place and angle, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    rng.shuffle(labels)
    images = rng.integers(0, 40, size=(count, 28, 28))
    for image, label in zip(images, labels):
        if label < 5:
            image[4 + 4 * label: 8 + 4 * label, 3:25] = 220  # horizontal bars at five heights
        else:
            image[3:25, 4 + 4 * (label - 5): 8 + 4 * (label - 5)] = 220  # vertical bars at five places
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_fixture_dataset(folder: Path, train: int = 300, test: int = 100, gz: bool = True) -> Path:
    """Write the four IDX files of a tiny synthetic Fashion-MNIST into a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = dict(zip(("train_images", "train_labels"), synthetic_split(train, 1)))
    arrays.update(zip(("test_images", "test_labels"), synthetic_split(test, 2)))
    for key, stem in IDX_FILES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return folder


@pytest.fixture(scope="session")
def fixture_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with tiny synthetic IDX files (300 train, 100 test images)."""
    return write_fixture_dataset(tmp_path_factory.mktemp("fashion-mnist"))


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No download and no system-wide copy: only what a test names is found."""
    def refuse(directory: Path) -> None:
        raise ConnectionError("no network in tests")

    monkeypatch.setattr("alexnet_explorer.data.download", refuse)
    monkeypatch.setattr("alexnet_explorer.data.DEBIAN_DIR", Path("/nonexistent/debian-fashion-mnist"))
    monkeypatch.delenv("ALEXNET_EXPLORER_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent/cache")


@pytest.fixture
def stand_ins() -> Iterator[list[subprocess.Popen]]:
    """Processes that pass for a run's trainer (sleeping), ended after the test."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


real_data = pytest.mark.skipif(find_idx_files(DEBIAN_DIR) is None,
                               reason=f"real Fashion-MNIST not installed in {DEBIAN_DIR}")


def event(kind: str, **given: object) -> Event:
    """An event of this kind with the fields a test gives, the others zero or empty (what the test is not about)."""
    made = KINDS[kind]
    hints = typing.get_type_hints(made)
    zeros = {f.name: hints[f.name]() for f in dataclasses.fields(made) if not f.metadata.get("transient")}
    recorded = from_record({"kind": kind} | zeros | given)
    assert recorded is not None, f"not a {kind} event: {given}"
    return recorded


@contextmanager
def held(pid: int | None) -> Iterator[None]:
    """A run's training process paused (SIGSTOP) inside the block and let go after it: a test that must see a run
    still training sees it, however fast this CPU trains (a tiny run ends within seconds on a fast one)."""
    assert pid is not None, "the run has no training process to hold"
    os.kill(pid, signal.SIGSTOP)
    try:
        stat = Path(f"/proc/{pid}/stat")
        deadline = time.monotonic() + 10
        while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] not in "Tt":  # the stop is delivered
            assert time.monotonic() < deadline, f"process {pid} did not stop"
            time.sleep(0.01)
        yield
    finally:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def runs_holding(monkeypatch: pytest.MonkeyPatch, folder: Path, data_dir: Path, run: Path, name: str) -> Path:
    """A runs folder in ``folder`` holding a copy of ``run`` as ``name``, given to the app with the data through its
    environment variables."""
    monkeypatch.setenv(DATA_ENV, str(data_dir))
    monkeypatch.setenv(RUNS_ENV, str(folder / "runs"))
    shutil.copytree(run, folder / "runs" / name)
    return folder / "runs"
