"""How long each step of the Filters page's separability comparison takes, for several sample sizes.

    python -m benchmarks.separability_time --counts 1000 5000 [--checkpoint runs/RUN/checkpoint.pt]

For each number of test images: the fc7 features (a forward pass of the sample), the linear probe and the PCA and
t-SNE projections of raw pixels and of fc7 features, each timed alone, as the page computes them (after an untimed
round on 200 images, which pays for the libraries' first-call set-up). The page's
expected times (``inspection.STEP_COSTS``) are these figures at 1000 images and the growth between the two sizes.
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from alexnet_explorer.config import PRESETS
from alexnet_explorer.data import load_fashion_mnist, subset
from alexnet_explorer.inspection import FEATURE_KINDS, PROJECTIONS, holdout_probe, project, sample_features
from alexnet_explorer.model import last_hidden_layer
from alexnet_explorer.config import build_model
from alexnet_explorer.runs import load_checkpoint

from .common import load_average, machine


def timed(work) -> tuple[object, float]:
    tic = time.perf_counter()
    result = work()
    return result, time.perf_counter() - tic


def step_seconds(net: torch.nn.Module, size: int, images: torch.Tensor, labels) -> dict[tuple[str, str], float]:
    """Seconds of every step for one sample, by (feature kind, step)."""
    seconds = {}
    for kind in FEATURE_KINDS:
        features, seconds[kind, "features"] = timed(lambda: sample_features(images, kind, net, size))
        _, seconds[kind, "probe"] = timed(lambda: holdout_probe(features, labels))
        for method in PROJECTIONS:
            _, seconds[kind, method] = timed(lambda: project(features, method))
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs=2, default=[1000, 5000])
    parser.add_argument("--checkpoint", help="a run's checkpoint (default: an untrained classroom network)")
    parser.add_argument("--data-root")
    args = parser.parse_args(argv)
    if args.checkpoint:
        checkpoint = load_checkpoint(args.checkpoint)
        net, config = checkpoint.network(), checkpoint.config
    else:
        config = PRESETS["classroom"]
        net = build_model(config).eval()
    data = load_fashion_mnist(args.data_root)
    print(machine(torch.device("cpu")), load_average(), f"input {config.resize} px", sep="; ")
    small, large = args.counts
    warm_up = subset(data.test_images, data.test_labels, 200, seed=1)
    step_seconds(net, config.resize, warm_up[0], warm_up[1].numpy())  # imports and first-call set-up, untimed
    measured = {}
    for count in args.counts:
        images, labels = subset(data.test_images, data.test_labels, count, seed=0)
        measured[count] = step_seconds(net, config.resize, images, labels.numpy())
    print(f"| step | {small} images (s) | {large} images (s) | growth exponent |", "|---|---|---|---|", sep="\n")
    for key in measured[small]:
        a, b = measured[small][key], measured[large][key]
        exponent = math.log(b / a) / math.log(large / small)
        kind = "raw" if key[0] == "raw" else last_hidden_layer(net)
        print(f"| {kind} {key[1]} | {a:.2f} | {b:.2f} | {exponent:.2f} |")
    print(f"| total | {sum(measured[small].values()):.1f} | {sum(measured[large].values()):.1f} | |")


if __name__ == "__main__":
    main()
