"""Command line: ``python -m alexnet_explorer train`` reproduces the chapter's training and printout."""
from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import signal
import sys
from pathlib import Path
from typing import TextIO

from . import distributed, launcher, processes, scoreboard
from .config import PRESETS, RunConfig, setting_type, settings
from .data import CorruptDataError, DataUnavailableError, load_fashion_mnist
from .events import Ended, EpochEnd, Event, Progress, Started, Step, measured, summary_lines
from .runs import Checkpoint, CheckpointError, RunDir, RunRecorder
from .train import train


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_setting_flags(command: argparse.ArgumentParser) -> None:
    """A flag for every RunConfig setting (its field name with dashes), made from the setting's description."""
    for name, described in settings().items():
        flag, kind = "--" + name.replace("_", "-"), setting_type(name)
        if kind is bool:
            command.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                 help=described.help)
        else:
            choices = list(described.choices()) if described.choices else None
            command.add_argument(flag, dest=name, type=kind, choices=choices,
                                 help=f"{described.help} (default: from the preset)")


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser, with a flag for every setting of RunConfig."""
    parser = OneLineParser(prog="python -m alexnet_explorer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    run = commands.add_parser("train", help="train AlexNet (or LeNet, or fit a hand-made pipeline) on Fashion-MNIST "
                                            "and print the chapter's lines")
    run.add_argument("--preset", choices=sorted(PRESETS), default="book",
                     help="starting configuration; other flags override it (default: book)")
    add_setting_flags(run)
    run.add_argument("--data-root", help="folder with the four Fashion-MNIST IDX files (used alone)")
    run.add_argument("--run-dir", help="write config, metrics, status, checkpoints and filters to this folder")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in --run-dir from its last checkpoint (its saved configuration is used)")
    run.add_argument("--dry-run", action="store_true", help="one short epoch on a few images: checks the machinery")
    run.add_argument("--niceness", type=int, default=0, choices=range(20), metavar="0-19",
                     help="train this many nice levels below other work (the app starts its runs at 10)")
    keeper = commands.add_parser("queue", help="start a runs folder's queued runs as their hardware frees, until "
                                               "none waits (the app starts this by itself)")
    keeper.add_argument("--runs", help="the runs folder (default: $ALEXNET_EXPLORER_RUNS, else ./runs)")
    keeper.add_argument("--keeper-lock-fd", type=int, help=argparse.SUPPRESS)  # the lock, taken by the app
    board = commands.add_parser("scoreboard", help="print every finished run's test accuracy and training time, "
                                                   "beside the published figures, and what they show")
    board.add_argument("--runs", help="the runs folder (default: $ALEXNET_EXPLORER_RUNS, else ./runs)")
    return parser


def print_scoreboard(root: str | None) -> None:
    """The scoreboard as a Markdown table, the published figures, and the sentence that says what they show."""
    board = scoreboard.entries(root)
    rows = scoreboard.table(board)
    print("| run | kind | test accuracy | test images | training images | training time | learned parameters "
          "| device |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['run']} | {row['kind']} | {row['test accuracy']:.4f} | {row['test images']:,} | "
              f"{row['training images']:,} | {row['training time']} | {row['learned parameters']:,} | "
              f"{row['device']} |")
    for reference in scoreboard.REFERENCES:
        print(f"reference: {reference.label} {reference.accuracy:.3f} ({reference.source})")
    print(scoreboard.verdict(board).replace("**", ""))


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset with every given flag applied on top."""
    changes = {name: getattr(args, name) for name in settings() if getattr(args, name) is not None}
    config = PRESETS[args.preset].replace(**changes)
    if args.dry_run:
        config = config.replace(epochs=1, limit_train=2 * config.batch_size, limit_test=config.batch_size)
    return config


class ConsoleReport:
    """Prints training events the way the chapter does, with a progress bar per epoch."""

    def __init__(self, out: TextIO = sys.stdout, err: TextIO = sys.stderr):
        self.out, self.err = out, err
        self.live = err.isatty()
        self.epochs = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self.epochs = event.epochs
            resumed = f" (resuming at epoch {event.start_epoch + 1})" if event.start_epoch else ""
            print(f"training on {event.device}{resumed}", file=self.out, flush=True)
        elif isinstance(event, Step) and self.live:
            self.err.write("\r" + self._bar(event.epoch, event.batch / event.batches))
            self.err.flush()
        elif isinstance(event, Progress) and not self.live and measured(event):
            # Without a terminal a redrawn bar would be noise: print it at the chapter's five points instead.
            epoch = math.ceil(event.epoch) - 1
            print(self._bar(epoch, event.epoch - epoch) + f" loss {event.train_loss:.3f} acc {event.train_acc:.3f}",
                  file=self.err, flush=True)
        elif isinstance(event, EpochEnd):
            if self.live:
                self.err.write("\r\033[K")
            print(f"epoch {event.epoch}/{self.epochs}: loss {event.train_loss:.3f}, train acc "
                  f"{event.train_acc:.3f}, test acc {event.test_acc:.3f}, {event.examples_per_sec:.1f} "
                  f"examples/sec, {event.elapsed:.0f}s elapsed", file=self.out, flush=True)
        elif isinstance(event, Ended):
            if event.status == "stopped":
                kept = ("the checkpoint is saved" if event.checkpoint is not None else
                        "nothing was saved yet, so a resume starts it again")
                print(f"stopped at epoch {event.epoch:.2f}; {kept}", file=self.out)
            for line in summary_lines(event):
                print(line, file=self.out, flush=True)

    def _bar(self, epoch: int, fraction: float) -> str:
        filled = round(30 * fraction)
        return f"epoch {epoch + 1}/{self.epochs} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%}"


def explain_failure(error: BaseException, folder: Path | None = None) -> str:
    """A plain-words reason for a failed run, with what to try (``folder``: where the run writes)."""
    text = str(error)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = folder.resolve().parent if folder is not None else Path.cwd()
        return (f"the disk is full: free space in {where} (delete runs you no longer need), then resume the run; "
                "what it saved before is kept")
    if isinstance(error, PermissionError):
        return f"the run cannot write its files ({text}): the runs folder is read-only for this user"
    if isinstance(error, MemoryError) or "out of memory" in text.lower() or "can't allocate" in text:
        return ("The device ran out of memory. Try a smaller batch size or a smaller input size "
                f"(details: {text.splitlines()[0] if text else type(error).__name__})")
    if isinstance(error, (DataUnavailableError, CorruptDataError, CheckpointError, ValueError)):
        return text
    return f"Training failed: {type(error).__name__}: {text}"


def prepare_run(args: argparse.Namespace,
                parser: argparse.ArgumentParser) -> tuple[RunConfig, RunDir | None, Checkpoint | None]:
    """Configuration, run directory and checkpoint to resume from, or a parser error."""
    if args.run_dir is None:
        if args.resume:
            parser.error("--resume needs --run-dir (the folder of the run to continue)")
        return config_from_args(args), None, None
    run = RunDir(args.run_dir)
    if run.config_path.exists():
        if not args.resume:
            parser.error(f"{run.path} already holds a run: add --resume to continue it, or choose a new folder")
        config = run.read_config()
        return config, run, run.load_checkpoint() if run.has_checkpoint() else None
    config = config_from_args(args)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(config)
    return config, run, None


def follow_leader(args: argparse.Namespace) -> tuple[RunConfig, None, Checkpoint | None]:
    """What a rank other than 0 trains: the same configuration and checkpoint, read but never written (the run
    folder is the leader's; with several machines it must be on a filesystem they share)."""
    if not args.resume:
        return config_from_args(args), None, None
    run = RunDir(args.run_dir)
    return run.read_config(), None, run.load_checkpoint() if run.has_checkpoint() else None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "queue":
        launcher.serve_queue(args.runs, keeper=args.keeper_lock_fd)
        return 0
    if args.command == "scoreboard":
        print_scoreboard(args.runs)
        return 0
    if args.niceness:
        processes.lower_priority(args.niceness)  # before training starts its threads, which inherit it
    ranks = distributed.from_environment()  # several processes when started by torchrun
    try:
        config, run, resume = prepare_run(args, parser) if ranks.leader else follow_leader(args)
        device = distributed.rank_device(config.device, ranks)
    except (ValueError, CheckpointError) as error:
        parser.error(str(error))
    except OSError as error:  # the run folder could not be written: a full disk, a read-only folder
        parser.error(explain_failure(error, Path(args.run_dir) if args.run_dir else None))
    if ranks.distributed:
        distributed.start(device)
        if ranks.leader:
            print(distributed.batch_note(config.batch_size, ranks), flush=True)

    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    listeners = [ConsoleReport()] if ranks.leader else []
    if run is not None:
        listeners.append(RunRecorder(run, pid=os.getpid()))

    def emit(event: Event) -> None:
        for listener in listeners:
            listener(event)

    def should_stop() -> bool:
        return stop_requested or (run is not None and run.stop_path.exists())

    try:
        if run is not None:
            run.stop_path.unlink(missing_ok=True)
            run.remove_leftovers()  # of a process killed while it wrote (a checkpoint's temporary file is 100 MB)
            run.write_status("running", pid=os.getpid())
        data = load_fashion_mnist(args.data_root)
        ended = train(config, data, emit, should_stop, resume, ranks)
    except Exception as error:  # every failure ends as a status and one message, never a traceback
        message = explain_failure(error, run.path if run is not None else None)
        if run is not None:
            with contextlib.suppress(OSError):  # a full disk may refuse even this: the log keeps the message
                run.write_status("failed", error=message, pid=os.getpid(), cause=type(error).__name__)
        print(f"error: {message}", file=sys.stderr)
        return 1
    finally:
        if run is not None:
            with contextlib.suppress(OSError):
                run.stop_path.unlink(missing_ok=True)
            with contextlib.suppress(OSError, launcher.RunRefused):
                launcher.start_next(run.path.parent)  # the next queued run starts now, keeper or not
        distributed.finish()
    return 0 if ended.status == "finished" else 3

if __name__ == "__main__":
    sys.exit(main())
