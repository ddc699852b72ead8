"""The chapter's choices undone one at a time: train a preset and each experiment's variant, and print the outcomes.

    python -m benchmarks.experiments --preset classroom --device cpu
    python -m benchmarks.experiments --preset classroom --device cpu --only sigmoid no-dropout

Every run is the package's own ``train()`` with the preset's recipe and one change from ``config.EXPERIMENTS``, the
same runs the Train page's experiment buttons start. One line per run: the training loss at the first progress point
(how soon it gets going), after the first epoch and at the end, the final train and test accuracy, and the wall time.
"""
from __future__ import annotations

import argparse
import time

from alexnet_explorer.config import EXPERIMENTS, PRESETS, RunConfig
from alexnet_explorer.data import FashionMNIST, load_fashion_mnist
from alexnet_explorer.devices import resolve_device
from alexnet_explorer.events import EpochEnd, Event, Progress
from alexnet_explorer.train import POINTS_PER_EPOCH, TrainingDiverged, train

from .common import load_average, machine


def outcome(name: str, config: RunConfig, data: FashionMNIST) -> str:
    """One table row: the run's name, its loss at three points, its accuracies and its wall time."""
    progress: list[Progress] = []
    epochs: list[EpochEnd] = []

    def listen(event: Event) -> None:
        if isinstance(event, Progress):
            progress.append(event)
        elif isinstance(event, EpochEnd):
            epochs.append(event)

    tic = time.perf_counter()
    try:
        ended = train(config, data, listen)
    except TrainingDiverged as error:
        return f"| {name} | diverged: {error} |"
    seconds = time.perf_counter() - tic
    return (f"| {name} | {progress[0].train_loss:.3f} | {epochs[0].train_loss:.3f} | {ended.train_loss:.3f} | "
            f"{ended.train_acc:.3f} | {ended.test_acc:.3f} | {seconds:.0f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=list(PRESETS), default="classroom")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), help="these experiments (default: all)")
    parser.add_argument("--data-root", help="a folder with the four Fashion-MNIST files (default: the usual places)")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    base = PRESETS[args.preset].replace(device=str(device))
    print(f"{machine(device)}; {load_average()}")
    print(f"preset {args.preset}: {base.summary()}, {base.limit_test or 10000} test images")
    print(f"| run | loss at epoch {1 / POINTS_PER_EPOCH:g} | loss after epoch 1 | final loss | train acc | test acc | seconds |")
    print("|---|---|---|---|---|---|---|")
    data = load_fashion_mnist(args.data_root)
    print(outcome(args.preset, base, data), flush=True)
    for name in args.only or EXPERIMENTS:
        print(outcome(f"{args.preset}-{name}", base.replace(**EXPERIMENTS[name].changes), data), flush=True)


if __name__ == "__main__":
    main()
