"""Single-image latency of the classify path on the CPU: a drawing's preprocessing plus the forward pass.

    python -m benchmarks.inference_latency --sizes 224 67 --runs 200

Each run takes a drawn garment (an RGBA canvas, as the drawing widget returns it) through the app's classify path:
``canvas_to_image`` → ``preprocess`` → ``prediction.probabilities`` (``to_tensor``, ``to_model_input``, the network
in eval mode as ``runs.Checkpoint.network`` builds it: float32 on the CPU, then softmax). Preprocessing and the
network are timed apart. Prints the median and p95 of each part and of the total.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from alexnet_explorer.config import PRESETS
from alexnet_explorer.config import build_model
from alexnet_explorer.classifier import Classifier
from alexnet_explorer.prediction import probabilities
from alexnet_explorer.preprocess import canvas_to_image, preprocess
from alexnet_explorer.runs import Checkpoint

from .common import load_average, machine

CANVAS_SIDE = 280


def drawn_shirt(side: int = CANVAS_SIDE) -> np.ndarray:
    """A T-shirt drawn in thick dark strokes on a transparent canvas, as the drawing widget returns it."""
    rgba = np.zeros((side, side, 4), dtype=np.uint8)
    s = side // 28
    body = (slice(8 * s, 25 * s), slice(9 * s, 19 * s))
    sleeves = [(slice(6 * s, 12 * s), slice(4 * s, 9 * s)), (slice(6 * s, 12 * s), slice(19 * s, 24 * s))]
    shoulders = (slice(5 * s, 8 * s), slice(6 * s, 22 * s))
    for rows, cols in [body, shoulders, *sleeves]:
        rgba[rows, cols] = (20, 20, 20, 255)
    return rgba


def classifier(size: int) -> Classifier:
    """A classroom network at this input size, loaded the way the app loads a run's checkpoint."""
    config = PRESETS["classroom"].replace(resize=size)
    checkpoint = Checkpoint(config, build_model(config).state_dict(), optimizer=None, epoch=0, batch=0)
    return Classifier(checkpoint.network(), config, epoch=0, batch=0, test_acc=None)


def classify(model: Classifier, rgba: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Class probabilities for a drawing, with the seconds spent preprocessing and in the network."""
    tic = time.perf_counter()
    image28 = preprocess(canvas_to_image(rgba)).image28
    middle = time.perf_counter()
    result = probabilities(model, [image28])
    return result, middle - tic, time.perf_counter() - middle


def summary(name: str, seconds: list[float]) -> str:
    """Median and p95 in milliseconds."""
    ms = np.array(seconds) * 1000
    return f"{name} median {np.median(ms):6.1f} ms, p95 {np.percentile(ms, 95):6.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, PRESETS["classroom"].resize])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}")
    rgba = drawn_shirt()
    for size in args.sizes:
        model = classifier(size)
        for _ in range(args.warmup):
            classify(model, rgba)
        pre, forward, total = [], [], []
        for _ in range(args.runs):
            _, a, b = classify(model, rgba)
            pre.append(a)
            forward.append(b)
            total.append(a + b)
        print(f"{size:>3} px, {args.runs} runs: {summary('total', total)} | {summary('preprocess', pre)} | "
              f"{summary('network', forward)}", flush=True)
    print(load_average())


if __name__ == "__main__":
    main()
