"""What the run history shows: each run's outcome, how far a run has come, its table row, its metrics as CSV, and
the queue's places and waiting times."""
from __future__ import annotations

import csv
import io
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import estimate, launcher, schedule
from .config import RunConfig, settings
from .data import CHANCE_ACC
from .devices import resolve_device
from .events import Ended, EpochEnd, Event, Progress, Started, measured, summary_lines, to_record
from .pipelines import PIPELINES
from .processes import ACTIVE_STATES, ON_DEVICE, refresh_status
from .runs import RunDir, list_runs, runs_root


@dataclass(frozen=True)
class RunOverview:
    """What the run history shows about one run."""

    run: RunDir
    state: str
    config: RunConfig | None
    best_test_acc: float | None
    seconds: float
    error: str | None


def training_seconds(events: list[Event]) -> float:
    """Wall time the run spent training, over all of its sessions (each resume restarts the clock)."""
    total = last = 0.0
    for event in events:
        if isinstance(event, Started):
            total, last = total + last, 0.0
        elif isinstance(event, (Progress, EpochEnd, Ended)):
            last = event.elapsed
    return total + last


def overview(run: RunDir) -> RunOverview:
    """Status (liveness checked), configuration, best test accuracy and duration of a run."""
    status = refresh_status(run)
    events = run.read_events()
    try:
        config = run.read_config()
    except ValueError:
        config = None
    accs = [e.test_acc for e in events if isinstance(e, EpochEnd)]
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


def table_rows(overviews: list[RunOverview], me: str | None = None) -> list[dict]:
    """The run history's table, a row per run by its short name; a run still training has no duration yet (the
    live panel has it). With ``me`` (a session, when the class has an instructor) a column marks its own runs."""
    return [{"run": o.run.title, **({"yours": o.run.owner == me} if me else {}), "status": o.state,
             "best test acc": o.best_test_acc, "duration": None if o.state in ACTIVE_STATES else duration(o.seconds),
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


def progress_so_far(events: list[Event], now: float | None = None) -> RunProgress:
    """Progress from a run's metrics; with ``now`` (a run still training) the times are carried forward to now."""
    started: Started | None = None
    last: Progress | EpochEnd | Ended | None = None
    for event in events:
        if isinstance(event, Started):
            started, last = event, None
        elif isinstance(event, (Progress, EpochEnd, Ended)):
            last = event
    if started is None:
        return RunProgress(0.0, None, 0.0, None, None)
    epoch = last.epoch if last else float(started.start_epoch)
    speed = last.examples_per_sec if last else None
    elapsed = training_seconds(events)
    remaining = None if last is None or isinstance(last, Ended) or math.isnan(last.remaining) else last.remaining
    # Records come five times per epoch (an epoch can take an hour on a CPU): count on from the last one,
    # unless the last one ended a session and the resumed process has not reported yet.
    if now is not None and not isinstance(last, Ended):
        since_last = now - started.time - (last.elapsed if last else 0.0)
        elapsed += since_last
        if remaining is not None:
            remaining = max(0.0, remaining - since_last)
    return RunProgress(epoch, speed, elapsed, remaining, started.device)


def closing_lines(events: list[Event]) -> tuple[str, str] | None:
    """The chapter's two closing lines for a run's last session, or None when no session has ended yet."""
    ended = [e for e in events if isinstance(e, Ended)]
    return summary_lines(ended[-1]) if ended else None


# The train metrics a run logs are the chapter's running means since the epoch began; the CSV names them so (the
# charts show the mean over each fifth of an epoch instead).
CSV_NAMES = {"train_loss": "train_loss_running_mean", "train_acc": "train_acc_running_mean"}


def metrics_csv(events: list[Event]) -> str:
    """A run's progress, epoch and end events as CSV, one row per event."""
    columns = ["kind", "epoch", "train_loss", "train_acc", "test_acc", "examples_per_sec", "elapsed", "remaining"]
    out = io.StringIO()
    writer = csv.DictWriter(out, [CSV_NAMES.get(column, column) for column in columns], extrasaction="ignore")
    writer.writeheader()
    writer.writerows({CSV_NAMES.get(key, key): value for key, value in to_record(e).items()}
                     for e in events if isinstance(e, (Progress, EpochEnd, Ended)))
    return out.getvalue()


def comparison_labels(configs: dict[str, RunConfig | None]) -> dict[str, str]:
    """Each run named by the settings in which the runs differ (e.g. 'sigmoid' and 'ReLU'), else by its name."""
    readable = {name: config for name, config in configs.items() if config is not None}
    described = settings()
    differing = [setting for setting in described if setting != "seed" and len(readable) == len(configs) > 1
                 and len({getattr(config, setting) for config in readable.values()}) > 1]
    if not differing or len(differing) > 2:
        return {name: name for name in configs}

    def value(config: RunConfig, setting: str) -> str:
        chosen, about = getattr(config, setting), described[setting]
        if about.choices:
            return about.choices()[chosen]
        shown = about.placeholder if chosen is None else f"{chosen:g}" if isinstance(chosen, float) else chosen
        return f"{about.label} {shown}"

    labels = {name: ", ".join(value(config, setting) for setting in differing) for name, config in readable.items()}
    return labels if len(set(labels.values())) == len(labels) else {name: name for name in configs}


def last_test_acc(events: list[Event]) -> float | None:
    """The test accuracy after the run's last tested epoch, None before its first."""
    return next((e.test_acc for e in reversed(events) if isinstance(e, EpochEnd)), None)


def tested_on(events: list[Event]) -> int:
    """How many test images the run's last session tests on (0 before it started)."""
    return next((e.test_examples for e in reversed(events) if isinstance(e, Started)), 0)


def at_chance(events: list[Event]) -> bool:
    """Whether the run's last test accuracy is no better than guessing: within three standard errors of chance on
    its test images (False before its first epoch is tested)."""
    accuracy = last_test_acc(events)
    test_images = tested_on(events)
    return (accuracy is not None and test_images > 0
            and accuracy <= CHANCE_ACC + 3 * math.sqrt(CHANCE_ACC * (1 - CHANCE_ACC) / test_images))


def outcome(events: list[Event], epochs: int | None, say_test_images: bool = False) -> str:
    """A run's last test accuracy (with ``say_test_images``, on how many test images), and whether it is no better
    than guessing (``at_chance``)."""
    tested = [e for e in events if isinstance(e, EpochEnd)]
    if not tested:
        return "no test accuracy yet"
    line = f"{tested[-1].test_acc:.2f} test acc" + (f" on {tested_on(events):,} test images" if say_test_images else "")
    if at_chance(events):
        line += " — chance"
    if epochs and tested[-1].epoch < epochs:
        line += f" (after epoch {tested[-1].epoch} of {epochs})"
    return line


def comparison_line(overviews: list[RunOverview]) -> str:
    """One line stating how the overlaid runs ended, e.g. 'sigmoid: 0.10 test acc — chance; ReLU: 0.88 test acc'; on
    how many test images each, when they differ (the accuracies then compare less well)."""
    labels = comparison_labels({o.run.title: o.config for o in overviews})  # runs without a difference: by name
    events = {o.run.title: o.run.read_events() for o in overviews}
    differ = len({tested_on(e) for e in events.values()}) > 1
    return "; ".join(f"{labels[o.run.title]}: {outcome(events[o.run.title], o.config and o.config.epochs, differ)}"
                     for o in overviews)


@dataclass(frozen=True)
class Choice:
    """A run a browser chose on a page, and the class run that was pinned when it chose (a later pin wins)."""

    run: str
    class_run: str | None


@dataclass(frozen=True)
class Opening:
    """The run a page opens on, and why, in words the page can say ('the class run', 'the run you chose', …)."""

    run: RunDir
    why: str


def run_to_open(runs: Sequence[RunDir], class_run: str | None = None, choice: Choice | None = None) -> Opening | None:
    """The run a page opens on, among the ones it can show (``runs``, newest first): the class run, unless this
    browser chose another since it was pinned; else the run this browser chose last; else the finished run with the
    best test accuracy, a network's before a hand-made pipeline's (the pages are about what a network learned; the
    newest of equals, and before those whose accuracy is not recorded); else the one whose network comes first
    (next_network), else the newest."""
    by_name = {run.name: run for run in runs}
    chosen = by_name.get(choice.run) if choice else None
    if class_run in by_name and not (chosen and choice.class_run == class_run):
        return Opening(by_name[class_run], "the class run")
    if chosen:
        return Opening(chosen, "the run you chose")
    states = {run.name: refresh_status(run).get("state", "failed") for run in runs}
    finished = [(is_network(run), last_test_acc(run.read_events()), -place, run) for place, run in enumerate(runs)
                if states[run.name] == "finished"]
    if finished:
        _, accuracy, _, best = max(finished, key=lambda scored: (scored[0], -1.0 if scored[1] is None else scored[1],
                                                                 scored[2]))
        return Opening(best, "the newest finished run" if accuracy is None else
                       f"the best finished run (test acc {accuracy:.2f})")
    training = next_network(runs, states)
    if training:
        return Opening(training, "the run training now")
    return Opening(runs[0], "the newest run") if runs else None


def is_network(run: RunDir) -> bool:
    """Whether a run trained a network rather than fitted a hand-made pipeline (a run whose settings cannot be read
    counts as a network: nothing says otherwise)."""
    try:
        return run.read_config().network not in PIPELINES
    except (ValueError, OSError):
        return True


def next_network(runs: Sequence[RunDir], states: dict[str, str] | None = None) -> RunDir | None:
    """The run not over whose network comes first (``runs`` newest first): the newest on its device, else the first
    in line; None when none is on its way. ``states``: the runs' states, when already read."""
    states = states or {run.name: refresh_status(run).get("state", "failed") for run in runs}
    on_device = next((run for run in runs if states[run.name] in ON_DEVICE), None)
    if on_device:
        return on_device
    waiting = [(launcher.queue_order(run.read_status()), run.name, run) for run in runs
               if states[run.name] in ACTIVE_STATES]
    return min(waiting)[2] if waiting else None


def learned_nothing(run: RunDir) -> str | None:
    """What a page says of a network no better than guessing (``at_chance``), or None for one that learned."""
    events = run.read_events()
    if not at_chance(events):
        return None
    try:
        sigmoid = run.read_config().activation == "sigmoid"
    except ValueError:
        sigmoid = False
    lesson = (" That is the sigmoid lesson: with sigmoid instead of ReLU the gradient all but vanishes on its way "
              "back through the layers, so in a few epochs the network never gets going." if sigmoid else
              " Choose a run that learned, or train this one longer.")
    return (f"This network learned nothing: its test accuracy, {last_test_acc(events):.2f}, is what guessing scores "
            f"({CHANCE_ACC:.2f}).{lesson}")


HANDOVER_SECONDS = 120  # a run that ended at most this long before the next one started handed the device on


def handed_over_from(run: RunDir, runs: Sequence[RunDir], now: float | None = None) -> RunDir | None:
    """The run that finished or stopped just before this one started (its process, or ``now`` while it has not
    reported yet), within HANDOVER_SECONDS: the queue handed the device on, and its end is still worth a look."""
    started = [e.time for e in run.read_events() if isinstance(e, Started)]
    start = started[-1] if started else time.time() if now is None else now
    ended = [(status.get("updated", 0.0), other) for other in runs if other.path != run.path
             and (status := other.read_status()).get("state") in ("finished", "stopped")]
    ended = [(when, other) for when, other in ended if start - HANDOVER_SECONDS <= when <= start]
    return max(ended, key=lambda pair: pair[0])[1] if ended else None


def observed_speed(config: RunConfig, runs: list[RunDir]) -> float | None:
    """Training images per second this configuration should reach here, from the newest run of the same network
    (AlexNet, LeNet or a hand-made pipeline: their speeds differ tenfold) that trained on the same kind of device,
    scaled by the pixels of an input (the network's work grows with them); None without one."""
    kind = resolve_device(config.device).type
    for run in runs:
        try:
            trained = run.read_config()
        except ValueError:
            continue
        if trained.network != config.network:
            continue
        events = run.read_events()
        started = [e for e in events if isinstance(e, Started)]
        # A pipeline's pace while it computes features says nothing of its fit: only measured points count.
        speeds = [e.examples_per_sec for e in events
                  if isinstance(e, EpochEnd) or (isinstance(e, Progress) and measured(e))]
        if started and speeds and started[-1].device.split("×")[-1].split(":")[0] == kind:
            return speeds[-1] * (trained.resize / config.resize) ** 2
    return None


def seconds_left(run: RunDir, runs: list[RunDir], now: float | None = None) -> float | None:
    """How long a run still needs: a training run's own forecast (``now`` set), else its remaining epochs at the
    speed runs like it reached here, with the start of a process; None when nothing like it has trained here."""
    try:
        config = run.read_config()
    except ValueError:
        return None
    done = progress_so_far(run.read_events(), now)
    if now is not None and done.remaining is not None:
        return done.remaining
    speed = observed_speed(config, runs)
    if speed is None:
        return None
    return max(0.0, estimate.run_seconds(config, speed, config.epochs - done.epoch) - (done.elapsed if now else 0.0))


def after_the_run_training(config: RunConfig, training: RunDir, runs: list[RunDir],
                           now: float | None = None) -> tuple[float | None, float | None]:
    """For a run of this configuration started while ``training`` holds its device: how long until it starts (the
    training run's own forecast) and how long it then takes (at the speed runs like it reached here, with its
    process's start and final measurement); None for what is not known yet."""
    speed = observed_speed(config, runs)
    return (seconds_left(training, runs, time.time() if now is None else now),
            None if speed is None else estimate.run_seconds(config, speed))


def forward_seconds(config: RunConfig, images: int, runs: list[RunDir]) -> float | None:
    """About how long ``images`` pictures take through this network on this machine's CPU, where the pages run
    networks (ranking the test images for every unit is one such pass): at the speed the newest run of this network
    reached training on a CPU here, forward passes being about EVALUATION_SPEEDUP times faster; None when no run of it
    trained on a CPU."""
    speed = observed_speed(config.replace(device="cpu"), runs)
    return None if speed is None else images / (estimate.EVALUATION_SPEEDUP * speed)


@dataclass(frozen=True)
class DiskUse:
    """What the runs take on disk, and what is left on the disk that holds them (bytes)."""

    runs: int
    free: int


def disk_use(root: str | Path | None = None) -> DiskUse:
    """The runs' folders' size and the free space beside them."""
    root = Path(root or runs_root())
    free = shutil.disk_usage(root if root.is_dir() else Path.cwd()).free
    return DiskUse(sum(run.disk_bytes() for run in list_runs(root)), free)


@dataclass(frozen=True)
class QueueEntry:
    """A queued run, its place in line for its hardware and when it should start (None: not known yet)."""

    run: RunDir
    place: int
    starts_in: float | None

    def describe(self) -> str:
        """E.g. '3rd in line, about 4 min 10 s'."""
        if self.starts_in is None:
            wait = "waiting time not known yet"
        else:
            wait = f"about {duration(self.starts_in)}" if self.starts_in >= 10 else "any moment now"
        return f"{schedule.ordinal(self.place)} in line, {wait}"


def queue_forecast(root: str | None = None, now: float | None = None) -> list[QueueEntry]:
    """The queue, first in line first: each run's place and its expected wait, from the training runs' forecasts
    and the queued runs' expected durations."""
    now = time.time() if now is None else now
    runs, queue = list_runs(root), launcher.queued_runs(root)
    free_in: dict[str, float | None] = {}
    for run in launcher.training_runs(root):
        left = seconds_left(run, runs, now)
        for unit in launcher.occupied_units(run):
            free_in[unit] = left
    line = launcher.waiting_line(queue)
    places = schedule.places(line)
    starts = schedule.forecast(line, free_in, {run.name: seconds_left(run, runs) for run in queue})
    return [QueueEntry(run, places[run.name], starts[run.name]) for run in queue]
