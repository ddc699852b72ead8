"""Training images/s of the chapter's pipeline and of the package's, same AlexNet and batch size, side by side.

    python -m benchmarks.train_throughput --device cpu --resize 67 --batch-size 64 --steps 10

The chapter's side is d2l's ``train_ch6``: a DataLoader of PIL ``Resize`` + ``ToTensor`` per image in 4 worker
processes, float32, and a host sync every batch (``float(l)`` and the accuracy). Ours is the package's own step
(``train_step``) on ``DeviceBatches``, in the precision and layout ``place`` chooses for the device. The two sides
alternate in rounds within one process so that both run under the same conditions (the chapter's workers keep
running between its rounds, so it starts each round with batches prefetched, as in training); the last line is
``ratio X.XX``, ours ÷ the chapter's images/s (median over the rounds).
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator

import torch
from torch import nn

from alexnet_explorer.config import RunConfig
from alexnet_explorer.data import (
    DeviceBatches,
    FashionMNIST,
    load_data_fashion_mnist,
    load_fashion_mnist,
    subset,
)
from alexnet_explorer.devices import (
    kept_heap,
    mixed_precision,
    move_to_device,
    resolve_device,
)
from alexnet_explorer.events import EpochEnd
from alexnet_explorer.model import alexnet
from alexnet_explorer.config import build_model
from alexnet_explorer.train import sgd, train, train_step

from .common import (
    flops_line,
    forever,
    load_average,
    machine,
    peak_rss_mib,
    peak_tflops,
    ratio_line,
    rss_mib,
    timed,
    with_torchs_layers,
)

RSS_GROWTH_LIMIT_MIB = 16  # more than this over two epochs would be a leak, not allocator noise


def chapter_steps(net: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterator, steps: int,
                  device: torch.device) -> None:
    """d2l's train_ch6 inner loop: copy each batch to the device, step, and read loss and accuracy on the host."""
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        x, y = next(batches)
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        y_hat = net(x)
        loss = loss_fn(y_hat, y)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # d2l's metric.add(l * n, accuracy(y_hat, y), n): float() of each, a host sync
            float(loss * x.shape[0]), float((y_hat.argmax(1) == y).sum())


def our_steps(net: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterator, steps: int) -> None:
    """The package's step, keeping the running sums on the device and reading them once, as train() does."""
    sums = None
    for _ in range(steps):
        x, y = next(batches)
        loss, logits = train_step(net, optimizer, x, y)
        batch = torch.stack([loss.float() * len(y), (logits.argmax(1) == y).sum().float()])
        sums = batch if sums is None else sums + batch
    sums.tolist()


def chapter_loader(data: FashionMNIST, batch_size: int, resize: int, workers: int,
                   images: int | None = None) -> torch.utils.data.DataLoader:
    """The chapter's training DataLoader, on the first ``images`` examples when given."""
    loader = load_data_fashion_mnist(batch_size, resize, data_root=data.source, num_workers=workers)[0]
    if images is None:
        return loader
    return torch.utils.data.DataLoader(torch.utils.data.Subset(loader.dataset, range(images)), batch_size,
                                       shuffle=True, num_workers=workers)


def rss_across_epochs(config: RunConfig, data: FashionMNIST, epochs: int = 4) -> list[float]:
    """Resident memory (MiB) after each epoch of the package's train() on a small subset."""
    after = []
    train(config.replace(epochs=epochs), data,
          lambda event: after.append(rss_mib()) if isinstance(event, EpochEnd) else None)
    return after


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resize", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per side per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternations of the two sides")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per side first")
    parser.add_argument("--workers", type=int, default=4, help="the chapter's DataLoader workers (d2l uses 4)")
    parser.add_argument("--epoch-images", type=int, default=1024,
                        help="subset for the one-epoch wall time and the memory check (0 skips both)")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="torch.compile our model (warm-up reported apart)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU where the table has none")
    parser.add_argument("--data-root")
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = RunConfig(batch_size=args.batch_size, resize=args.resize, device=str(device))
    data = load_fashion_mnist(args.data_root)
    peak = peak_tflops(device, args.peak_tflops)
    print(f"machine: {machine(device)}; {load_average()}")
    print(f"AlexNet at {args.resize} px, batch {args.batch_size}, on {device}: {args.rounds} rounds × "
          f"{args.steps} timed steps per side, after {args.warmup} warm-up steps")

    torch.manual_seed(0)
    chapter_net = with_torchs_layers(alexnet(args.resize)).to(device)
    chapter_opt = torch.optim.SGD(chapter_net.parameters(), lr=0.01)
    chapter_batches = forever(chapter_loader(data, args.batch_size, args.resize, args.workers))
    our_net = move_to_device(build_model(config), device)
    our_opt = sgd(our_net, config, device)
    our_data = DeviceBatches(data.train_images, data.train_labels, args.batch_size, args.resize, device,
                             shuffle=True)
    our_batches = forever(our_data)
    if args.compile:
        our_net = torch.compile(our_net)
        seconds = timed(lambda: our_steps(our_net, our_opt, our_batches, 1), device)
        print(f"torch.compile warm-up (first step, excluded from the timings): {seconds:.1f} s")

    def run_chapter(steps: int) -> None:
        chapter_steps(chapter_net, chapter_opt, chapter_batches, steps, device)

    def run_ours(steps: int, batches: Iterator = our_batches) -> None:
        with kept_heap(device):  # as train() runs its steps
            our_steps(our_net, our_opt, batches, steps)

    timed(lambda: run_chapter(args.warmup), device)  # worker start-up, oneDNN/cuDNN kernel choice
    timed(lambda: run_ours(args.warmup), device)
    rates = {"chapter": [], "ours": []}
    for round_ in range(1, args.rounds + 1):
        for side, run in (("chapter", run_chapter), ("ours", run_ours)):
            rates[side].append(args.steps * args.batch_size / timed(lambda run=run: run(args.steps), device))
        print(f"round {round_}: chapter {rates['chapter'][-1]:.1f} images/s, ours {rates['ours'][-1]:.1f} "
              f"images/s; {load_average()}", flush=True)
    chapter, ours = statistics.median(rates["chapter"]), statistics.median(rates["ours"])
    print(f"chapter (DataLoader ×{args.workers} workers, PIL per image, float32, sync every batch): "
          f"{chapter:.1f} images/s, {flops_line(chapter, args.resize, peak)}")
    math = "bf16 autocast, channels_last" if mixed_precision(device) else "float32"
    print(f"ours (DeviceBatches, train_step, {math}{', compiled' if args.compile else ''}): {ours:.1f} images/s, "
          f"{flops_line(ours, args.resize, peak)}")

    if args.epoch_images:
        steps = -(-args.epoch_images // args.batch_size)
        loader = chapter_loader(data, args.batch_size, args.resize, args.workers, args.epoch_images)
        chapter_epoch = timed(lambda: chapter_steps(chapter_net, chapter_opt, iter(loader), steps, device), device)
        tic = time.perf_counter()
        images, labels = subset(data.train_images, data.train_labels, args.epoch_images, 0)
        batches = iter(DeviceBatches(images, labels, args.batch_size, args.resize, device, shuffle=True))
        setup = time.perf_counter() - tic
        our_epoch = setup + timed(lambda: run_ours(steps, batches), device)
        print(f"one epoch of {args.epoch_images} images, pipeline start-up included, no evaluation: "
              f"chapter {chapter_epoch:.1f} s, ours {our_epoch:.1f} s")
        after = rss_across_epochs(config.replace(limit_train=args.epoch_images, limit_test=args.batch_size), data)
        growth = after[-1] - after[1]  # from epoch 2: the first epoch's end still sees the allocator settle
        verdict = "no growth" if growth <= RSS_GROWTH_LIMIT_MIB else "GROWS"
        print("RSS after each epoch of train() on the subset: " + ", ".join(f"{m:.0f}" for m in after)
              + f" MiB ({growth:+.0f} MiB from epoch 2 to {len(after)}: {verdict})")
    print(f"peak RSS: this process {peak_rss_mib():.0f} MiB, "
          f"largest finished DataLoader worker {peak_rss_mib(True):.0f} MiB")
    print(ratio_line(ours, chapter))


if __name__ == "__main__":
    main()
