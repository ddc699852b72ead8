"""Run directories: configuration, metrics, status, checkpoints and conv1 snapshots on disk."""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import pickle
import re
import shutil
import socket
import threading
import unicodedata
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import RunConfig, build_model
from .events import Ended, EpochEnd, Event, Progress, Started, from_record, to_record

CHECKPOINT_FORMAT = "alexnet-explorer/1"
HOST = socket.gethostname()  # a run's process is looked for on the machine that runs it
RUNS_ENV = "ALEXNET_EXPLORER_RUNS"
# queued: waiting in line for its device; starting: its process is launched and has not reported yet.
STATES = ("queued", "starting", "running", "finished", "stopped", "failed")
MAX_TITLE = 40
# What a run's name may hold besides letters, digits and spaces: nothing that Markdown, HTML or a code span reads,
# and no ':' or '/' (a page would show a web address as a link).
TITLE_PUNCTUATION = set("-.,'()+&#")


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or not one of ours."""


def runs_root() -> Path:
    """The folder holding every run: $ALEXNET_EXPLORER_RUNS, or ./runs."""
    return Path(os.environ.get(RUNS_ENV, "runs"))


def class_test_set_dir(root: str | Path | None = None) -> Path:
    """Where the class keeps its own test set (class_test_set.py), beside the runs (it has no config.json)."""
    return Path(root or runs_root()) / "class-test-set"


def list_runs(root: str | Path | None = None) -> list[RunDir]:
    """Every run folder (one with a config.json) under the runs root, newest first."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda run: (_created(run), run.name), reverse=True)


def _created(run: RunDir) -> float:
    try:
        return run.config_path.stat().st_mtime  # written once, when the run is created
    except OSError:  # deleted meanwhile
        return 0.0


def unique_title(root: Path, label: str) -> str:
    """The label, or the label numbered ('classroom 2', 'classroom 3' …) when a run in ``root`` already has it."""
    taken = {look_alike(run.title) for run in list_runs(root)}
    for n in itertools.count(1):
        title = label if n == 1 else f"{label} {n}"
        if look_alike(title) not in taken:
            return title


def write_atomically(path: Path, write: Any) -> None:
    """Write through a temporary file and rename it, so readers never see a half-written file."""
    # The thread too: the app's sessions are threads of one process and may write the same file at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Checkpoint:
    """Everything a run saves to go on or to be looked at: its settings, the network's and the optimizer's state, and
    where training stood (the next batch, the epoch's running sums, the time spent, the random state)."""

    config: RunConfig
    model: dict[str, torch.Tensor]
    optimizer: dict | None  # None: the run cannot be resumed from it, only looked at
    epoch: int  # epochs completed
    batch: int  # batches into the next epoch (a run stopped mid-epoch), else 0
    train_seconds: float = 0.0
    sums: torch.Tensor | None = None  # the epoch's loss·n and correct answers so far, over all processes
    count: int = 0  # the images those sums are over
    shuffle_state: torch.Tensor | None = None  # the shuffling generator's state at the start of the epoch
    torch_state: torch.Tensor | None = None  # torch's global random state (dropout)
    metrics: tuple[float, float, float] = (math.nan, math.nan, math.nan)  # train loss, train acc, test acc

    @property
    def test_acc(self) -> float | None:
        """The test accuracy after the last completed epoch, None before the first."""
        return None if math.isnan(self.metrics[2]) else float(self.metrics[2])

    def to_dict(self) -> dict[str, Any]:
        """The form saved in checkpoint.pt: plain tensors and numbers, loadable with weights_only."""
        saved = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return saved | {"format": CHECKPOINT_FORMAT, "config": self.config.to_dict(), "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, saved: object, path: Path | str = "the checkpoint") -> Checkpoint:
        """The checkpoint a loaded checkpoint.pt holds; CheckpointError when it is not one of ours."""
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is a PyTorch file but not an AlexNet Explorer checkpoint")
        try:
            config = RunConfig.from_dict(saved["config"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{path} holds an unusable configuration ({error})") from error
        if not isinstance(saved.get("model"), dict):
            raise CheckpointError(f"{path} holds no network")
        known = {f.name for f in dataclasses.fields(cls)} - {"config", "metrics"}
        fields = {name: value for name, value in saved.items() if name in known}
        metrics = tuple(float(value) for value in saved.get("metrics", cls.metrics))
        return cls(config=config, metrics=metrics, **{"optimizer": None, "epoch": 0, "batch": 0} | fields)

    def network(self) -> nn.Sequential:
        """The trained network (on the CPU, in eval mode)."""
        net = build_model(self.config)
        try:
            net.load_state_dict(self.model)
        except (RuntimeError, KeyError) as error:
            raise CheckpointError(f"the checkpoint's weights do not fit its network "
                                  f"({str(error).splitlines()[0]})") from error
        return net.eval()


def checkpoint_bytes(config: RunConfig) -> int:
    """About what a run's checkpoint takes on disk while it trains: float32 weights, and as much again for SGD's
    momentum."""
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        weights = sum(p.numel() for p in build_model(config).parameters()) * 4
    return weights * (2 if config.momentum else 1)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load one of our checkpoints safely (weights_only) onto the CPU, or raise CheckpointError saying why."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"there is no checkpoint at {path}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        # PyTorch's own text suggests weights_only=False, which we never do: say it plainly instead.
        raise CheckpointError(f"{path} is damaged or is not an AlexNet Explorer checkpoint "
                              f"({type(error).__name__}); it was not loaded") from error
    return Checkpoint.from_dict(saved, path)


@dataclass(frozen=True)
class Launch:
    """What the launcher recorded when it started a run's process: its pid, when, and the hardware it was given."""

    pid: int
    launched: float
    hardware: tuple[str, ...]


def title_problem(title: str) -> str | None:
    """Why a run may not have this name, or None: a name is plain text (letters, digits, spaces and a little
    punctuation), in one alphabet, and short."""
    if not title.strip():
        return "a run's name cannot be empty"
    if len(title) > MAX_TITLE:
        return f"a run's name can have at most {MAX_TITLE} characters, not {len(title)}"
    odd = sorted({c for c in title if not (c.isalnum() or c == " " or c in TITLE_PUNCTUATION)})
    if odd:
        shown = ", ".join(repr(c) if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}" for c in odd)
        marks = " ".join(sorted(TITLE_PUNCTUATION))
        return f"a run's name can hold letters, digits, spaces and these marks: {marks} — not {shown}"
    if "www." in title.casefold():
        return "a run's name cannot look like a web address"
    scripts = {unicodedata.name(c, "?").split()[0] for c in title if c.isalpha()}
    if len(scripts) > 1:
        return f"a run's name is written in one alphabet, not several ({', '.join(sorted(scripts)).lower()})"
    return None


# Letters of other alphabets drawn like Latin ones: a name written with them looks like another run's.
LOOK_ALIKES = str.maketrans("асеорхуіјѕԁһкмтвнαειοκνρτυχ", "aceopxyijsdhkmtbhaeiokvptux")


def look_alike(title: str) -> str:
    """What a name looks like on screen: another name with the same look-alike is refused beside it."""
    return unicodedata.normalize("NFKC", title).casefold().translate(LOOK_ALIKES)


def slug(text: str) -> str:
    """Text as part of a file or folder name: lower case, each run of characters other than a-z and 0-9 one '-'
    ('Classroom (ReLU) 2' → 'classroom-relu-2'); 'run' when nothing is left."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


class RunDir:
    """One run's folder, and the one place that names its files: config.json, metrics.jsonl, status.json,
    checkpoint.pt, filters/epoch_NNN.pt and its frames, evaluation.npz, the top images' rankings, the units'
    pictures, the process record and the log; run.json holds the name people read (the folder's name stays unique
    underneath) and who started it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.about_path = self.path / "run.json"
        self.metrics_path = self.path / "metrics.jsonl"
        self.status_path = self.path / "status.json"
        self.checkpoint_path = self.path / "checkpoint.pt"
        self.filters_dir = self.path / "filters"
        self.frames_dir = self.filters_dir / "frames"
        self.stop_path = self.path / "STOP"
        self.log_path = self.path / "train.log"
        self.evaluation_path = self.path / "evaluation.npz"  # its network on its test set (evaluation.py)
        self.top_images_dir = self.path / "responses"  # the test images each unit responds to most (top_images.py)
        self.neighbours_path = self.path / "neighbours.npz"  # its network's fc7 features of training images
        self.unit_pictures_path = self.path / "unit-pictures.npz"  # what its units want to see (feature_visualisation)
        self.launch_path = self.path / "process.json"

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def title(self) -> str:
        """The run's short name, e.g. 'classroom 2' (the folder's name for a run made before titles, or whose stored
        name is not one a run may have: a page shows it as it is, so it must be plain text)."""
        title = self._about().get("title")
        return title if isinstance(title, str) and title_problem(title) is None else self.name

    @property
    def owner(self) -> str | None:
        """Who started the run (an app session's id; None from a terminal)."""
        return self._about().get("owner")

    @property
    def address(self) -> str | None:
        """The network address of the browser that started the run, if it was started from the app."""
        address = self._about().get("address")
        return address if isinstance(address, str) else None

    @property
    def held(self) -> bool:
        """Whether the instructor stopped or unqueued this student's run: only the instructor may resume it."""
        return self._about().get("held") is True

    def hold(self, held: bool) -> None:
        """Mark the run as held by the instructor, or release it."""
        self._write_about(held=held)

    def _about(self) -> dict:
        try:
            about = json.loads(self.about_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return about if isinstance(about, dict) else {}

    def _write_about(self, **changes: Any) -> None:
        about = {**self._about(), **changes}
        write_atomically(self.about_path, lambda p: p.write_text(json.dumps(about)))

    def rename(self, title: str) -> None:
        """Give the run another short name; ValueError if it is not plain text, too long, or another run's or
        looks like it."""
        title = unicodedata.normalize("NFKC", " ".join(title.split()))
        problem = title_problem(title)
        if problem:
            raise ValueError(problem)
        others = [run for run in list_runs(self.path.parent) if run.path != self.path]
        taken = next((run.title for run in others if look_alike(run.title) == look_alike(title)), None)
        if taken is not None:
            raise ValueError(f"another run is already called {taken!r}" if taken.casefold() == title.casefold() else
                             f"{title!r} looks like the name of another run, {taken!r}: choose another name")
        self._write_about(title=title)

    @classmethod
    def create(cls, root: str | Path, config: RunConfig, label: str = "run", owner: str | None = None,
               address: str | None = None) -> RunDir:
        """A new, uniquely named run folder with its configuration written and status 'queued'; its title is the
        label (its slug when no run may be called so), numbered when another run has it ('classroom 2')."""
        label = unicodedata.normalize("NFKC", " ".join(label.split()))
        label = label if title_problem(label) is None else slug(label)
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = slug(label)
        for n in range(1000):
            path = root / f"{stamp}-{name}" if n == 0 else root / f"{stamp}-{name}-{n}"
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        run = cls(path)
        run._write_about(title=unique_title(root, label), owner=owner, address=address)
        run.write_config(config)
        run.write_status("queued")
        return run

    def write_config(self, config: RunConfig) -> None:
        write_atomically(self.config_path, lambda p: p.write_text(json.dumps(config.to_dict(), indent=2)))

    def read_config(self) -> RunConfig:
        """The run's configuration; ValueError if the file is missing or not a configuration."""
        try:
            return RunConfig.from_dict(json.loads(self.config_path.read_text()))
        except (OSError, json.JSONDecodeError, TypeError, ValueError) as error:
            raise ValueError(f"{self.config_path} is not a usable run configuration ({error})") from error

    def write_status(self, state: str, **details: Any) -> None:
        """Replace status.json with a state (one of STATES) and details such as pid or error; a status with a pid
        names the machine the process runs on."""
        assert state in STATES, state
        record = {"state": state, "updated": time.time(), **({"host": HOST} if "pid" in details else {}), **details}
        write_atomically(self.status_path, lambda p: p.write_text(json.dumps(record)))

    def read_status(self) -> dict:
        """The last written status; a missing or damaged file reads as failed with the reason (``damaged`` set), and
        a detail of the wrong kind (a pid that is no number) is left out."""
        try:
            status = json.loads(self.status_path.read_text())
        except (OSError, ValueError) as error:
            return _damaged(f"the run's status file cannot be read ({type(error).__name__})")
        if not isinstance(status, dict) or status.get("state") not in STATES:
            return _damaged("the run's status file is damaged (it names no state)")
        return {key: value for key, value in status.items() if _fits(key, value)}

    def append_event(self, event: Event) -> None:
        """Append one event as a JSON line and flush it, so live readers see it at once."""
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(to_record(event)) + "\n")
            f.flush()

    def read_events(self) -> list[Event]:
        """All complete events so far (a line still being written is left for the next read; a damaged one is
        passed over)."""
        try:
            lines = self.metrics_path.read_text().splitlines(keepends=True)
        except OSError:
            return []
        events = []
        for line in lines:
            if not line.endswith("\n"):
                break
            try:
                event = from_record(json.loads(line))
            except json.JSONDecodeError:
                continue
            if event is not None:
                events.append(event)
        return events

    def remove(self) -> None:
        """Delete the run's folder; a run folder that is a link loses only the link (what it points to is not ours)."""
        if self.path.is_symlink():
            self.path.unlink()
        else:
            shutil.rmtree(self.path)

    def remove_leftovers(self) -> list[Path]:
        """Delete the temporary files that a process killed while writing left behind (a checkpoint's is as large as
        the checkpoint); a file some live process is still writing stays. The paths deleted."""
        left = [path for folder in (self.path, self.filters_dir, self.frames_dir) if folder.is_dir()
                for path in folder.glob(".*.tmp") if not _writer_alive(path)]
        for path in left:
            path.unlink(missing_ok=True)
        return left

    def disk_bytes(self) -> int:
        """What the run's folder takes on disk."""
        return sum(path.stat().st_size for path in self.path.rglob("*") if path.is_file() and not path.is_symlink())

    def write_launch(self, launch: Launch) -> None:
        """Record the process the launcher started for the run."""
        write_atomically(self.launch_path, lambda p: p.write_text(json.dumps(dataclasses.asdict(launch))))

    def read_launch(self) -> Launch | None:
        """What the launcher recorded when it last started the run's process; None if nothing (readable) was."""
        try:
            record = json.loads(self.launch_path.read_text())
            return Launch(int(record["pid"]), float(record["launched"]), tuple(map(str, record["hardware"])))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def forget_launch(self) -> None:
        """Forget an earlier process: its record says nothing about the next one."""
        self.launch_path.unlink(missing_ok=True)

    def top_images_path(self, epoch: int, batch: int) -> Path:
        """Where the ranking of the test images for the network saved at this epoch and batch is kept."""
        return self.top_images_dir / f"epoch_{epoch:03d}_batch_{batch:05d}.pt"

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Replace the run's one checkpoint atomically (keeps disk use to one checkpoint per run)."""
        write_atomically(self.checkpoint_path, lambda p: torch.save(checkpoint.to_dict(), p))

    def load_checkpoint(self) -> Checkpoint:
        return load_checkpoint(self.checkpoint_path)

    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def filters_path(self, epoch: int) -> Path:
        """Where conv1's weights after an epoch are kept."""
        return self.filters_dir / f"epoch_{epoch:03d}.pt"

    def save_filters(self, epoch: int, conv1: torch.Tensor) -> None:
        """Keep conv1's weights after an epoch (epoch 0: the random init) to replay their evolution."""
        self.filters_dir.mkdir(exist_ok=True)
        write_atomically(self.filters_path(epoch), lambda p: torch.save(conv1, p))

    def filter_epochs(self) -> list[int]:
        """Epochs with a saved conv1 snapshot, in order."""
        return sorted(int(p.stem.split("_")[1]) for p in self.filters_dir.glob("epoch_*.pt"))

    def load_filters(self, epoch: int) -> torch.Tensor:
        """conv1's weights (96×1×11×11) after an epoch."""
        return load_weights(self.filters_path(epoch))

    def frame_path(self, epoch: float) -> Path:
        """Where conv1's weights at a fractional epoch are kept."""
        return self.frames_dir / f"epoch_{epoch:.3f}.pt"

    def save_frame(self, epoch: float, conv1: torch.Tensor) -> None:
        """Keep conv1's weights within an epoch too, so that its evolution replays in finer steps than epochs."""
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(self.frame_path(epoch), lambda p: torch.save(conv1, p))

    def frame_epochs(self) -> list[float]:
        """Fractional epochs with a saved conv1 frame, in order."""
        return sorted(float(p.stem.removeprefix("epoch_")) for p in self.frames_dir.glob("epoch_*.pt"))

    def load_frame(self, epoch: float) -> torch.Tensor:
        """conv1's weights at a fractional epoch."""
        return load_weights(self.frame_path(epoch))


def load_weights(path: Path) -> torch.Tensor:
    """A saved conv1 snapshot or frame; any unreadable file is a CheckpointError naming it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable snapshot is reported the same way
        # The error's own text may advise weights_only=False, which is never done with a file from a run folder.
        raise CheckpointError(f"{path} is damaged and cannot be read ({type(error).__name__})") from error


def _writer_alive(temporary: Path) -> bool:
    """Whether the process that named this temporary file (write_atomically's '.NAME.PID.THREAD.tmp') still runs."""
    try:
        os.kill(int(temporary.name.split(".")[-3]), 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        pass  # another user's live process
    return True


def _damaged(reason: str) -> dict:
    return {"state": "failed", "error": reason, "damaged": True}


# The kinds of the status details that other modules read; a damaged value reads as missing.
STATUS_KINDS = {"pid": int, "updated": (int, float), "started": (int, float), "order": (int, float),
                "test_acc": (int, float), "error": str, "device": str, "cause": str, "host": str, "before": dict}


def _fits(key: str, value: object) -> bool:
    kind = STATUS_KINDS.get(key)
    return kind is None or (isinstance(value, kind) and not isinstance(value, bool))


class RunRecorder:
    """Listens to training events and writes them into a run directory."""

    def __init__(self, run: RunDir, **status_details: Any):
        self.run = run
        self.status_details = status_details

    def __call__(self, event: Event) -> None:
        if event.kind == "step":
            return
        self.run.append_event(event)
        if isinstance(event, Started):
            if event.start_epoch == 0 and event.conv1 is not None:
                self.run.save_filters(0, event.conv1)
            self.run.write_status("running", device=event.device, started=event.time, **self.status_details)
        elif isinstance(event, Progress) and event.conv1 is not None and not float(event.epoch).is_integer():
            self.run.save_frame(event.epoch, event.conv1)  # an epoch's end is saved with its EpochEnd
        elif isinstance(event, EpochEnd):
            self.run.save_filters(event.epoch, event.conv1)
            self.run.save_checkpoint(event.checkpoint)
        elif isinstance(event, Ended):
            if event.checkpoint is not None:
                self.run.save_checkpoint(event.checkpoint)
            if event.evaluation is not None:  # before the status: a finished run has it ready
                event.evaluation.save(self.run.evaluation_path)
            self.run.write_status(event.status, device=event.device, test_acc=event.test_acc,
                                  **self.status_details)
