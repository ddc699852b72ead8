"""How long a run will take: a measured training step of its network, scaled to its epochs."""
from __future__ import annotations

import time

import torch

from .config import RunConfig
from .data import TEST_SIZE, TRAIN_SIZE
from .devices import kept_heap, move_to_device, resolve_device
from .model import build_model
from .train import train_step

# On a CPU, time at most as many pixels as 16 images of 224 px (about a second): a full batch of 256 at 224 px takes
# most of a minute, while small inputs need their full batch, as one of 16 at 67 px runs at a third of the pace.
CPU_TIMING_PIXELS = 16 * 224 * 224


def timing_batch(config: RunConfig) -> int:
    """Batch size to time: the run's own on an accelerator; on a CPU, as much of it as about a second allows."""
    if resolve_device(config.device).type != "cpu":
        return config.batch_size
    return min(config.batch_size, max(1, CPU_TIMING_PIXELS // config.resize**2))


def measure_throughput(config: RunConfig, batch_size: int) -> float:
    """Training images per second of this configuration's network on its device, from two real SGD steps."""
    device = resolve_device(config.device)
    torch.manual_seed(0)
    net = move_to_device(build_model(config), device)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)
    x = torch.rand(batch_size, 1, config.resize, config.resize, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)
    seconds = []
    with kept_heap(device):  # the allocator setting training runs with: without it CPU steps measure slower
        for _ in range(2):
            tic = time.perf_counter()
            train_step(net, optimizer, x, y)[0].item()  # .item() waits for the device to finish the step
            seconds.append(time.perf_counter() - tic)
    # The first step pays for allocations and kernel selection (seconds on a GPU): the second is the pace.
    return batch_size / seconds[1]


def epoch_seconds(config: RunConfig, images_per_sec: float) -> float:
    """Estimated time of one epoch: training at the measured rate, evaluation (forward only) at about 3x it."""
    train_images = min(config.limit_train or TRAIN_SIZE, TRAIN_SIZE)
    test_images = min(config.limit_test or TEST_SIZE, TEST_SIZE)
    return train_images / images_per_sec + test_images / (3 * images_per_sec)
