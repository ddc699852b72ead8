"""How long a run will take: a measured training step of its network, scaled to its epochs."""
from __future__ import annotations

import statistics
import threading
import time

import torch

from .config import RunConfig, build_model
from .data import to_model_input
from .devices import kept_heap, move_to_device, resolve_device
from .evaluation import FIT_IMAGES
from .train import sgd, train_step

# On a CPU, time at most as many pixels as 16 images of 224 px (about a second): a full batch of 256 at 224 px takes
# most of a minute, while small inputs need their full batch, as one of 16 at 67 px runs at a third of the pace.
CPU_TIMING_PIXELS = 16 * 224 * 224
MIN_TIMED_STEPS, MAX_TIMED_STEPS, TIMING_SECONDS = 3, 8, 3.0
PROCESS_START_SECONDS = 5.0  # python, torch and Fashion-MNIST loaded before the first step (2-5 s measured here)
EVALUATION_SPEEDUP = 3  # a forward pass alone, against a training step
# Sessions that timed at once would share the cores and each measure a fraction of the speed (and the allocator
# setting kept_heap changes is the whole process's): one timing at a time.
_timing = threading.Lock()


def timing_batch(config: RunConfig) -> int:
    """Batch size to time: the run's own on an accelerator; on a CPU, as much of it as about a second allows."""
    if resolve_device(config.device).type != "cpu":
        return config.batch_size
    return min(config.batch_size, max(1, CPU_TIMING_PIXELS // config.resize**2))


def measure_throughput(config: RunConfig, batch_size: int) -> float:
    """Training images per second of this configuration's network on its device, from a few real SGD steps."""
    device = resolve_device(config.device)
    # The input from a generator of its own, and no seeding of the global one: every session of the app shares it.
    generator = torch.Generator().manual_seed(0)
    net = move_to_device(build_model(config), device)
    optimizer = sgd(net, config, device)
    # 28×28 pictures, resized in each step as training's batches are
    x28 = torch.randint(0, 256, (batch_size, 1, 28, 28), dtype=torch.uint8, generator=generator).to(device)
    y = torch.randint(0, 10, (batch_size,), generator=generator).to(device)
    seconds: list[float] = []
    # kept_heap: the allocator setting training runs with (without it CPU steps measure slower)
    with _timing, kept_heap(device):
        # The first steps pay for allocations and kernel selection (seconds on a GPU, and a CPU's bf16 kernels
        # settle over a few steps): the pace is the median of the steps after the first, as many as fit in a few
        # seconds.
        deadline = time.perf_counter() + TIMING_SECONDS
        while len(seconds) < MIN_TIMED_STEPS + 1 or (len(seconds) < MAX_TIMED_STEPS + 1
                                                     and time.perf_counter() < deadline):
            tic = time.perf_counter()
            loss, _ = train_step(net, optimizer, to_model_input(x28, config.resize), y, config.label_smoothing)
            loss.item()  # the step is done
            seconds.append(time.perf_counter() - tic)
    return batch_size / statistics.median(seconds[1:])


def epoch_seconds(config: RunConfig, images_per_sec: float) -> float:
    """Estimated time of one epoch: training at the measured rate, evaluation (forward only) at about 3x it."""
    return config.training_images / images_per_sec + config.test_images / (EVALUATION_SPEEDUP * images_per_sec)


def run_seconds(config: RunConfig, images_per_sec: float, epochs: float | None = None) -> float:
    """Estimated wall time of a run, or of its last ``epochs``: its training process's start, every epoch, and at the
    end the measurement of its network (its test images and up to FIT_IMAGES training images, forward only)."""
    measured = (config.test_images + min(FIT_IMAGES, config.training_images)) / (EVALUATION_SPEEDUP * images_per_sec)
    epochs = config.epochs if epochs is None else epochs
    return PROCESS_START_SECONDS + epochs * epoch_seconds(config, images_per_sec) + measured
