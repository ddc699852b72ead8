"""Which CPU settings make AlexNet's training step and forward pass faster: one process, variants interleaved.

    python -m benchmarks.cpu_options --resize 67 --batch-size 64 --rounds 6

Each round runs one training step (and one forward pass of an evaluation batch) of every variant in turn, so a
busy machine slows all variants alike; the medians are compared with the first variant, the chapter's math (float32,
contiguous, torch's thread count, torch's dropout, convolutions and pooling, SGD weight by weight). Variants:
channels_last, bf16 autocast (oneDNN uses AMX where the CPU has it), both, one thread, glibc keeping freed memory
instead of unmapping it (big tensors then need no fresh pages each step), the combination the package used on CPUs
with AMX until December 2026 (bf16 + channels_last + memory kept), that with a fused SGD step or with the package's
dropout mask (model.Dropout), or both (the package before model.Conv2d), and the package now (all of them, and
model.Conv2d's weight gradient by one matrix product on small maps); and on the float32 path of CPUs without bf16
arithmetic (neither AMX nor AVX512-BF16), the package before and now (memory kept, fused SGD, its dropout, and now
model.MaxPool2d, which pools a batch in the usual layout by way of channels_last).
"""
from __future__ import annotations

import argparse
import ctypes
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from alexnet_explorer.devices import GLIBC_MALLOC_DEFAULTS, M_MMAP_MAX, M_TRIM_THRESHOLD
from alexnet_explorer.model import alexnet

from .common import load_average, machine, with_torchs_layers


@dataclass(frozen=True)
class Variant:
    """One way to run the step."""

    name: str
    channels_last: bool = False
    bf16: bool = False
    threads: int | None = None
    keep_memory: bool = False
    fused_sgd: bool = False
    package_dropout: bool = False  # model.Dropout's mask from torch.rand, rather than torch's nn.Dropout
    package_convolution: bool = False  # model.Conv2d's weight gradient by one matrix product on small maps in bf16
    package_pooling: bool = False  # model.MaxPool2d: a batch in the usual layout pooled in channels_last


VARIANTS = (Variant("float32"), Variant("channels_last", channels_last=True), Variant("bf16", bf16=True),
            Variant("bf16 + channels_last", channels_last=True, bf16=True), Variant("1 thread", threads=1),
            Variant("glibc keeps memory", keep_memory=True),
            Variant("bf16 + cl + keeps memory", channels_last=True, bf16=True, keep_memory=True),
            Variant("… + fused SGD", channels_last=True, bf16=True, keep_memory=True, fused_sgd=True),
            Variant("… + package's dropout", channels_last=True, bf16=True, keep_memory=True, package_dropout=True),
            Variant("… + fused SGD + dropout", channels_last=True, bf16=True, keep_memory=True,
                    fused_sgd=True, package_dropout=True),
            Variant("the package now", channels_last=True, bf16=True, keep_memory=True, fused_sgd=True,
                    package_dropout=True, package_convolution=True, package_pooling=True),
            Variant("float32, package before", keep_memory=True, fused_sgd=True, package_dropout=True),
            Variant("float32, package now", keep_memory=True, fused_sgd=True, package_dropout=True,
                    package_convolution=True, package_pooling=True))


def set_malloc(keep: bool) -> None:
    """Switch glibc between keeping freed memory (as train.kept_heap) and its defaults, without giving memory back:
    the variants alternate step by step, and kept_heap's closing malloc_trim would undo the effect measured."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(M_MMAP_MAX, 0 if keep else GLIBC_MALLOC_DEFAULTS[M_MMAP_MAX])
    libc.mallopt(M_TRIM_THRESHOLD, 2**30 if keep else GLIBC_MALLOC_DEFAULTS[M_TRIM_THRESHOLD])


def runner(variant: Variant, size: int, batch_size: int, eval_batch: int) -> tuple[Callable, Callable]:
    """A training step and an evaluation forward pass for this variant, each on its own copy of the network."""
    torch.manual_seed(0)
    net = alexnet(size, init="kaiming")
    net = with_torchs_layers(net, dropout=not variant.package_dropout, convolutions=not variant.package_convolution,
                             pooling=not variant.package_pooling)
    layout = torch.channels_last if variant.channels_last else torch.contiguous_format
    net = net.to(memory_format=layout)
    optimizer = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9, fused=variant.fused_sgd)
    x = torch.rand(batch_size, 1, size, size).contiguous(memory_format=layout)
    y = torch.randint(0, 10, (batch_size,))
    test = torch.rand(eval_batch, 1, size, size).contiguous(memory_format=layout)
    default_threads = torch.get_num_threads()

    def run(work: Callable) -> Callable:
        def timed() -> float:
            torch.set_num_threads(variant.threads or default_threads)
            set_malloc(variant.keep_memory)
            tic = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=variant.bf16):
                work()
            seconds = time.perf_counter() - tic
            torch.set_num_threads(default_threads)
            set_malloc(False)
            return seconds
        return timed

    def step() -> None:
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def forward() -> None:
        net.eval()
        with torch.no_grad():
            net(test).argmax(1)
        net.train()

    return run(step), run(forward)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resize", type=int, default=67)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", nargs="+", help="names to run (default: all)")
    args = parser.parse_args(argv)

    variants = [v for v in VARIANTS if not args.variants or v.name in args.variants]
    print(f"machine: {machine(torch.device('cpu'))}; {load_average()}")
    runs = {v.name: runner(v, args.resize, args.batch_size, args.eval_batch) for v in variants}
    times = {name: ([], []) for name in runs}
    for step, forward in runs.values():  # warm-up: oneDNN kernel choice, first-touch of the buffers
        step(), forward()
    for _ in range(args.rounds):
        for name, (step, forward) in runs.items():
            times[name][0].append(step())
            times[name][1].append(forward())
    base_train, base_eval = (statistics.median(t) for t in times[variants[0].name])
    print(f"{args.resize} px: train batch {args.batch_size}, eval batch {args.eval_batch}, {args.rounds} rounds")
    for name, (train_times, eval_times) in times.items():
        train_s, eval_s = statistics.median(train_times), statistics.median(eval_times)
        print(f"{name:24s} train {args.batch_size / train_s:7.1f} images/s ({base_train / train_s:4.2f}×)   "
              f"eval {args.eval_batch / eval_s:7.1f} images/s ({base_eval / eval_s:4.2f}×)", flush=True)
    print(load_average())


if __name__ == "__main__":
    main()
