"""What the run history shows: each run's outcome, how far a run has come, its table row, and its metrics as CSV."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .config import RunConfig
from .events import Ended, summary_lines
from .processes import ACTIVE_STATES, refresh_status
from .runs import RunDir


@dataclass(frozen=True)
class RunOverview:
    """What the run history shows about one run."""

    run: RunDir
    state: str
    config: RunConfig | None
    best_test_acc: float | None
    seconds: float
    error: str | None


def training_seconds(events: list[dict]) -> float:
    """Wall time the run spent training, over all of its sessions (each resume restarts the clock)."""
    total = last = 0.0
    for event in events:
        if event["kind"] == "started":
            total, last = total + last, 0.0
        elif "elapsed" in event:
            last = event["elapsed"]
    return total + last


def overview(run: RunDir) -> RunOverview:
    """Status (liveness checked), configuration, best test accuracy and duration of a run."""
    status = refresh_status(run)
    events = run.read_events()
    try:
        config = run.read_config()
    except ValueError:
        config = None
    accs = [e["test_acc"] for e in events if e["kind"] == "epoch"]
    return RunOverview(run, status.get("state", "failed"), config, max(accs) if accs else None,
                       training_seconds(events), status.get("error"))


def duration(seconds: float | None) -> str:
    """A short human duration: '42 s', '3 min 05 s', '1 h 12 min'."""
    if seconds is None:
        return "–"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def table_rows(overviews: list[RunOverview]) -> list[dict]:
    """The run history's table, a row per run; a run still training has no duration yet (the live panel has it)."""
    return [{"run": o.run.name, "status": o.state, "best test acc": o.best_test_acc,
             "duration": None if o.state in ACTIVE_STATES else duration(o.seconds),
             "configuration": o.config.summary() if o.config else "unreadable"}
            for o in overviews]


@dataclass(frozen=True)
class RunProgress:
    """How far a run has come, for a progress bar and a row of numbers."""

    epoch: float
    examples_per_sec: float | None
    elapsed: float
    remaining: float | None
    device: str | None


def progress_so_far(events: list[dict], now: float | None = None) -> RunProgress:
    """Progress from a run's metrics; with ``now`` (a run still training) the times are carried forward to now."""
    started, last = None, None
    for event in events:
        if event["kind"] == "started":
            started, last = event, None
        elif event["kind"] in ("progress", "epoch", "ended"):
            last = event
    if started is None:
        return RunProgress(0.0, None, 0.0, None, None)
    epoch = last["epoch"] if last else float(started["start_epoch"])
    speed = last["examples_per_sec"] if last else None
    elapsed = training_seconds(events)
    remaining = None if last is None or last["kind"] == "ended" else last["remaining"]
    # Records come five times per epoch (an epoch can take an hour on a CPU): count on from the last one,
    # unless the last one ended a session and the resumed process has not reported yet.
    if now is not None and not (last and last["kind"] == "ended"):
        since_last = now - started["time"] - (last["elapsed"] if last else 0.0)
        elapsed += since_last
        if remaining is not None:
            remaining = max(0.0, remaining - since_last)
    return RunProgress(epoch, speed, elapsed, remaining, started["device"])


def closing_lines(events: list[dict]) -> tuple[str, str] | None:
    """The chapter's two closing lines for a run's last session, or None when no session has ended yet."""
    ended = [e for e in events if e["kind"] == "ended"]
    if not ended:
        return None
    return summary_lines(Ended(**{k: v for k, v in ended[-1].items() if k != "kind"}))


def metrics_csv(events: list[dict]) -> str:
    """A run's progress, epoch and end events as CSV, one row per event."""
    columns = ["kind", "epoch", "train_loss", "train_acc", "test_acc", "examples_per_sec", "elapsed", "remaining"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(e for e in events if e["kind"] in ("progress", "epoch", "ended"))
    return out.getvalue()
