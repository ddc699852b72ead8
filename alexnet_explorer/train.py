"""The training loop: SGD on device-resident batches, reporting through events."""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import evaluation, unfamiliar
from .config import RunConfig, build_model
from .data import DeviceBatches, FashionMNIST, subset
from .devices import autocast, kept_heap, move_to_device, to_fast_layout
from .distributed import SINGLE, Ranks, all_sum, any_rank, device_label, rank_device, wrap
from .events import Ended, EpochEnd, Event, Progress, Started, Step
from .runs import CHECKPOINT_FORMAT

POINTS_PER_EPOCH = 5  # as d2l's Animator: five train-loss/acc points per epoch


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite: the steps were too large for the network to learn."""

    def __init__(self, config: RunConfig, epoch: float, loss: float) -> None:
        advice = f"try a smaller learning rate than {config.lr:g}"
        if config.momentum:
            advice += f" or less momentum than {config.momentum:g}"
        super().__init__(f"the training loss became {loss} at epoch {epoch:.1f}, so the network stopped learning: "
                         f"{advice}")


def learning_rate(config: RunConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """Learning rate at a global step: linear warm-up, then constant or cosine decay to zero."""
    warmup = round(config.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    if config.schedule == "cosine":
        progress = (step - warmup) / max(1, total_steps - warmup)
        return config.lr * 0.5 * (1 + math.cos(math.pi * progress))
    return config.lr


def evaluate(net: nn.Module, batches: DeviceBatches, ranks: Ranks = SINGLE) -> float:
    """Accuracy over all batches (of all ranks), in eval mode (dropout off); the model's mode is restored."""
    was_training = net.training
    net.eval()
    correct = torch.zeros((), device=batches.device)
    with torch.no_grad(), autocast(batches.device):
        for x, y in batches:
            correct += (net(to_fast_layout(x)).argmax(1) == y).sum()
    net.train(was_training)
    return all_sum(correct, ranks).item() / len(batches.images)


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               label_smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on a batch; returns the loss and logits, detached and still on the device (no host sync)."""
    with autocast(x.device):
        logits = net(to_fast_layout(x))
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()


def train(config: RunConfig, data: FashionMNIST, emit: Callable[[Event], None] = lambda event: None,
          should_stop: Callable[[], bool] = lambda: False, resume: dict | None = None, ranks: Ranks = SINGLE) -> Ended:
    """Train AlexNet as configured, emitting events; resume from a checkpoint dict if given.

    With ``ranks`` of several processes (see distributed.py) this process trains its share of every batch, and
    every process returns the same result; only the leader's ``emit`` should write anything.
    """
    device = rank_device(config.device, ranks)
    with kept_heap(device):
        return _train(config, data, device, emit, should_stop, resume, ranks)


def _train(config: RunConfig, data: FashionMNIST, device: torch.device, emit: Callable[[Event], None],
           should_stop: Callable[[], bool], resume: dict | None, ranks: Ranks) -> Ended:
    torch.manual_seed(config.seed)
    model = move_to_device(build_model(config), device)
    net = wrap(model, device, ranks)  # what the steps call; ``model`` is what checkpoints and snapshots read
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)
    shard = (ranks.rank, ranks.world_size)
    train_batches = DeviceBatches(*subset(data.train_images, data.train_labels, config.limit_train, config.seed),
                                  config.batch_size, config.resize, device, shuffle=True, augment=config.augment,
                                  seed=config.seed, shard=shard)
    test_batches = DeviceBatches(*subset(data.test_images, data.test_labels, config.limit_test, config.seed),
                                 config.batch_size, config.resize, device, shard=shard)
    hardware = device_label(device, ranks)
    steps_per_epoch = len(train_batches)
    total_steps = config.epochs * steps_per_epoch

    start_epoch, start_batch, train_seconds = 0, 0, 0.0
    train_loss = train_acc = test_acc = float("nan")
    # loss·n and correct within the epoch, of this rank's images; n, over all ranks, stays on the host
    sums, count = torch.zeros(2, device=device), 0
    epoch_generator_state = train_batches.generator.get_state()
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        start_epoch, start_batch, train_seconds = resume["epoch"], resume["batch"], resume["train_seconds"]
        count = resume["count"]
        if ranks.leader:  # the saved sums are all ranks' together: the leader carries them on
            sums = resume["sums"].to(device)
        epoch_generator_state = resume["shuffle_state"]
        torch.set_rng_state(resume["torch_state"])
        train_loss, train_acc, test_acc = resume["metrics"]

    def checkpoint(epoch: int, batch: int) -> dict:
        return {"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "epoch": epoch, "batch": batch,
                "train_seconds": train_seconds, "sums": all_sum(sums, ranks).detach().cpu(), "count": count,
                "shuffle_state": epoch_generator_state, "torch_state": torch.get_rng_state(),
                "metrics": [train_loss, train_acc, test_acc]}

    def conv1() -> torch.Tensor:
        return model.conv1.weight.detach().float().cpu().clone()

    started = time.perf_counter()
    first_step = start_epoch * steps_per_epoch + start_batch
    emit(Started(hardware, config.epochs, start_epoch, steps_per_epoch, len(train_batches.images),
                 len(test_batches.images), time.time(), conv1=conv1()))

    def timing(step: int, epoch: int) -> tuple[float, float, float]:
        """Elapsed and remaining wall time, and training examples per second (evaluation excluded)."""
        elapsed = time.perf_counter() - started
        remaining = elapsed / max(1, step - first_step) * (total_steps - step)
        seen = epoch * len(train_batches.images) + count
        return elapsed, remaining, seen / max(train_seconds, 1e-9)

    points = {max(1, steps_per_epoch * k // POINTS_PER_EPOCH) for k in range(1, POINTS_PER_EPOCH + 1)}
    net.train()
    for epoch in range(start_epoch, config.epochs):
        train_batches.generator.set_state(epoch_generator_state)
        first = start_batch if epoch == start_epoch else 0
        if first == 0:
            sums.zero_()
            count = 0
        tic = time.perf_counter()
        for i, (x, y) in enumerate(train_batches.starting_at(first), start=first):
            step = epoch * steps_per_epoch + i
            if any_rank(should_stop(), ranks):
                train_seconds += time.perf_counter() - tic
                if count:
                    train_loss, train_acc = (all_sum(sums, ranks) / count).tolist()
                elapsed, _, speed = timing(step, epoch)
                return _end(emit, "stopped", step / steps_per_epoch, train_loss, train_acc, test_acc, speed,
                            elapsed, hardware, checkpoint(epoch, i))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, total_steps, steps_per_epoch)
            loss, logits = train_step(net, optimizer, x, y, config.label_smoothing)
            with torch.no_grad():
                sums += torch.stack([loss.float() * len(y), (logits.argmax(1) == y).sum().float()])
            count += train_batches.global_batch_size(i)
            emit(Step(epoch, i + 1, steps_per_epoch))
            if i + 1 in points:
                train_loss, train_acc = (all_sum(sums, ranks) / count).tolist()  # the only host sync of the loop
                train_seconds += time.perf_counter() - tic
                tic = time.perf_counter()
                elapsed, remaining, speed = timing(step + 1, epoch)
                emit(Progress((step + 1) / steps_per_epoch, train_loss, train_acc, speed, elapsed, remaining,
                              conv1=conv1()))
                if not math.isfinite(train_loss):  # every later step would be NaN too: say why now
                    raise TrainingDiverged(config, (step + 1) / steps_per_epoch, train_loss)
        test_acc = evaluate(model, test_batches, ranks)
        epoch_generator_state = train_batches.generator.get_state()
        elapsed, remaining, speed = timing((epoch + 1) * steps_per_epoch, epoch)
        emit(EpochEnd(epoch + 1, train_loss, train_acc, test_acc, speed, elapsed, remaining,
                      conv1=conv1(), checkpoint=checkpoint(epoch + 1, 0)))
    elapsed, _, speed = timing(total_steps, config.epochs - 1)
    # The test set's answers and the unlike-the-training-data fit, on the training device: the app finds them ready.
    fits = len(train_batches.images) >= unfamiliar.MIN_IMAGES
    measured = evaluation.evaluate(model, config, data, config.epochs, 0, device) if ranks.leader and fits else None
    return _end(emit, "finished", float(config.epochs), train_loss, train_acc, test_acc, speed, elapsed, hardware,
                measured=measured)


def _end(emit: Callable[[Event], None], status: str, epoch: float, loss: float, acc: float, test_acc: float,
         speed: float, elapsed: float, hardware: str, checkpoint: dict | None = None,
         measured: evaluation.Evaluation | None = None) -> Ended:
    event = Ended(status, epoch, loss, acc, test_acc, speed, elapsed, hardware, checkpoint=checkpoint,
                  evaluation=measured)
    emit(event)
    return event
