"""Device policy: which devices this machine can train on, and the fastest way to run on each."""
from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

ALL_GPUS = "cuda:all"  # one run on every GPU of the machine, a DDP process each (see distributed.py)
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h), and their defaults
GLIBC_MALLOC_DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_MAX: 65536}


def available_devices() -> list[str]:
    """Devices this machine can train on, best first ('cuda:all' where there are several GPUs)."""
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if torch.cuda.device_count() > 1:
        devices.append(ALL_GPUS)
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices + ["cpu"]


def resolve_device(name: str) -> torch.device:
    """Turn 'auto' into the best device here ('cuda:all' into the first GPU); refuse one this machine does not have."""
    if name == "auto":
        return torch.device(available_devices()[0])
    if name == ALL_GPUS and ALL_GPUS in available_devices():
        return torch.device("cuda", 0)
    try:
        device = torch.device(name)
    except RuntimeError as error:  # torch's own words for a malformed name such as 'cuda:x'
        raise ValueError(f"device {name!r} is not a device name (available: {', '.join(available_devices())})") \
            from error
    missing_gpu = device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count()
    if device.type not in available_devices() or missing_gpu:
        raise ValueError(f"device {name!r} is not available on this machine (available: "
                         f"{', '.join(available_devices())}" + (f", {torch.cuda.device_count()} GPUs" if
                                                                 torch.cuda.is_available() else "") + ")")
    return device


def device_key(device: str) -> str:
    """A device name as the hardware it trains on ('auto' and 'cuda' become e.g. 'cuda:0')."""
    if device == ALL_GPUS:
        return device
    try:
        resolved = resolve_device(device)
    except ValueError:
        return device
    return f"cuda:{resolved.index or 0}" if resolved.type == "cuda" else resolved.type


def hardware_units() -> list[str]:
    """The pieces of hardware on this machine that each train one run at a time: every GPU, MPS, the CPU."""
    units = [f"cuda:{index}" for index in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if torch.backends.mps.is_available():
        units.append("mps")
    return units + ["cpu"]


def claims(device: str, units: Sequence[str]) -> list[frozenset[str]]:
    """The ways a run on this device may occupy the machine's ``units``, in order of preference: 'auto' (and 'cuda')
    any one GPU, else MPS, else the CPU; 'cuda:N' that GPU; 'cuda:all' every GPU at once. Empty when it cannot run
    here."""
    gpus = [unit for unit in units if unit.startswith("cuda:")]
    if device == ALL_GPUS:
        return [frozenset(gpus)] if len(gpus) > 1 else []
    if device in ("auto", "cuda"):
        if gpus:
            return [frozenset({gpu}) for gpu in gpus]
        if device == "auto":
            return [frozenset({"mps" if "mps" in units else "cpu"})]
        return []
    return [frozenset({device})] if device in units else []


def process_count(device: str) -> int:
    """How many training processes a run on this device takes: one per GPU for 'cuda:all', else one."""
    return torch.cuda.device_count() if device == ALL_GPUS else 1


@functools.cache
def _cpu_multiplies_bf16() -> bool:
    """Whether the CPU has bf16 arithmetic of its own: AMX's tiles, or AVX-512's bf16 dot products."""
    return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()


def mixed_precision(device: torch.device) -> bool:
    """Whether bf16 autocast and channels_last pay off: on CUDA (tensor cores) and on CPUs with bf16 arithmetic (AMX,
    or AVX-512's bf16 dot products as on AMD's EPYCs since Zen 4), where oneDNN's bf16 kernels want channels_last
    (measured in docs/benchmarks.md; without them bf16 is emulated and slower)."""
    return device.type == "cuda" or (device.type == "cpu" and _cpu_multiplies_bf16())


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast where it pays off (see mixed_precision); plain float32 elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed_precision(device))


def to_fast_layout(x: torch.Tensor) -> torch.Tensor:
    """A batch in the memory layout the model uses on its device."""
    return x.contiguous(memory_format=torch.channels_last) if mixed_precision(x.device) else x


def move_to_device(net: nn.Module, device: torch.device) -> nn.Module:
    """Move a model to its device, in the math modes and memory layout that are fastest there."""
    net = net.to(device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if mixed_precision(device):
        net = net.to(memory_format=torch.channels_last)
    return net


@contextmanager
def kept_heap(device: torch.device) -> Iterator[None]:
    """While training on a CPU with glibc, keep freed memory in the heap rather than unmapping it: otherwise the
    big gradients (fc7's is 64 MB) are mmap'd and page-faulted afresh every step. Given back when training ends."""
    libc = None
    if device.type == "cpu" and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(M_MMAP_MAX, 0)
            libc.mallopt(M_TRIM_THRESHOLD, 2**30)
        except (OSError, AttributeError):  # not glibc (e.g. musl): leave the allocator alone
            libc = None
    try:
        yield
    finally:
        if libc is not None:
            for parameter, value in GLIBC_MALLOC_DEFAULTS.items():
                libc.mallopt(parameter, value)
            libc.malloc_trim(0)
