"""Wall time until a preset's test accuracy on the full 10,000-image test set first reaches a target.

    python -m benchmarks.time_to_accuracy --preset classroom --device cpu --target 0.80 0.85 --eval-every 0.5

The run is the package's own ``train()`` with the preset's recipe. Its per-epoch evaluation is pointed at the full
test set (``limit_test=None``; the test split does not affect training), and ``--eval-every`` adds evaluations
within an epoch: the run is stopped there through ``should_stop``, the checkpoint is evaluated, and training resumes
from it exactly (as the app's stop/resume does). The clock runs from before the data is loaded and includes every
evaluation and restart, so the figure is what a user waits, plus the extra test points; their cost is reported.
The last line is ``reached T in N s`` or ``not reached T (best A after N s)`` for the last target given.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch

from alexnet_explorer.config import PRESETS, RunConfig
from alexnet_explorer.data import DeviceBatches, FashionMNIST, load_fashion_mnist
from alexnet_explorer.devices import move_to_device, resolve_device
from alexnet_explorer.events import EpochEnd, Event, Started, Step
from alexnet_explorer.config import build_model
from alexnet_explorer.train import evaluate, train

from .common import load_average, machine


def eval_steps(steps_per_epoch: int, epochs: int, every: float) -> list[int]:
    """Global steps after which to evaluate within epochs (epoch ends are evaluated by train() itself)."""
    points = {round(k * every * steps_per_epoch) for k in range(1, math.ceil(epochs / every) + 1)}
    return sorted(p for p in points if 0 < p < epochs * steps_per_epoch and p % steps_per_epoch)


def overrides(pairs: list[str]) -> dict[str, object]:
    """``key=value`` settings on top of the preset; values are read as JSON where they parse (0.3, 12000, null)."""
    changes = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            changes[key] = json.loads(text)
        except json.JSONDecodeError:
            changes[key] = text  # a plain word such as cosine
    return changes


def outcome_line(target: float, reached_at: float | None, best: float, elapsed: float) -> str:
    """The closing line for one target."""
    if reached_at is not None:
        return f"reached {target:.2f} in {reached_at:.0f} s"
    return f"not reached {target:.2f} (best {best:.3f} after {elapsed:.0f} s)"


class Curve:
    """Test accuracy against wall time; stops the run once every target is reached or time is up."""

    def __init__(self, targets: list[float], started: float, max_seconds: float | None):
        self.targets, self.started, self.max_seconds = sorted(targets), started, max_seconds
        self.points: list[tuple[float, float, float]] = []  # (seconds, epoch, test accuracy)
        self.reached: dict[float, float] = {}
        self.eval_seconds = 0.0

    def add(self, epoch: float, accuracy: float) -> None:
        """Record and print a test point now; note the targets it reaches for the first time."""
        seconds = time.perf_counter() - self.started
        self.points.append((seconds, epoch, accuracy))
        for target in self.targets:
            if accuracy >= target and target not in self.reached:
                self.reached[target] = seconds
        print(f"{seconds:8.1f} {epoch:7.2f} {accuracy:9.4f}", flush=True)

    @property
    def done(self) -> bool:
        """Every target reached, or the time allowed is up."""
        out_of_time = self.max_seconds is not None and time.perf_counter() - self.started > self.max_seconds
        return len(self.reached) == len(self.targets) or out_of_time

    @property
    def best(self) -> float:
        """The highest test accuracy so far."""
        return max((a for _, _, a in self.points), default=float("nan"))


def run(config: RunConfig, data: FashionMNIST, curve: Curve, every: float | None) -> None:
    """Train with the preset, adding a test point at every epoch end and at the mid-epoch steps."""
    device = resolve_device(config.device)
    test = DeviceBatches(data.test_images, data.test_labels, config.batch_size, config.resize, device)
    state = {"done": 0, "pending": [], "mark": time.perf_counter()}

    def listen(event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, Started):
            if resume is not None:  # rebuilding the model and batches to resume: overhead of the extra points
                curve.eval_seconds += now - state["mark"]
            if every and not state["pending"]:
                state["pending"] = eval_steps(event.batches_per_epoch, config.epochs, every)
        elif isinstance(event, Step):
            state["done"], state["mark"] = event.epoch * event.batches + event.batch, now
        elif isinstance(event, EpochEnd):
            curve.eval_seconds += now - state["mark"]  # train()'s own evaluation since the epoch's last step
            curve.add(event.epoch, event.test_acc)

    def should_stop() -> bool:
        return curve.done or (bool(state["pending"]) and state["done"] == state["pending"][0])

    resume = None
    while True:
        ended = train(config, data, listen, should_stop, resume)
        if ended.status == "finished" or curve.done:
            return
        state["pending"].pop(0)
        tic = time.perf_counter()
        net = move_to_device(build_model(config), device)
        net.load_state_dict(ended.checkpoint.model)
        accuracy = evaluate(net, test)
        curve.add(ended.epoch, accuracy)
        state["mark"] = time.perf_counter()
        curve.eval_seconds += state["mark"] - tic
        resume = ended.checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="classroom")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--target", type=float, nargs="+", default=[0.80], help="one or more test accuracies")
    parser.add_argument("--eval-every", type=float, help="also evaluate every this fraction of an epoch")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="change the preset's recipe, e.g. --set dropout=0.3 lr=0.03")
    parser.add_argument("--max-seconds", type=float, help="give up after this much wall time")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--data-root")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    config = PRESETS[args.preset].replace(**overrides(args.set), device=args.device, limit_test=None)
    device = resolve_device(config.device)
    print(f"machine: {machine(device)}; {load_average()}")
    changed = f" with {' '.join(args.set)}" if args.set else ""
    print(f"preset {args.preset}{changed}: {config.summary()}; on {device}")
    print("wall time includes loading the data, training, and every evaluation on the full 10,000-image test set")
    print(f"{'time_s':>8} {'epoch':>7} {'test_acc':>9}")
    started = time.perf_counter()
    curve = Curve(args.target, started, args.max_seconds)
    run(config, load_fashion_mnist(args.data_root), curve, args.eval_every)
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s, of which evaluation and restarts {curve.eval_seconds:.0f} s; {load_average()}")
    for target in args.target:
        print(outcome_line(target, curve.reached.get(target), curve.best, elapsed))


if __name__ == "__main__":
    main()
