"""Training one run in several processes with DistributedDataParallel, as started by ``torchrun``.

Every rank keeps the whole 28×28 training set resident on its device (47 MB as uint8) and takes its slice of every
global batch, in the same shuffled order as a single process would: so a DDP run of global batch B computes the
same gradient as one process with batch B, and the single-process run is its exact reference (up to float rounding).
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .devices import resolve_device

# A control group on the CPU (gloo) carries the stop flag: agreeing on it every step over NCCL would make every
# step wait for the GPU, which the training loop avoids.
_control_group: dist.ProcessGroup | None = None


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the processes training one run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that prints and writes the run folder."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE = Ranks()


def from_environment() -> Ranks:
    """This process's ranks as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK), or a single process."""
    try:
        return Ranks(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))
    except (KeyError, ValueError):
        return SINGLE


def rank_device(device: str, ranks: Ranks) -> torch.device:
    """The device this rank trains on: its own GPU (cuda:LOCAL_RANK) when the run is on GPUs, else the one named."""
    resolved = resolve_device(device)
    if ranks.distributed and resolved.type == "cuda":
        return resolve_device(f"cuda:{ranks.local_rank}")
    return resolved


def device_label(device: torch.device, ranks: Ranks) -> str:
    """How the run's hardware is named in its printout: 'cuda:0', or '4×cuda' for four processes."""
    return f"{ranks.world_size}×{device.type}" if ranks.distributed else str(device)


def batch_note(batch_size: int, ranks: Ranks) -> str:
    """How the global batch is shared among the processes, and what an uneven share means."""
    share, rest = divmod(batch_size, ranks.world_size)
    if not rest:
        return f"DDP: {ranks.world_size} processes, {share} images of each batch of {batch_size} apiece"
    return (f"DDP: {ranks.world_size} processes; a batch of {batch_size} does not divide among them, so they take "
            f"{share + 1} or {share} images apiece, and as each process's gradient counts equally, an image in a "
            f"smaller share weighs a little more (choose a multiple of {ranks.world_size} for the exact batch)")


def start(device: torch.device) -> None:
    """Join the run's process group: NCCL between GPUs, gloo between CPU processes, and a gloo control group."""
    global _control_group
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(minutes=10))
    _control_group = dist.new_group(backend="gloo")


def finish() -> None:
    """Leave the process group (a no-op in a single process)."""
    global _control_group
    if dist.is_initialized():
        dist.destroy_process_group()
    _control_group = None


def wrap(model: nn.Module, device: torch.device, ranks: Ranks) -> nn.Module:
    """The model as the training step calls it: DDP (gradients averaged over ranks), or itself in one process."""
    if not ranks.distributed:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def all_sum(tensor: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The tensor summed over all ranks (a copy; the tensor itself in one process)."""
    if not ranks.distributed:
        return tensor
    total = tensor.clone()
    dist.all_reduce(total)
    return total


def any_rank(flag: bool, ranks: Ranks) -> bool:
    """Whether the flag is set on any rank, agreed by all of them (so that all stop at the same step)."""
    if not ranks.distributed:
        return flag
    agreed = torch.tensor([int(flag)])
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX, group=_control_group)
    return bool(agreed.item())


def share(value: object, ranks: Ranks) -> object:
    """The leader's value on every rank (e.g. the configuration and the checkpoint it read from the run folder)."""
    if not ranks.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=_control_group)
    return box[0]
