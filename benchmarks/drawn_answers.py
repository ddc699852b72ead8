"""How drawings made as students make them compare with Fashion-MNIST's pictures, and how runs answer them.

    python -m benchmarks.drawn_answers RUN_DIR [RUN_DIR ...] [--per-class 30] [--seed 1] [--montage drawn.png]

Garments are drawn as on the Classify page's canvas (``benchmarks/drawings.py``: a filled polygon or a wide brush
painted across the shape, at any size and place on the 280×280 canvas, slightly turned) and go through the app's
own path (``preprocess`` → ``prediction.probabilities``). First a table of what the canvas path produces beside the
test set's pictures, measured on the 28×28 result (ink: pixels above ``unfamiliar.INK_LEVEL``, the level the
Classify page's hints count as ink): the ink's level and its spread (a
flat fill has none), the share of soft edge pixels (below half the picture's brightest), how much of the frame the
ink covers, and how far its centre lies from the middle. Then, per run, the share answered right per style and per
class, and over the eight classes a silhouette tells apart (all but coat and shirt, which Fashion-MNIST's own
pictures tell from a pullover and a T-shirt by buttons, collars and fabric that a filled drawing does not have).
``--montage`` saves ten drawings per class beside ten test pictures, one row per class.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from alexnet_explorer.classifier import load_classifier
from alexnet_explorer.data import CLASSES, load_fashion_mnist
from alexnet_explorer.prediction import probabilities
from alexnet_explorer.preprocess import SIDE, preprocess
from alexnet_explorer.runs import RunDir
from alexnet_explorer.unfamiliar import INK_LEVEL

from .common import load_average, machine
from .drawings import drawn_set

FILLED_STYLES = ("filled", "brush")  # drawings.STYLES but outlines, which benchmarks.augmentation measures
SILHOUETTE_CLASSES = tuple(label for label, name in enumerate(CLASSES) if name not in ("Coat", "Shirt"))


def looks(images: np.ndarray) -> dict[str, float]:
    """Medians over 28×28 pictures of what tells a drawing from a photo: ink level, its spread, soft edges, cover,
    distance of the ink's centre from the middle (pixels)."""
    figures: dict[str, list[float]] = {"ink level": [], "ink spread": [], "soft edges": [], "cover": [],
                                        "off centre": []}
    rows, cols = np.mgrid[:SIDE, :SIDE]
    middle = (SIDE - 1) / 2
    for image in images.astype(np.float32):
        ink = image > INK_LEVEL
        if not ink.any():
            continue
        figures["ink level"].append(image[ink].mean())
        figures["ink spread"].append(image[ink].std())
        figures["soft edges"].append(np.mean(image[ink] < 0.5 * np.percentile(image[ink], 95)))
        figures["cover"].append(ink.mean())
        weight = image / image.sum()
        figures["off centre"].append(np.hypot((weight * rows).sum() - middle, (weight * cols).sum() - middle))
    return {name: float(np.median(values)) for name, values in figures.items()}


def montage(drawn: list[tuple[np.ndarray, int]], test_images: np.ndarray, test_labels: np.ndarray, path: str) -> None:
    """Ten drawings and ten test pictures of each class side by side, a row per class, enlarged three times."""
    rows = []
    for label in range(len(CLASSES)):
        drawings = [image for image, drawn_label in drawn if drawn_label == label][:10]
        photos = list(test_images[np.flatnonzero(test_labels == label)[:10]])
        rows.append(np.concatenate(drawings + [np.full((SIDE, 4), 128, np.uint8)] + photos, axis=1))
    picture = Image.fromarray(np.concatenate(rows))
    picture.resize((picture.width * 3, picture.height * 3), Image.Resampling.NEAREST).save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="run folders whose networks answer the drawings")
    parser.add_argument("--per-class", type=int, default=30, help="drawings of each class in each style")
    parser.add_argument("--seed", type=int, default=1, help="the drawings' random generator")
    parser.add_argument("--montage", help="save drawings beside test pictures to this PNG")
    parser.add_argument("--data-root", help="Fashion-MNIST's folder (default: the usual places)")
    args = parser.parse_args(argv)

    data = load_fashion_mnist(args.data_root)
    test_images = np.asarray(data.test_images).reshape(-1, SIDE, SIDE)
    test_labels = np.asarray(data.test_labels)
    drawn = {style: [(preprocess(picture).image28, label)
                     for picture, label, _ in drawn_set(args.per_class, (style,), seed=args.seed)]
             for style in FILLED_STYLES}
    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}")
    print(f"{args.per_class} drawings of each class in each style (seed {args.seed}), through preprocess\n")
    sets = {"test pictures": test_images} | {f"drawn, {style}": np.stack([image for image, _ in pictures])
                                             for style, pictures in drawn.items()}
    measured = {name: looks(images) for name, images in sets.items()}
    names = list(next(iter(measured.values())))
    print("| pictures (medians) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for name, figures in measured.items():
        print(f"| {name} | " + " | ".join(f"{figures[key]:.2f}" for key in names) + " |")
    if args.montage:
        montage(drawn["filled"], test_images, test_labels, args.montage)
        print(f"\nmontage: {args.montage}")

    print("\n| run | style | all ten | the eight a silhouette tells apart | " + " | ".join(CLASSES) + " |")
    print("|---" * (len(CLASSES) + 4) + "|")
    for folder in args.runs:
        classifier = load_classifier(RunDir(folder).checkpoint_path)
        for style, pictures in drawn.items():
            labels = np.array([label for _, label in pictures])
            right = probabilities(classifier, [image for image, _ in pictures]).argmax(1) == labels
            per_class = [right[labels == label].mean() for label in range(len(CLASSES))]
            eight = np.mean([per_class[label] for label in SILHOUETTE_CLASSES])
            print(f"| {folder} | {style} | {right.mean():.2f} | {eight:.2f} | "
                  + " | ".join(f"{share:.2f}" for share in per_class) + " |")


if __name__ == "__main__":
    main()
