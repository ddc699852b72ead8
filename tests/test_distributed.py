"""DDP: two gloo processes train a few steps, and their weights match one process with the same global batch."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from alexnet_explorer import devices, distributed
from alexnet_explorer import train as train_module
from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.data import DeviceBatches, load_fashion_mnist
from alexnet_explorer.events import EpochEnd, Event
from alexnet_explorer.train import train, train_step

# Dropout off: each process would draw its own masks, which no single process can reproduce.
CONFIG = PRESETS["smoke"].replace(epochs=2, limit_train=128, limit_test=64, batch_size=32, dropout=0.0, device="cpu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def last_checkpoint(config: RunConfig, data_dir: Path, ranks: distributed.Ranks = distributed.SINGLE) -> dict:
    """Train and return the checkpoint of the last epoch (as the run folder would keep it)."""
    epochs: list[EpochEnd] = []

    def keep(event: Event) -> None:
        if isinstance(event, EpochEnd):
            epochs.append(event)

    train(config, load_fashion_mnist(data_dir), keep, ranks=ranks)
    return epochs[-1].checkpoint | {"test_acc": epochs[-1].test_acc}


def rank_process(rank: int, world_size: int, port: int, data_dir: Path, out: Path) -> None:
    torch.set_num_threads(1)
    # float32: bf16's rounding depends on how a batch is split (and momentum amplifies it); the test compares the
    # exact arithmetic. This is a process of its own: nothing else sees the change.
    devices._cpu_has_amx = lambda: False
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    trained_on = []

    def counted_step(net, optimizer, x, y, label_smoothing):
        trained_on.append(len(y))
        return train_step(net, optimizer, x, y, label_smoothing)

    train_module.train_step = counted_step
    ranks = distributed.from_environment()
    distributed.start(distributed.rank_device(CONFIG.device, ranks))
    try:
        checkpoint = last_checkpoint(CONFIG, data_dir, ranks)
    finally:
        distributed.finish()
    torch.save(checkpoint | {"images_trained_on": sum(trained_on)}, out / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ddp_checkpoints(fixture_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(rank_process, args=(2, free_port(), fixture_data_dir, out), nprocs=2, join=True)
    return [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(2)]


def test_two_processes_train_the_weights_one_process_trains_with_the_same_global_batch(
        ddp_checkpoints, fixture_data_dir, monkeypatch):
    monkeypatch.setattr(devices, "_cpu_has_amx", lambda: False)
    reference = last_checkpoint(CONFIG, fixture_data_dir)
    for checkpoint in ddp_checkpoints:
        assert checkpoint["model"].keys() == reference["model"].keys()  # no DDP "module." prefix in checkpoints
        for name, weights in reference["model"].items():
            torch.testing.assert_close(checkpoint["model"][name], weights, rtol=1e-4, atol=1e-5, msg=name)
        ours, theirs = checkpoint["metrics"], reference["metrics"]
        assert ours[0] == pytest.approx(theirs[0], rel=1e-5)  # train loss over both processes' images
        assert ours[1:] == theirs[1:] and checkpoint["test_acc"] == reference["test_acc"]
        assert checkpoint["count"] == reference["count"]
        assert checkpoint["images_trained_on"] == CONFIG.epochs * CONFIG.limit_train // 2  # its half of each batch


def test_a_ddp_checkpoint_resumes_in_a_single_process(ddp_checkpoints, fixture_data_dir):
    resumed = train(CONFIG.replace(epochs=3), load_fashion_mnist(fixture_data_dir), resume=ddp_checkpoints[0])
    assert resumed.status == "finished" and resumed.epoch == 3.0


def test_ranks_take_disjoint_slices_that_make_up_the_global_batch():
    images, labels = torch.arange(10, dtype=torch.uint8).reshape(10, 1, 1, 1), torch.arange(10)
    shards = [list(DeviceBatches(images, labels, 4, 1, torch.device("cpu"), shuffle=True, shard=(rank, 2)))
              for rank in range(2)]
    single = list(DeviceBatches(images, labels, 4, 1, torch.device("cpu"), shuffle=True))
    for (x0, y0), (x1, y1), (x, y) in zip(*shards, single, strict=True):
        assert torch.equal(torch.cat([y0, y1]), y) and torch.equal(torch.cat([x0, x1]), x)
