"""The scoreboard's figures: each preset trained (or fitted) with several seeds, scored on all 10,000 test images.

    python -m benchmarks.scoreboard --runs /tmp/board
    python -m benchmarks.scoreboard --runs /tmp/board --presets hog-svm lenet-modern --seeds 0 1 2

Every run is the command line's own ``train --preset NAME --run-dir DIR`` in a process of its own (so its wall time
includes starting Python, torch and the data, as a class's runs do), with the test images setting emptied so that all
10,000 count. One line per run, then each preset's mean and spread, then the scoreboard as the app and
``python -m alexnet_explorer scoreboard`` print it. Runs already finished in the folder are kept, not trained again.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from alexnet_explorer import scoreboard
from alexnet_explorer.config import PRESETS
from alexnet_explorer.runs import RunDir

from .common import load_average, machine

PRESETS_SCORED = ("raw-linear", "hog-svm", "filters-svm", "hog-kernel-svm", "lenet", "lenet-modern",
                  "classroom")


def trained(folder: Path, preset: str, seed: int, data_root: str | None) -> tuple[scoreboard.Entry | None, float]:
    """The finished run of this preset and seed in the folder, trained now unless it is there; and the wall time."""
    run_dir = folder / f"{preset}-s{seed}"
    tic = time.perf_counter()
    if scoreboard.entry(RunDir(run_dir)) is None:
        command = [sys.executable, "-m", "alexnet_explorer", "train", "--preset", preset, "--seed", str(seed),
                   "--limit-test", "10000", "--run-dir", str(run_dir), "--device", "cpu"]
        if data_root:
            command += ["--data-root", data_root]
        subprocess.run(command, check=False, capture_output=True)
    return scoreboard.entry(RunDir(run_dir)), time.perf_counter() - tic


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="the folder the runs are written to (and read back from)")
    parser.add_argument("--presets", nargs="+", choices=list(PRESETS), default=list(PRESETS_SCORED))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-root", help="a folder with the four Fashion-MNIST files (default: the usual places)")
    args = parser.parse_args(argv)
    folder = Path(args.runs)
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{machine(torch.device('cpu'))}; {load_average()}")
    print("| preset | seed | test accuracy (10,000 images) | training time (the run's own) | wall time here (s) |")
    print("|---|---|---|---|---|")
    scores: dict[str, list[tuple[float, float]]] = {}
    for preset in args.presets:
        for seed in args.seeds:
            entry, wall = trained(folder, preset, seed, args.data_root)
            if entry is None:
                print(f"| {preset} | {seed} | failed: see {folder / f'{preset}-s{seed}' / 'status.json'} | | |")
                continue
            scores.setdefault(preset, []).append((entry.accuracy, entry.seconds))
            print(f"| {preset} | {seed} | {entry.accuracy:.4f} | {entry.seconds:.0f} s | {wall:.0f} |", flush=True)
    print(f"\n{load_average()}\n")
    print("| preset | runs | mean test accuracy | spread (max − min) | mean training time (s) |")
    print("|---|---|---|---|---|")
    for preset, runs in scores.items():
        accuracies = [accuracy for accuracy, _ in runs]
        print(f"| {preset} | {len(runs)} | {statistics.mean(accuracies):.4f} | "
              f"{max(accuracies) - min(accuracies):.4f} | {statistics.mean(s for _, s in runs):.0f} |")
    print()
    print(scoreboard.verdict(scoreboard.entries(folder)).replace("**", ""))


if __name__ == "__main__":
    main()
