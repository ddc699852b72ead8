"""What the training loop reports, one dataclass per kind of progress point, and what its reports add up to.

The run store writes each event as one JSON line of metrics.jsonl (``to_record``) and reads it back as the same
dataclass (``from_record``); everything else works with the dataclasses.
"""
from __future__ import annotations

import dataclasses
import math
import typing
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
    """Running train loss and accuracy within an epoch, five times per epoch as d2l's Animator plots them (NaN, with
    no forecast, while a hand-made pipeline computes its features and fits: nothing is measured until it ends)."""

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
    checkpoint: Any = field(default=None, repr=False, metadata=TRANSIENT)  # runs.Checkpoint, a floor above this one


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
    checkpoint: Any = field(default=None, repr=False, metadata=TRANSIENT)  # runs.Checkpoint
    evaluation: Any = field(default=None, repr=False, metadata=TRANSIENT)  # evaluation.Evaluation of a finished run


Event = Started | Step | Progress | EpochEnd | Ended


KINDS: dict[str, type[Event]] = {kind.kind: kind for kind in (Started, Step, Progress, EpochEnd, Ended)}
# The three lines of d2l's Animator in train_ch6, each a reduction of the events: see training_curves.
TRACES = ("train loss", "train acc", "test acc")
Curves = dict[str, tuple[list[float], list[float]]]


def _recorded_fields(kind: type[Event]) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(kind) if not f.metadata.get("transient")]


def to_record(event: Event) -> dict[str, Any]:
    """The JSON-able form written to metrics.jsonl: its kind and its non-transient fields."""
    return {"kind": event.kind} | {f.name: getattr(event, f.name) for f in _recorded_fields(type(event))}


def _fits(value: object, hint: object) -> bool:
    """Whether a JSON value is of a field's type (a whole number is a float too, a bool is no number)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) if hint is float else isinstance(value, hint)


def from_record(record: object) -> Event | None:
    """The event a metrics.jsonl record holds, or None when the record is not one (a damaged or foreign line)."""
    kind = KINDS.get(record.get("kind")) if isinstance(record, dict) else None
    if kind is None:
        return None
    hints = typing.get_type_hints(kind)
    recorded = _recorded_fields(kind)
    if not all(f.name in record and _fits(record[f.name], hints[f.name]) for f in recorded):
        return None
    return kind(**{f.name: record[f.name] for f in recorded})


def summary_lines(event: Ended) -> tuple[str, str]:
    """The chapter's two closing lines: loss and accuracies, then throughput on the device."""
    # A run stopped before its first epoch ended has not been tested, and a pipeline stopped before its fit has not
    # measured anything: NaN (and no speed) there means "not yet", not a failure.
    def shown(value: float, digits: int = 3) -> str:
        return "–" if math.isnan(value) else f"{value:.{digits}f}"

    speed = shown(event.examples_per_sec if event.examples_per_sec > 0 else math.nan, 1)
    return (f"loss {shown(event.train_loss)}, train acc {shown(event.train_acc)}, test acc "
            f"{shown(event.test_acc)}", f"{speed} examples/sec on {event.device}")


def measured(event: Progress) -> bool:
    """Whether a Progress carries a measured loss and accuracy (a hand-made pipeline's, before it ends, does not)."""
    return not math.isnan(event.train_loss)


def _fifth_means(xs: list[float], running: list[float]) -> list[float]:
    """The mean over each stretch between points, from the running means since each epoch began (what training
    logs): within an epoch, mean·(share of the epoch seen) adds up, so consecutive points differ by one stretch."""
    means, previous_epoch, previous_share, previous_sum = [], None, 0.0, 0.0
    for x, mean in zip(xs, running):
        epoch = math.ceil(round(x, 9)) - 1  # a point at x = 2.0 closes epoch 1 (the second)
        share = x - epoch
        if epoch != previous_epoch:
            previous_share, previous_sum = 0.0, 0.0
        means.append((mean * share - previous_sum) / (share - previous_share))
        previous_epoch, previous_share, previous_sum = epoch, share, mean * share
    return means


def training_curves(events: list[Event]) -> Curves:
    """Epochs (x) and values (y) per trace: train loss and accuracy over each fifth of an epoch (from Progress
    events' running means), test accuracy from EpochEnd."""
    curves: Curves = {name: ([], []) for name in TRACES}

    def add(name: str, x: float, y: float) -> None:
        xs, ys = curves[name]
        # A run resumed from an epoch checkpoint redoes what it logged after it: the new points replace those.
        while xs and xs[-1] >= x:
            xs.pop()
            ys.pop()
        xs.append(x)
        ys.append(y)

    for event in events:
        if isinstance(event, Progress) and measured(event):
            add("train loss", event.epoch, event.train_loss)
            add("train acc", event.epoch, event.train_acc)
        elif isinstance(event, EpochEnd):
            add("test acc", event.epoch, event.test_acc)
    for name in ("train loss", "train acc"):
        xs, running = curves[name]
        curves[name] = (xs, _fifth_means(xs, running))
    return curves
