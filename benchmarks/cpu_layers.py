"""The package's layers that take another way on a CPU, against torch's own, layer by layer: a convolution's weight
gradient (oneDNN's, or one matrix product over the input's patches: ``model.weight_gradient_by_product``), in bf16
and in float32; and max pooling of a float32 batch in the usual layout (torch's kernel, or ``model.MaxPool2d``'s trip
through channels_last), forward and backward.

    python -m benchmarks.cpu_layers --batch-size 128 --rounds 20

Each row is one layer's geometry at one map size: AlexNet's layers at the classroom's 67 px and at the chapter's
224 px, and sizes between, where the two ways cross. The two ways alternate round by round and the medians are
compared; the last column is the way the package's own layer takes there, read from what it ran (the thresholds
``model.SMALL_MAP`` and ``model.SMALL_POOLING_MAP`` come from these rows). Both ways are checked first: the weight
gradients against float64, the pooling's maxima and gradients against torch's exactly.
"""
from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import torch
from torch import nn

from alexnet_explorer.model import Conv2d, MaxPool2d, pooled_in_channels_last, weight_gradient_by_product

from .common import load_average, machine, timed

CPU = torch.device("cpu")

# (layer, in channels, out channels, kernel, padding, map side)
LAYERS = (("conv2", 96, 256, 5, 2, 7), ("conv3", 256, 384, 3, 1, 3), ("conv4", 384, 384, 3, 1, 3),
          ("conv5", 384, 256, 3, 1, 3), ("conv4", 384, 384, 3, 1, 4), ("conv4", 384, 384, 3, 1, 5),
          ("conv4", 384, 384, 3, 1, 6), ("conv4", 384, 384, 3, 1, 7), ("conv4", 384, 384, 3, 1, 8),
          ("conv4", 384, 384, 3, 1, 12), ("conv2", 96, 256, 5, 2, 26))
PRECISIONS = ((torch.bfloat16, torch.channels_last), (torch.float32, torch.contiguous_format))
# (layer, channels, map side) of a 3×3, stride-2 max pooling
POOLINGS = (("pool1", 96, 15), ("pool2", 256, 7), ("pool5", 256, 3), ("pool1", 96, 19), ("pool1", 96, 22),
            ("pool1", 96, 28), ("pool2", 256, 26), ("pool1", 96, 54))


def ways(batch: int, layer: tuple, dtype: torch.dtype, layout: torch.memory_format) -> dict[str, Callable]:
    """oneDNN's weight gradient and the product's, on one random batch of this layer's input and output gradient."""
    _, cin, cout, kernel, pad, side = layer
    x = torch.randn(batch, cin, side, side, dtype=dtype).contiguous(memory_format=layout)
    grad = torch.randn(batch, cout, side, side, dtype=dtype).contiguous(memory_format=layout)
    weight = torch.randn(cout, cin, kernel, kernel, dtype=dtype).contiguous(memory_format=layout)
    oracle = torch.ops.aten.convolution_backward(grad.double(), x.double(), weight.double(), [cout], [1, 1],
                                                 [pad, pad], [1, 1], False, [0, 0], 1, [False, True, False])[1]
    found = {"oneDNN": lambda: torch.ops.aten.convolution_backward(
                 grad, x, weight, [cout], [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [False, True, False])[1],
             "product": lambda: weight_gradient_by_product(x, grad, (kernel, kernel), (pad, pad))}
    for name, way in found.items():
        error = ((way().double() - oracle).abs().max() / oracle.abs().max()).item()
        if error > 0.01:
            raise SystemExit(f"{name}'s weight gradient is off by {error:.3f} of its largest value")
    return found


def pooling_ways(batch: int, layer: tuple) -> dict[str, Callable]:
    """torch's max pooling and the trip through channels_last, forward and backward, on one random float32 batch in the
    usual layout."""
    _, channels, side = layer
    x = torch.randn(batch, channels, side, side, requires_grad=True)
    pools = {"torch": nn.MaxPool2d(3, 2), "channels_last": lambda x: pooled_in_channels_last(x, 3, 2)}
    upstream = torch.randn_like(pools["torch"](x))
    found = {}
    for name, pool in pools.items():
        out = pool(x)
        found[name] = (out.detach(), torch.autograd.grad(out, x, upstream)[0],
                       lambda pool=pool: torch.autograd.grad(pool(x), x, upstream))
    if not all(torch.equal(a, b) for a, b in zip(found["torch"][:2], found["channels_last"][:2])):
        raise SystemExit(f"{layer[0]} at {side}×{side}: the trip's maxima or gradient differ from torch's")
    return {name: way for name, (*_, way) in found.items()}


def conv_way_taken(layer: tuple, dtype: torch.dtype) -> str:
    """Which weight gradient ``model.Conv2d`` computes for this layer learning in this precision, as its output's
    gradient function says on a batch of one."""
    _, cin, cout, kernel, pad, side = layer
    x = torch.randn(1, cin, side, side, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        out = Conv2d(cin, cout, kernel, padding=pad)(x)
    return "product" if out.grad_fn.name() == "_WeightGradientByProductBackward" else "oneDNN"


def pooling_way_taken(layer: tuple) -> str:
    """Which way ``model.MaxPool2d`` pools a float32 batch of this layer's maps in the usual layout."""
    _, channels, side = layer
    out = MaxPool2d(3, 2)(torch.randn(1, channels, side, side, requires_grad=True))
    return "channels_last" if out.grad_fn.name() == "_PooledInChannelsLastBackward" else "torch's"


def median_ms(runs: dict[str, Callable], rounds: int) -> dict[str, float]:
    """Median milliseconds of each way, the ways alternating round by round after one warm-up call each."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(timed(run, CPU))
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"machine: {machine(CPU)}; {load_average()}")
    print(f"batch {args.batch_size}, {args.rounds} rounds; milliseconds per weight gradient (median)")
    print(f"{'layer':6s} {'map':>6s} {'precision':9s} {'oneDNN':>8s} {'product':>8s} {'faster':>7s}  package uses")
    for dtype, layout in PRECISIONS:
        for layer in LAYERS:
            side = layer[-1]
            ms = median_ms(ways(args.batch_size, layer, dtype, layout), args.rounds)
            uses = conv_way_taken(layer, dtype)
            print(f"{layer[0]:6s} {side:>2d}×{side:<3d} {str(dtype).removeprefix('torch.'):9s} {ms['oneDNN']:8.1f} "
                  f"{ms['product']:8.1f} {ms['oneDNN'] / ms['product']:6.2f}×  {uses}", flush=True)
    print("\nmax pooling 3×3, stride 2, float32 in the usual layout: milliseconds forward and backward (median)")
    print(f"{'layer':6s} {'map':>6s} {'torch':>8s} {'via CL':>8s} {'faster':>7s}  package uses")
    for layer in POOLINGS:
        side = layer[-1]
        ms = median_ms(pooling_ways(args.batch_size, layer), args.rounds)
        uses = pooling_way_taken(layer)
        print(f"{layer[0]:6s} {side:>2d}×{side:<3d} {ms['torch']:8.1f} {ms['channels_last']:8.1f} "
              f"{ms['torch'] / ms['channels_last']:6.2f}×  {uses}", flush=True)
    print(load_average())


if __name__ == "__main__":
    main()
