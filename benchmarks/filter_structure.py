"""How far conv1 moved from its random start, and how much structure its filters have, per saved epoch of a run.

    python -m benchmarks.filter_structure runs/RUN [runs/OTHER ...]

Structure is measured in the frequency domain: a random filter spreads its energy evenly over all spatial
frequencies, while edge, stripe and blob detectors put most of it at low ones. For each filter, the share of its
energy (|FFT|², DC included) within radius 2 of the 11×11 spectrum's centre; a filter counts as structured when its
share is above what 99 % of the filters of random initialisations reach (measured on 20 fresh networks of the run's
own configuration). A filter that is mostly one sign counts too (a blob of light or dark); the column "beyond its
mean" leaves each filter's mean out, for the edges and stripes alone, and "strict" counts the filters that, beyond
their mean, keep at least half their energy there (``inspection.structured_filters``: what a student sees as an edge
or a blob; no random filter passes). The last lines are the accuracy of the run's final network on the full test set
(10,000 images, whatever subset the run itself tested on), how many conv1 filters no test image excites any more,
and how many are alive and structured by the strict measure.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from alexnet_explorer.data import DeviceBatches, FashionMNIST, load_fashion_mnist
from alexnet_explorer.inspection import filter_peaks, low_frequency_share, relative_change, structured_filters
from alexnet_explorer.config import build_model
from alexnet_explorer.pipelines import PIPELINES
from alexnet_explorer.runs import RunDir
from alexnet_explorer.train import evaluate

RANDOM_NETWORKS = 20


def random_threshold(run: RunDir, without_mean: bool = False) -> float:
    """The 99th percentile of the low-frequency share over conv1 filters of fresh networks of this configuration."""
    config = run.read_config()
    shares = []
    with torch.random.fork_rng():
        for seed in range(RANDOM_NETWORKS):
            torch.manual_seed(1000 + seed)
            shares.append(low_frequency_share(build_model(config).conv1.weight, without_mean=without_mean))
    return float(np.quantile(np.concatenate(shares), 0.99))


def report(run: RunDir) -> list[str]:
    """Table rows: epoch, change from the start, median low-frequency share, shares of structured filters."""
    threshold, beyond = random_threshold(run), random_threshold(run, without_mean=True)
    start = run.load_filters(0)
    rows = [f"{run.name}: {run.read_config().summary()}; random filters' 99th percentiles {threshold:.3f} and "
            f"{beyond:.3f} (beyond the mean)",
            "| epoch | ‖W − W0‖ / ‖W0‖ | median low-frequency share | structured filters | beyond its mean | strict |",
            "|---|---|---|---|---|---|"]
    for epoch in run.filter_epochs():
        weights = run.load_filters(epoch)
        shares = low_frequency_share(weights)
        rows.append(f"| {epoch} | {relative_change(start, weights):.2f} | {np.median(shares):.3f} | "
                    f"{(shares > threshold).mean():.0%} | "
                    f"{(low_frequency_share(weights, without_mean=True) > beyond).mean():.0%} | "
                    f"{int(structured_filters(weights).sum())} of {len(weights)} |")
    return rows


def final_network(run: RunDir, data: FashionMNIST) -> list[str]:
    """The run's last network on every test image: its accuracy, its conv1 filters that no test image excites (dead:
    ReLU'd to 0 everywhere, so they no longer learn), and those alive and structured by the strict measure."""
    checkpoint = run.load_checkpoint()
    net, config = checkpoint.network().eval(), checkpoint.config
    batches = DeviceBatches(data.test_images, data.test_labels, 256, config.resize, torch.device("cpu"))
    alive = filter_peaks(net, data.test_images, config.resize) > 0
    strict = structured_filters(net.conv1.weight)
    count = len(alive)
    return [f"full test set ({len(data.test_labels):,} images) after epoch {checkpoint.epoch}: "
            f"accuracy {evaluate(net, batches):.4f}",
            f"dead conv1 filters (no test image excites them): {count - int(alive.sum())} of {count}",
            f"alive and structured by the strict measure: {int((alive & strict).sum())} of {count} "
            f"(structured: {int(strict.sum())})"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (with filters/epoch_000.pt, the random start)")
    parser.add_argument("--data-root", help="Fashion-MNIST's folder (default: the usual places)")
    args = parser.parse_args(argv)
    data = load_fashion_mnist(args.data_root)
    for path in args.runs:
        run = RunDir(path)
        if run.read_config().network in PIPELINES:
            print(f"{run.name}: a hand-made pipeline ({run.read_config().summary()}) has no conv1 filters to measure",
                  end="\n\n")
            continue
        print("\n".join([*report(run), *final_network(run, data)]), end="\n\n")


if __name__ == "__main__":
    main()
