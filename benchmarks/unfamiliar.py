"""What the unlike-the-training-data signal flags, on a run's test images and on pictures from other distributions.

    python -m benchmarks.unfamiliar --run runs/RUN [--per-class 20] [--count 200]

The run's network and its signal (``evaluation.evaluate``: Gaussians fitted on its training images, limits calibrated
on its test images) judge, through the app's own path (``preprocess`` → ``prediction.judge``):

* the run's own test images (the calibration set: at most 5 % may be flagged) and the other test images, which the
  calibration never saw (an honest false-alarm rate);
* real test garments made to look like phone photos of prints (dark on white, enlarged, off-centre, JPEG): these are
  garments, and should rarely be flagged;
* garments drawn as students draw with a mouse (``benchmarks/drawings.py``): filled, brush scribbles, outlines;
* pictures of no garment at all: digits, edge-filter outlines of test garments, noise, a blank canvas with a dot.

Per set it prints how many pictures the preprocessing refused (nothing stands out), the share flagged, the share for
which each hint fired, and for the labelled sets the accuracy overall, on flagged and on unflagged pictures.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from alexnet_explorer.data import load_fashion_mnist
from alexnet_explorer.evaluation import evaluate
from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.prediction import judge, probabilities
from alexnet_explorer.preprocess import PictureError, preprocess
from alexnet_explorer.runs import RunDir
from alexnet_explorer.unfamiliar import HINTS

from .common import load_average, machine
from .drawings import STYLES, drawn_set, foreign_sets, photo_like


def prepared(pictures: list[Image.Image]) -> tuple[list[np.ndarray], list[int]]:
    """The 28×28 pictures the app would answer, and the positions of those it refused."""
    images, refused = [], []
    for i, picture in enumerate(pictures):
        try:
            images.append(preprocess(picture).image28)
        except PictureError:
            refused.append(i)
    return images, refused


def share(mask: np.ndarray) -> str:
    return f"{mask.mean():.1%}" if len(mask) else "–"


def accuracy(right: np.ndarray, where: np.ndarray) -> str:
    return f"{right[where].mean():.2f} ({where.sum()})" if where.any() else "– (0)"


def report(name: str, model, familiarity, images: list[np.ndarray], labels: list[int] | None, refused: int = 0) -> str:
    """One table row: the set's name, size, refusals, flagged share, hints, and accuracies if labelled."""
    verdicts = judge(model, familiarity, images) if images else []
    flagged = np.array([v.flagged for v in verdicts], dtype=bool)
    hints = " ".join(f"{key} {share(np.array([key in v.hints for v in verdicts]))}" for key in HINTS)
    row = f"| {name} | {len(images)} | {refused} | {share(flagged)} | {hints} |"
    if labels is None:
        return row + " | | |"
    right = probabilities(model, images).argmax(1) == np.array(labels)
    return row + f" {right.mean():.2f} | {accuracy(right, flagged)} | {accuracy(right, ~flagged)} |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a run folder with a checkpoint")
    parser.add_argument("--per-class", type=int, default=20, help="drawings of each class in each style")
    parser.add_argument("--count", type=int, default=200, help="pictures in each of the other sets")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}; {time.strftime('%Y-%m-%d')}")
    run = RunDir(Path(args.run))
    model = load_classifier(run.checkpoint_path)
    data = load_fashion_mnist()
    tic = time.perf_counter()
    evaluation = evaluate(model.net, model.config, data, model.epoch, model.batch)
    print(f"run {run.name}: {model.config.summary()}; network after epoch {model.epoch}; test acc on its "
          f"{len(evaluation.labels)} test images {evaluation.accuracy:.4f}; signal fitted in "
          f"{time.perf_counter() - tic:.1f} s")
    familiarity = evaluation.familiarity
    test = data.test_images[:, 0].numpy()
    labels = data.test_labels.numpy()
    others = np.setdiff1d(np.arange(len(test)), evaluation.test_indices)

    print("\n| set | pictures | refused | flagged | hints | accuracy | on flagged (n) | on unflagged (n) |")
    print("|---|---|---|---|---|---|---|---|")
    own = evaluation.test_indices
    print(report("the run's own test images (calibration)", model, familiarity, list(test[own]), list(labels[own])))
    if len(others):
        print(report("the other test images (held out)", model, familiarity, list(test[others]), list(labels[others])))
    rng = np.random.default_rng(1)
    chosen = rng.choice(others if len(others) else own, size=args.count, replace=False)
    images, refused = prepared([photo_like(test[i], rng) for i in chosen])
    kept = np.delete(chosen, refused)
    print(report("photo-like test garments (dark on white, JPEG)", model, familiarity, images, list(labels[kept]),
                 len(refused)))
    drawings = drawn_set(args.per_class, seed=0)
    for style in STYLES:
        items = [(picture, label) for picture, label, drawn in drawings if drawn == style]
        images, refused = prepared([picture for picture, _ in items])
        kept = [label for i, (_, label) in enumerate(items) if i not in refused]
        print(report(f"drawn garments, {style}", model, familiarity, images, kept, len(refused)))
    for name, pictures in foreign_sets(args.count, test, seed=2).items():
        images, refused = prepared(pictures)
        print(report(name, model, familiarity, images, None, len(refused)))
    print(f"\nlimits: distance {familiarity.distance_limit:.1f}, energy {familiarity.energy_limit:.2f}; "
          f"{load_average()}")


if __name__ == "__main__":
    main()
