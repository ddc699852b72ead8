"""What the benchmarks share: timing on any device, memory, FLOP/s, the machine's description, and a training run's
speed between its progress points."""
from __future__ import annotations

import math
import os
import platform
import resource
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from torch import nn

from alexnet_explorer.events import Event, Progress, Started
from alexnet_explorer.model import Conv2d, Dropout, MaxPool2d, count_macs

# Dense bf16 tensor-core peaks from NVIDIA's data sheets (TFLOP/s, without sparsity); matched against the
# device name, most specific first. The chapter's side runs float32, but is measured against the same peak.
GPU_PEAK_TFLOPS = (("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0), ("L4", 121.0))


def with_torchs_layers(net: nn.Module, dropout: bool = True, convolutions: bool = True,
                       pooling: bool = True) -> nn.Module:
    """The network with torch's own ``nn.Dropout``, ``nn.Conv2d`` (the same weights) and ``nn.MaxPool2d`` where the
    package has ``model.Dropout``, ``model.Conv2d`` and ``model.MaxPool2d``, as the chapter's listing has it: the side
    a benchmark compares the package against."""
    for name, module in net.named_children():
        if dropout and isinstance(module, Dropout):
            torchs = nn.Dropout(module.p)
        elif convolutions and isinstance(module, Conv2d):
            torchs = nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                               module.padding, module.dilation, module.groups, module.bias is not None)
            torchs.load_state_dict(module.state_dict())
            for theirs, ours in zip(torchs.parameters(), module.parameters(), strict=True):
                theirs.requires_grad_(ours.requires_grad)  # a fixed conv1 (hand-made, bias held at 0) stays fixed
        elif pooling and isinstance(module, MaxPool2d):
            torchs = nn.MaxPool2d(module.kernel_size, module.stride, module.padding, module.dilation,
                                  ceil_mode=module.ceil_mode)
        else:
            continue
        setattr(net, name, torchs.train(module.training))
    return net


def training_flops(input_size: int) -> float:
    """FLOPs of one training step per image: forward MACs × 2 FLOPs, × 3 for forward plus backward."""
    return 3 * 2 * count_macs(input_size)


def peak_tflops(device: torch.device, override: float | None = None) -> float | None:
    """The device's peak TFLOP/s: the override if given, the table's for a known GPU, else None."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in GPU_PEAK_TFLOPS if key in name), None)


def flops_line(images_per_sec: float, input_size: int, peak: float | None) -> str:
    """Achieved TFLOP/s, and MFU when a peak is known."""
    achieved = images_per_sec * training_flops(input_size) / 1e12
    mfu = f"MFU {100 * achieved / peak:.1f}% of {peak:g}" if peak else "MFU n/a (no peak for this device)"
    return f"{achieved:.4f} TFLOP/s, {mfu}"


def ratio_line(ours: float, chapter: float) -> str:
    """The closing line: ours ÷ the chapter's images per second."""
    return f"ratio {ours / chapter:.2f}"


def timed(work: Callable[[], object], device: torch.device) -> float:
    """Seconds the work takes on the device: CUDA events and a synchronize there, the host clock elsewhere."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        work()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1000
    tic = time.perf_counter()
    work()
    return time.perf_counter() - tic


def forever(iterable: Iterable) -> Iterator:
    """Pass after pass over an iterable (a DataLoader restarts its workers for each pass, as in training)."""
    while True:
        yield from iterable


def rss_mib() -> float:
    """This process's resident memory now."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its largest finished child, e.g. a DataLoader worker)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def machine(device: torch.device) -> str:
    """CPU model, cores and torch threads, and the GPU's name when one is used."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    text = f"{model}, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__} " \
           f"with {torch.get_num_threads()} threads"
    if device.type == "cuda":
        text += f"; GPU {torch.cuda.get_device_name(device)}"
    return text


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, to record the conditions a figure was measured under."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def interval_speeds(events: list[Event]) -> list[tuple[float, float, float]]:
    """Training images per second between consecutive progress points: (epoch at the start, epoch at the end,
    images/s). Evaluation is excluded: each point's examples/sec is the images seen over the training seconds."""
    started = next(e for e in events if isinstance(e, Started))
    points = [e for e in events if isinstance(e, Progress)]
    seen = [p.epoch * started.train_examples for p in points]
    seconds = [s / p.examples_per_sec for s, p in zip(seen, points)]
    return [(points[i - 1].epoch, points[i].epoch, (seen[i] - seen[i - 1]) / (seconds[i] - seconds[i - 1]))
            for i in range(1, len(points))]


def percentile(values: list[float], share: float) -> float:
    """The value below which ``share`` of the values lie (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def speeds_by_stretch(events: list[Event], stretches: list[tuple[float, float]]) -> list[list[float]]:
    """Training images/s between progress points wholly outside every stretch of time, then wholly inside each one
    (the first point of the run, its warm-up, left out)."""
    started = next(e.time for e in events if isinstance(e, Started))
    at = {e.epoch: started + e.elapsed for e in events if isinstance(e, Progress)}
    outside, *inside = [[] for _ in range(len(stretches) + 1)]
    for start, end, speed in interval_speeds(events)[1:]:
        if all(at[end] <= stretch[0] or at[start] >= stretch[1] for stretch in stretches):
            outside.append(speed)
        for stretch, speeds in zip(stretches, inside):
            if at[start] >= stretch[0] and at[end] <= stretch[1]:
                speeds.append(speed)
    return [outside, *inside]
