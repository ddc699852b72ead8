"""DDP: two gloo processes train a few steps, and their weights match one process with the same global batch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from alexnet_explorer import devices, distributed, launcher
from alexnet_explorer import train as train_module
from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.data import DeviceBatches, load_fashion_mnist
from alexnet_explorer.devices import ALL_GPUS
from alexnet_explorer.events import EpochEnd, Event
from alexnet_explorer.runs import Checkpoint, RunDir
from alexnet_explorer.train import train, train_step

# Dropout off: each process would draw its own masks, which no single process can reproduce.
CONFIG = PRESETS["smoke"].replace(epochs=2, limit_train=128, limit_test=64, batch_size=32, dropout=0.0, device="cpu")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def last_epoch(config: RunConfig, data_dir: Path, ranks: distributed.Ranks = distributed.SINGLE) -> EpochEnd:
    """Train and return the last epoch's end, with its checkpoint."""
    epochs: list[EpochEnd] = []

    def keep(event: Event) -> None:
        if isinstance(event, EpochEnd):
            epochs.append(event)

    train(config, load_fashion_mnist(data_dir), keep, ranks=ranks)
    return epochs[-1]


def rank_process(rank: int, world_size: int, port: int, data_dir: Path, out: Path) -> None:
    torch.set_num_threads(1)
    # float32: bf16's rounding depends on how a batch is split (and momentum amplifies it); the test compares the
    # exact arithmetic. This is a process of its own: nothing else sees the change.
    devices._cpu_multiplies_bf16 = lambda: False
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
        last = last_epoch(CONFIG, data_dir, ranks)
    finally:
        distributed.finish()
    torch.save({"checkpoint": last.checkpoint.to_dict(), "test_acc": last.test_acc,
                "images_trained_on": sum(trained_on)}, out / f"rank{rank}.pt")


@pytest.fixture(scope="module")
def ddp_results(fixture_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """Each process's checkpoint (as its run folder would keep it), test accuracy and images trained on."""
    out = tmp_path_factory.mktemp("ddp")
    mp.spawn(rank_process, args=(2, free_port(), fixture_data_dir, out), nprocs=2, join=True)
    results = [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in range(2)]
    return [result | {"checkpoint": Checkpoint.from_dict(result["checkpoint"])} for result in results]


def test_two_processes_train_the_weights_one_process_trains_with_the_same_global_batch(
        ddp_results, fixture_data_dir, monkeypatch):
    monkeypatch.setattr(devices, "_cpu_multiplies_bf16", lambda: False)
    last = last_epoch(CONFIG, fixture_data_dir)
    reference = last.checkpoint
    for result in ddp_results:
        checkpoint = result["checkpoint"]
        assert checkpoint.model.keys() == reference.model.keys()  # no DDP "module." prefix in checkpoints
        for name, weights in reference.model.items():
            torch.testing.assert_close(checkpoint.model[name], weights, rtol=1e-4, atol=1e-5, msg=name)
        ours, theirs = checkpoint.metrics, reference.metrics
        assert ours[0] == pytest.approx(theirs[0], rel=1e-5)  # train loss over both processes' images
        assert ours[1:] == theirs[1:] and result["test_acc"] == last.test_acc
        assert checkpoint.count == reference.count
        assert result["images_trained_on"] == CONFIG.epochs * CONFIG.limit_train // 2  # its half of each batch


def test_a_ddp_checkpoint_resumes_in_a_single_process(ddp_results, fixture_data_dir):
    resumed = train(CONFIG.replace(epochs=3), load_fashion_mnist(fixture_data_dir), resume=ddp_results[0]["checkpoint"])
    assert resumed.status == "finished" and resumed.epoch == 3.0


def test_ranks_take_disjoint_slices_that_make_up_the_global_batch():
    images, labels = torch.arange(10, dtype=torch.uint8).reshape(10, 1, 1, 1), torch.arange(10)
    shards = [list(DeviceBatches(images, labels, 4, 1, torch.device("cpu"), shuffle=True, shard=(rank, 2)))
              for rank in range(2)]
    single = list(DeviceBatches(images, labels, 4, 1, torch.device("cpu"), shuffle=True))
    for (x0, y0), (x1, y1), (x, y) in zip(*shards, single, strict=True):
        assert torch.equal(torch.cat([y0, y1]), y) and torch.equal(torch.cat([x0, x1]), x)


def torchrun(*args: str) -> subprocess.CompletedProcess:
    """The command line under torchrun with two CPU processes (gloo)."""
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           "-m", "alexnet_explorer", "train", *args], capture_output=True, text=True, timeout=600,
                          env=os.environ | {"OMP_NUM_THREADS": "1"}, cwd=Path(__file__).parent.parent)


def test_torchrun_trains_one_run_that_rank_zero_alone_prints_and_writes_and_resumes(tmp_path, fixture_data_dir):
    folder = tmp_path / "ddp-run"
    first = torchrun("--preset", "smoke", "--device", "cpu", "--epochs", "1", "--batch-size", "30",
                     "--data-root", str(fixture_data_dir), "--run-dir", str(folder))
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("training on 2×cpu") == 1 and first.stdout.count("examples/sec on 2×cpu") == 1
    assert "a batch of 30 does not divide" not in first.stdout  # 30 does divide by 2
    run = RunDir(folder)
    assert run.read_status()["state"] == "finished" and run.load_checkpoint().epoch == 1
    run.write_config(run.read_config().replace(epochs=2, batch_size=31))  # one more epoch, an odd batch
    second = torchrun("--data-root", str(fixture_data_dir), "--run-dir", str(folder), "--resume")
    assert second.returncode == 0, second.stderr
    assert "a batch of 31 does not divide among them, so they take 16 or 15 images" in second.stdout
    assert "resuming at epoch 2" in second.stdout
    assert [e.epoch for e in run.read_events() if e.kind == "epoch"] == [1, 2]
    assert run.load_checkpoint().epoch == 2
    run.write_config(run.read_config().replace(epochs=3))  # and one more, in a single process
    third = subprocess.run([sys.executable, "-m", "alexnet_explorer", "train", "--data-root", str(fixture_data_dir),
                            "--run-dir", str(folder), "--resume"], capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr
    assert "training on cpu (resuming at epoch 3)" in third.stdout and run.load_checkpoint().epoch == 3


def test_a_run_on_every_gpu_is_launched_under_torchrun_with_a_process_per_gpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    everywhere = RunDir.create(tmp_path, PRESETS["smoke"].replace(device=ALL_GPUS), "all")
    command = launcher.training_command(everywhere)
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4", "-m"]
    assert command[6:] == ["alexnet_explorer", "train", "--run-dir", str(everywhere.path.resolve()), "--resume",
                           f"--niceness={launcher.TRAINING_NICENESS}"]
    one = RunDir.create(tmp_path, PRESETS["smoke"], "one")
    assert launcher.training_command(one)[1:3] == ["-m", "alexnet_explorer"]
