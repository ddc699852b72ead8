"""Does training-time augmentation make drawings answered well, and at what cost in test accuracy and time?

    python -m benchmarks.augmentation --train classroom none drawings --out runs-augmentation
    python -m benchmarks.augmentation --runs runs-augmentation/classroom-none runs-augmentation/classroom-drawings

With ``--train PRESET AUG…`` it trains the preset once per augmentation (``--augment``), each with the command line in
a run folder under ``--out``, one after the other; with ``--runs`` it measures finished run folders. First it times
each augmentation against a training step, on a batch of the preset's size (on the CPU). For each run it
prints its training wall time and images/s (from its events), its accuracy on all 10,000 test images, and its
accuracy on garments drawn as students draw with a mouse (``benchmarks/drawings.py``: filled silhouettes, brush
scribbles, outlines), each through the app's own path (``preprocess`` → ``prediction.probabilities``).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from alexnet_explorer.events import Ended
from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import AUGMENTATIONS, DeviceBatches, FashionMNIST, load_fashion_mnist
from alexnet_explorer.config import build_model
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.prediction import probabilities
from alexnet_explorer.preprocess import preprocess
from alexnet_explorer.runs import RunDir
from alexnet_explorer.train import evaluate, sgd, train_step

from .common import load_average, machine
from .drawings import STYLES, drawn_set


def train_runs(preset: str, augmentations: list[str], out: Path) -> list[Path]:
    """Train the preset once per augmentation through the command line; the run folders."""
    folders = []
    for augmentation in augmentations:
        folder = out / f"{preset}-{augmentation}"
        command = [sys.executable, "-m", "alexnet_explorer", "train", "--preset", preset, "--augment", augmentation,
                   "--run-dir", str(folder)] + (["--resume"] if folder.exists() else [])
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)
        folders.append(folder)
    return folders


def augmentation_cost(preset: str, augmentation: str, rounds: int) -> tuple[float, float]:
    """Median milliseconds the augmentation takes on one batch, and one training step on that batch (CPU)."""
    config = PRESETS[preset]
    images = load_fashion_mnist().train_images[:config.batch_size]
    generator = torch.Generator().manual_seed(0)
    net = build_model(config)
    optimizer = sgd(net, config, torch.device("cpu"))
    batches = DeviceBatches(images, torch.zeros(len(images), dtype=torch.long), config.batch_size, config.resize,
                            torch.device("cpu"))
    x, y = next(iter(batches))
    train_step(net, optimizer, x, y)  # warm-up
    augment, step = [], []
    for _ in range(rounds):
        tic = time.perf_counter()
        AUGMENTATIONS[augmentation].make(images, generator)
        augment.append(time.perf_counter() - tic)
        tic = time.perf_counter()
        train_step(net, optimizer, x, y)
        step.append(time.perf_counter() - tic)
    return 1000 * float(np.median(augment)), 1000 * float(np.median(step))


def measure(folder: Path, drawings: list, data: FashionMNIST) -> str:
    """One table row: the run's augmentation, time, test accuracy and accuracy on each style of drawing."""
    run = RunDir(folder)
    model = load_classifier(run.checkpoint_path)
    ended = [event for event in run.read_events() if isinstance(event, Ended)][-1]
    batches = DeviceBatches(data.test_images, data.test_labels, 256, model.size, torch.device("cpu"))
    test_acc = evaluate(model.net, batches)
    row = (f"| {run.name} | {model.config.augment} | {ended.elapsed:.0f} s | {ended.examples_per_sec:.0f} | "
           f"{test_acc:.4f} |")
    for style in STYLES:
        items = [(image28, label) for image28, label, drawn in drawings if drawn == style]
        answers = probabilities(model, [image for image, _ in items]).argmax(1)
        row += f" {np.mean(answers == np.array([label for _, label in items])):.2f} |"
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", metavar=("PRESET", "AUGMENTATION"),
                        help="a preset and the augmentations to train it with")
    parser.add_argument("--out", type=Path, default=Path("runs-augmentation"), help="where --train puts its runs")
    parser.add_argument("--runs", nargs="*", type=Path, default=[], help="finished run folders to measure")
    parser.add_argument("--per-class", type=int, default=30, help="drawings of each class in each style")
    parser.add_argument("--rounds", type=int, default=20, help="timings of each augmentation and training step")
    args = parser.parse_args(argv)

    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}; {time.strftime('%Y-%m-%d')}", flush=True)
    preset = args.train[0] if args.train else "classroom"
    for augmentation in AUGMENTATIONS:
        cost, step = augmentation_cost(preset, augmentation, args.rounds)
        print(f"{augmentation}: {cost:.2f} ms for a batch of {PRESETS[preset].batch_size} ({preset}), against "
              f"{step:.0f} ms for its training step", flush=True)
    folders = list(args.runs)
    if args.train:
        folders += train_runs(preset, args.train[1:], args.out)
    drawings = [(preprocess(picture).image28, label, style)
                for picture, label, style in drawn_set(args.per_class, seed=0)]
    data = load_fashion_mnist()
    print(f"\n| run | augmentation | wall time | images/s | test acc (10,000) | drawn: "
          f"{' | drawn: '.join(STYLES)} |")
    print("|---|---|---|---|---|" + "---|" * len(STYLES))
    for folder in folders:
        print(measure(folder, drawings, data), flush=True)
    print(load_average())


if __name__ == "__main__":
    main()
