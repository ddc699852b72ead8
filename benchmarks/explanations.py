"""Seconds each explanation of one picture takes on the CPU, as the Classify and Filters pages compute it.

    python -m benchmarks.explanations --size 67 --runs 5

A classroom network (random weights: the time does not depend on what it learned) answers a drawn T-shirt through
the app's path; each of ``prediction``'s maps (Captum's saliency, SmoothGrad, integrated gradients, Grad-CAM at the
page's default layer, occlusion), the sanity check with every layer randomised (its slowest setting) for the
cheapest and the slowest map, the guided-backpropagation projections of a conv5 channel's nine top images, and the
nearest training images in a pool of ``neighbours.POOL`` are timed, after one warm-up each. Prints the median and the
slowest of ``--runs`` for each, with the issue's limits (#24: one picture ≤ 1 s, the sanity check ≤ 3 s). Then what a
class wants to see (``feature_visualisation``, ``--steps`` of gradient ascent through the whole network, the costliest
layer to picture): one class alone, after a warm-up, and the ten classes together as the page computes them, per
class, once each (#24: ≤ 10 s a unit).
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from alexnet_explorer import feature_visualisation, neighbours, prediction, top_images
from alexnet_explorer.data import CLASSES
from alexnet_explorer.model import layers_top_down
from alexnet_explorer.preprocess import canvas_to_image, preprocess

from .common import load_average, machine
from .inference_latency import classifier, drawn_shirt

LIMITS = {"one picture": 1.0, "sanity check": 3.0, "a unit's picture": 10.0}


def timed(work: Callable[[], object], runs: int) -> list[float]:
    """Seconds of each of ``runs`` calls, after one warm-up call."""
    work()
    seconds = []
    for _ in range(runs):
        tic = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - tic)
    return seconds


def line(name: str, seconds: list[float], limit: float) -> str:
    """Median and slowest, and whether the slowest is within the limit."""
    verdict = "within" if max(seconds) <= limit else "OVER"
    return (f"{name:<44} median {np.median(seconds):6.3f} s, slowest {max(seconds):6.3f} s "
            f"({verdict} {limit:g} s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=67)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pool", type=int, default=neighbours.POOL, help="training images the search looks through")
    parser.add_argument("--steps", type=int, default=feature_visualisation.STEPS,
                        help="gradient-ascent steps of a unit's picture")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}")
    model = classifier(args.size)
    picture = preprocess(canvas_to_image(drawn_shirt())).image28
    top = int(prediction.probabilities(model, [picture])[0].argmax())
    layer = prediction.default_grad_cam_layer(model)
    one = LIMITS["one picture"]
    maps: dict[str, Callable[[], object]] = {
        "saliency": lambda: prediction.saliency(model, picture, top),
        "SmoothGrad": lambda: prediction.smooth_grad(model, picture, top),
        "integrated gradients": lambda: prediction.integrated_gradients(model, picture, top),
        f"Grad-CAM ({layer})": lambda: prediction.grad_cam(model, picture, top, layer),
        "occlusion": lambda: prediction.occlusion(model, picture, top),
    }
    for name, work in maps.items():
        print(line(name, timed(work, args.runs), one), flush=True)
    every = len(layers_top_down(model.net))
    for name, explain in (("saliency", prediction.saliency), ("SmoothGrad", prediction.smooth_grad)):
        heat = explain(model, picture, top)
        print(line(f"sanity check, {name}, {every} layers randomised",
                   timed(lambda: prediction.sanity_check(model, picture, top, heat, explain, every), args.runs),
                   LIMITS["sanity check"]), flush=True)
    nine = torch.from_numpy(np.stack([picture] * top_images.TOP))[:, None]
    print(line("guided backprop, 9 top images of a conv5 channel",
               timed(lambda: top_images.unit_projections(model.net, nine, model.size, "conv5", 0), args.runs), one),
          flush=True)
    generator = np.random.default_rng(0)
    pool = neighbours.TrainingFeatures(np.arange(args.pool), generator.integers(0, 10, args.pool),
                                       generator.random((args.pool, 4096), dtype=np.float32).astype(np.float16), 0, 0)
    print(line(f"nearest 5 of {args.pool:,} training images",
               timed(lambda: neighbours.nearest(model, pool, picture), args.runs), one), flush=True)
    classes = range(len(CLASSES))
    print(line("a class's picture, alone",
               timed(lambda: feature_visualisation.visualise(model.net, model.size, "fc8", [0], args.steps), 1),
               LIMITS["a unit's picture"]), flush=True)
    tic = time.perf_counter()
    feature_visualisation.visualise(model.net, model.size, "fc8", classes, args.steps)
    print(line("a class's picture, the ten together, per class", [(time.perf_counter() - tic) / len(classes)],
               LIMITS["a unit's picture"]), flush=True)
    print(load_average())


if __name__ == "__main__":
    main()
