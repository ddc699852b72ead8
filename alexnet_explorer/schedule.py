"""The run queue's policy: which waiting runs start now, each one's place in line and when it should start.

Pure functions of the queue (in order) and the machine's hardware units ('cuda:0', 'cpu' …, see
``devices.claims``), so that the policy is tested without GPUs or processes. Runs are served in queue order on
each piece of hardware: a run never overtakes an earlier one that waits for the same hardware (a 'cuda:all' run
is not starved by single-GPU runs), while runs on other hardware go ahead.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    """A queued run: its name and the sets of hardware units it may occupy, in order of preference."""

    name: str
    options: tuple[frozenset[str], ...]

    @property
    def wanted(self) -> frozenset[str]:
        """Every unit it might take."""
        return frozenset().union(*self.options)


def plan(queue: Sequence[Waiting], busy: set[str]) -> dict[str, frozenset[str]]:
    """The runs of the queue that start now and the units each takes: the first of its options that is free and
    not wanted by a run ahead of it in line."""
    taken, wanted_ahead, starts = set(busy), set(), {}
    for run in queue:
        option = next((o for o in run.options if not o & taken and not o & wanted_ahead), None)
        if option is None:
            wanted_ahead |= run.wanted
        else:
            starts[run.name] = option
            taken |= option
    return starts


def places(queue: Sequence[Waiting]) -> dict[str, int]:
    """Each queued run's place in line (1: next) among the runs waiting for the same hardware."""
    return {run.name: 1 + sum(bool(earlier.wanted & run.wanted) for earlier in queue[:i])
            for i, run in enumerate(queue)}


def forecast(queue: Sequence[Waiting], free_in: Mapping[str, float | None],
             durations: Mapping[str, float | None]) -> dict[str, float | None]:
    """Seconds until each queued run should start, from when each unit frees (``free_in``: 0 when free now) and
    how long each run takes; None where an unknown time lies ahead of it."""
    free_in, starts = dict(free_in), {}
    for i, run in enumerate(queue):
        times = [max((free_in.get(unit, 0.0) for unit in option), key=_unknown_last) for option in run.options]
        start = min(times, key=_unknown_last, default=None)
        # It cannot start before the runs ahead of it that want the same hardware.
        for earlier in queue[:i]:
            if earlier.wanted & run.wanted:
                start = max(start, starts[earlier.name], key=_unknown_last)
        starts[run.name] = start
        option = run.options[times.index(min(times, key=_unknown_last))] if run.options else frozenset()
        duration = durations.get(run.name)
        for unit in option:
            free_in[unit] = None if start is None or duration is None else start + duration
    return starts


def _unknown_last(seconds: float | None) -> float:
    return float("inf") if seconds is None else seconds


def ordinal(place: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= place % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(place % 10, "th")
    return f"{place}{suffix}"
