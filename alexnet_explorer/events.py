"""What the training loop reports: one dataclass per kind of progress point."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

# Fields marked transient travel with the event in-process (for the run store) but are never serialised.
TRANSIENT = {"transient": True}


@dataclass
class Started:
    """Training begins (or resumes); ``conv1`` holds the filters before any step of this run."""

    kind: ClassVar[str] = "started"
    device: str
    epochs: int
    start_epoch: int
    batches_per_epoch: int
    train_examples: int
    test_examples: int
    time: float
    conv1: torch.Tensor | None = field(default=None, repr=False, metadata=TRANSIENT)


@dataclass
class Step:
    """One optimiser step done: for progress bars; carries no metric so it forces no device sync."""

    kind: ClassVar[str] = "step"
    epoch: int
    batch: int
    batches: int


@dataclass
class Progress:
    """Running train loss and accuracy within an epoch, five times per epoch as d2l's Animator plots them."""

    kind: ClassVar[str] = "progress"
    epoch: float
    train_loss: float
    train_acc: float
    examples_per_sec: float
    elapsed: float
    remaining: float
    conv1: torch.Tensor | None = field(default=None, repr=False, metadata=TRANSIENT)


@dataclass
class EpochEnd:
    """An epoch is complete and evaluated; ``checkpoint`` is the full training state at this point."""

    kind: ClassVar[str] = "epoch"
    epoch: int
    train_loss: float
    train_acc: float
    test_acc: float
    examples_per_sec: float
    elapsed: float
    remaining: float
    conv1: torch.Tensor | None = field(default=None, repr=False, metadata=TRANSIENT)
    checkpoint: dict | None = field(default=None, repr=False, metadata=TRANSIENT)


@dataclass
class Ended:
    """Training is over: ``finished`` all epochs or ``stopped`` on request (then ``checkpoint`` is set)."""

    kind: ClassVar[str] = "ended"
    status: str
    epoch: float
    train_loss: float
    train_acc: float
    test_acc: float
    examples_per_sec: float
    elapsed: float
    device: str
    checkpoint: dict | None = field(default=None, repr=False, metadata=TRANSIENT)
    evaluation: Any = field(default=None, repr=False, metadata=TRANSIENT)  # evaluation.Evaluation of a finished run


Event = Started | Step | Progress | EpochEnd | Ended


def to_record(event: Event) -> dict[str, Any]:
    """The JSON-able form written to metrics.jsonl: its kind and its non-transient fields."""
    record = {"kind": event.kind}
    for f in dataclasses.fields(event):
        if not f.metadata.get("transient"):
            record[f.name] = getattr(event, f.name)
    return record


def summary_lines(event: Ended) -> tuple[str, str]:
    """The chapter's two closing lines: loss and accuracies, then throughput on the device."""
    # A run stopped before its first epoch ended has not been tested: NaN there means "not yet", not a failure.
    test_acc = "–" if math.isnan(event.test_acc) else f"{event.test_acc:.3f}"
    return (f"loss {event.train_loss:.3f}, train acc {event.train_acc:.3f}, test acc {test_acc}",
            f"{event.examples_per_sec:.1f} examples/sec on {event.device}")
