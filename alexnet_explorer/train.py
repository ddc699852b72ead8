"""The training loop: SGD on device-resident batches, reporting through events; and the fit of a hand-made pipeline,
reporting through the same events."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import evaluation, unfamiliar
from .config import RunConfig, build_model
from .data import DeviceBatches, FashionMNIST, pixel_statistics, subset, to_model_input
from .devices import autocast, kept_heap, move_to_device, to_fast_layout
from .distributed import SINGLE, Ranks, all_sum, any_rank, device_label, rank_device, wrap
from .events import Ended, EpochEnd, Event, Progress, Started, Step
from .model import set_input_statistics
from .pipelines import PIPELINES, fitted_rows, set_classifier, set_kernel
from .runs import Checkpoint

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


def fused_step(device: torch.device) -> bool:
    """Whether SGD updates every weight in one fused kernel on this device: on a CPU it makes a classroom step about
    4 % faster (one pass over fc7's 17 M weights and their momentum instead of several). Elsewhere (MPS) torch's
    default step, as the fused one was not measured there."""
    return device.type in ("cpu", "cuda")


def sgd(model: nn.Module, config: RunConfig, device: torch.device) -> torch.optim.SGD:
    """The run's optimizer: SGD with its momentum and weight decay, fused where the device has the kernel."""
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay, fused=fused_step(device))


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
    """One SGD step on a batch; returns its cross-entropy against the labels and its logits, detached and still on
    the device (no host sync)."""
    with autocast(x.device):
        logits = net(to_fast_layout(x))
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    logits = logits.detach()
    if label_smoothing:
        # The curves show the book's loss, against the labels themselves, whatever the step minimised: the smoothed
        # loss cannot fall below the targets' own entropy (0.50 at 0.1), and would read as a network that stopped.
        return F.cross_entropy(logits.float(), y), logits
    return loss.detach(), logits


def train(config: RunConfig, data: FashionMNIST, emit: Callable[[Event], None] = lambda event: None,
          should_stop: Callable[[], bool] = lambda: False, resume: Checkpoint | None = None,
          ranks: Ranks = SINGLE) -> Ended:
    """Train AlexNet as configured, emitting events; resume from a checkpoint if given.

    With ``ranks`` of several processes (see distributed.py) this process trains its share of every batch, and
    every process returns the same result; only the leader's ``emit`` should write anything.
    """
    if config.network in PIPELINES:
        return fit_pipeline(config, data, emit, should_stop)
    device = rank_device(config.device, ranks)
    with kept_heap(device):
        return _train(config, data, device, emit, should_stop, resume, ranks)


@dataclass
class TrainingState:
    """Where training stands besides the weights: the next batch, the epoch's running sums, the time spent training,
    the last metrics, and the shuffling state that makes a resumed run take exactly the steps it would have taken."""

    epoch: int
    batch: int
    sums: torch.Tensor  # loss·n and correct answers within the epoch, of this process's images
    count: int  # images within the epoch, of all processes (kept on the host)
    train_seconds: float  # evaluation excluded
    shuffle_state: torch.Tensor  # the shuffling generator's state at the start of the epoch
    train_loss: float = math.nan
    train_acc: float = math.nan
    test_acc: float = math.nan

    @classmethod
    def start(cls, batches: DeviceBatches) -> TrainingState:
        """Before the first step of a new run."""
        return cls(0, 0, torch.zeros(2, device=batches.device), 0, 0.0, batches.generator.get_state())

    @classmethod
    def resumed(cls, checkpoint: Checkpoint, device: torch.device, ranks: Ranks) -> TrainingState:
        """Where a checkpoint left off (torch's own random state, for dropout, is restored too)."""
        torch.set_rng_state(checkpoint.torch_state)
        # The saved sums are all processes' together: the leader carries them on, the others start from zero.
        sums = checkpoint.sums.to(device) if ranks.leader else torch.zeros(2, device=device)
        return cls(checkpoint.epoch, checkpoint.batch, sums, checkpoint.count, checkpoint.train_seconds,
                   checkpoint.shuffle_state, *checkpoint.metrics)

    def to_checkpoint(self, config: RunConfig, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                      ranks: Ranks) -> Checkpoint:
        """The run's checkpoint at this point; without ``optimizer`` (a finished run) it holds no momentum, which is
        as large as the network and only needed to go on."""
        return Checkpoint(config, model.state_dict(), optimizer and optimizer.state_dict(), self.epoch, self.batch,
                          self.train_seconds, all_sum(self.sums, ranks).detach().cpu(), self.count,
                          self.shuffle_state, torch.get_rng_state(), (self.train_loss, self.train_acc, self.test_acc))

    def begin_epoch(self, epoch: int, batches: DeviceBatches) -> None:
        """Shuffle as the epoch shuffled the first time; a new epoch's sums start from zero."""
        if epoch != self.epoch:
            self.epoch, self.batch = epoch, 0
        batches.generator.set_state(self.shuffle_state)
        if self.batch == 0:
            self.sums.zero_()
            self.count = 0

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, images: int) -> None:
        """Count one step's loss and correct answers, on the device (no host sync)."""
        with torch.no_grad():
            self.sums += torch.stack([loss.float() * len(y), (logits.argmax(1) == y).sum().float()])
        self.count += images
        self.batch += 1

    def update_means(self, ranks: Ranks) -> None:
        """The epoch's running train loss and accuracy so far: the only host sync of the loop."""
        if self.count:
            self.train_loss, self.train_acc = (all_sum(self.sums, ranks) / self.count).tolist()

    def end_epoch(self, test_acc: float, batches: DeviceBatches) -> None:
        """The epoch is trained and tested: the next one starts at its first batch."""
        self.test_acc, self.epoch, self.batch = test_acc, self.epoch + 1, 0
        self.shuffle_state = batches.generator.get_state()

    def speed(self, epoch_images: int, epochs_done: int) -> float:
        """Training images per second, evaluation excluded."""
        return (epochs_done * epoch_images + self.count) / max(self.train_seconds, 1e-9)


class Clock:
    """Wall time since this session of the run began, the forecast of the rest, and laps of training time."""

    def __init__(self, first_step: int, total_steps: int) -> None:
        self.first_step, self.total_steps = first_step, total_steps
        self.started = self.lap_started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def remaining(self, step: int) -> float:
        """The rest of the run at this session's pace so far."""
        return self.elapsed() / max(1, step - self.first_step) * (self.total_steps - step)

    def lap(self) -> float:
        """Seconds since the last lap (or the start), and a new lap begins."""
        now = time.perf_counter()
        seconds, self.lap_started = now - self.lap_started, now
        return seconds


def _train(config: RunConfig, data: FashionMNIST, device: torch.device, emit: Callable[[Event], None],
           should_stop: Callable[[], bool], resume: Checkpoint | None, ranks: Ranks) -> Ended:
    torch.manual_seed(config.seed)
    model = move_to_device(build_model(config), device)
    net = wrap(model, device, ranks)  # what the steps call; ``model`` is what checkpoints and snapshots read
    optimizer = sgd(model, config, device)
    train_batches, test_batches = _batches(config, data, device, ranks)
    steps_per_epoch, images = len(train_batches), len(train_batches.images)
    total_steps = config.epochs * steps_per_epoch
    state = TrainingState.start(train_batches)
    if resume is None and config.input_normalisation != "none":  # a resumed run loads the numbers it started with
        mean, std = pixel_statistics(train_batches.images)
        set_input_statistics(model, mean, std if config.input_normalisation == "standardise" else 1.0)
    if resume is not None:
        model.load_state_dict(resume.model)
        if resume.optimizer is not None:  # a finished run given more epochs starts its momentum afresh
            optimizer.load_state_dict(resume.optimizer)
            for group in optimizer.param_groups:  # the saved groups say how the step ran where they were saved
                group["fused"] = fused_step(device)
        state = TrainingState.resumed(resume, device, ranks)
    hardware = device_label(device, ranks)
    clock = Clock(state.epoch * steps_per_epoch + state.batch, total_steps)
    emit(Started(hardware, config.epochs, state.epoch, steps_per_epoch, images, len(test_batches.images),
                 time.time(), conv1=_conv1(model)))

    points = {max(1, steps_per_epoch * k // POINTS_PER_EPOCH) for k in range(1, POINTS_PER_EPOCH + 1)}
    net.train()
    measured = None
    for epoch in range(state.epoch, config.epochs):
        state.begin_epoch(epoch, train_batches)
        clock.lap()  # the time since the last epoch's end was evaluation
        for i, (x, y) in enumerate(train_batches.starting_at(state.batch), start=state.batch):
            step = epoch * steps_per_epoch + i
            if any_rank(should_stop(), ranks):
                state.train_seconds += clock.lap()
                state.update_means(ranks)
                return _end(emit, Ended("stopped", step / steps_per_epoch, state.train_loss, state.train_acc,
                                        state.test_acc, state.speed(images, epoch), clock.elapsed(), hardware,
                                        checkpoint=state.to_checkpoint(config, model, optimizer, ranks)))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, total_steps, steps_per_epoch)
            loss, logits = train_step(net, optimizer, x, y, config.label_smoothing)
            state.add(loss, logits, y, train_batches.global_batch_size(i))
            emit(Step(epoch, i + 1, steps_per_epoch))
            if i + 1 in points:
                state.update_means(ranks)
                state.train_seconds += clock.lap()
                emit(Progress((step + 1) / steps_per_epoch, state.train_loss, state.train_acc,
                              state.speed(images, epoch), clock.elapsed(), clock.remaining(step + 1),
                              conv1=_conv1(model)))
                if not math.isfinite(state.train_loss):  # every later step would be NaN too: say why now
                    raise TrainingDiverged(config, (step + 1) / steps_per_epoch, state.train_loss)
        measured = _measured(model, config, data, epoch, images, ranks)
        state.end_epoch(evaluate(model, test_batches, ranks) if measured is None else measured.accuracy, train_batches)
        going_on = optimizer if state.epoch < config.epochs else None
        emit(EpochEnd(epoch + 1, state.train_loss, state.train_acc, state.test_acc, state.speed(images, epoch),
                      clock.elapsed(), clock.remaining((epoch + 1) * steps_per_epoch), conv1=_conv1(model),
                      checkpoint=state.to_checkpoint(config, model, going_on, ranks)))
    if measured is None and ranks.leader and images >= unfamiliar.MIN_IMAGES:  # several processes, resumed at the
        measured = evaluation.evaluate(model, config, data, config.epochs, 0)  # end, or failed before the checkpoint
    return _end(emit, Ended("finished", float(config.epochs), state.train_loss, state.train_acc, state.test_acc,
                            state.speed(images, config.epochs - 1), clock.elapsed(), hardware, evaluation=measured))


def _measured(model: nn.Module, config: RunConfig, data: FashionMNIST, epoch: int, images: int,
              ranks: Ranks) -> evaluation.Evaluation | None:
    """After the last epoch, the test set's answers and the unlike-the-training-data fit, on the training device, so
    that the app finds them ready; its accuracy is the run's last test accuracy, so that the curves, the run's status
    and "Where it errs" give one number (the test pass of the epochs before may run in bf16, this one in float32).
    None after another epoch, with too few training images for the fit, with several processes, which test their
    shares together, or when it fails: the last checkpoint is saved first, and the measurement tried again after."""
    if epoch + 1 != config.epochs or images < unfamiliar.MIN_IMAGES or ranks.distributed:
        return None
    try:
        return evaluation.evaluate(model, config, data, config.epochs, 0)
    except (ValueError, RuntimeError):  # the signal's fit, or memory
        return None


def _batches(config: RunConfig, data: FashionMNIST, device: torch.device,
             ranks: Ranks) -> tuple[DeviceBatches, DeviceBatches]:
    """The run's training and test images on the device, this process's share of each batch."""
    shard = (ranks.rank, ranks.world_size)
    train_batches = DeviceBatches(*subset(data.train_images, data.train_labels, config.limit_train, config.seed),
                                  config.batch_size, config.resize, device, shuffle=True, augment=config.augment,
                                  seed=config.seed, shard=shard)
    test_batches = DeviceBatches(*subset(data.test_images, data.test_labels, config.limit_test, config.seed),
                                 config.batch_size, config.resize, device, shard=shard)
    return train_batches, test_batches


def _conv1(model: nn.Module) -> torch.Tensor:
    """conv1's weights as the run store keeps them: float32 on the CPU, a copy."""
    return model.conv1.weight.detach().float().cpu().clone()


def _end(emit: Callable[[Event], None], event: Ended) -> Ended:
    emit(event)
    return event


FEATURE_BATCH = 2000  # pictures whose features are computed at once: a step of the progress bar
ABSENT_SCORE = -1e4  # the score of a class the training images had none of: never the answer, probability 0


def fit_pipeline(config: RunConfig, data: FashionMNIST, emit: Callable[[Event], None] = lambda event: None,
                 should_stop: Callable[[], bool] = lambda: False) -> Ended:
    """Fit a hand-made pipeline on the CPU: its fixed front's features of the training pictures, their mean and std,
    for a kernel SVM the kernel's map, and scikit-learn's linear classifier on the standardised (and mapped) features,
    one class at a time (one 'epoch' in all); then the test set, as a run. A Stop is heard between batches of
    features and between classes."""
    torch.manual_seed(config.seed)
    net = build_model(config).eval()
    images, labels = subset(data.train_images, data.train_labels, config.limit_train, config.seed)
    classes = len(labels.unique())
    if classes < 2:  # said before any work, in the form's words rather than scikit-learn's
        held = "1 training image holds" if len(labels) == 1 else f"{len(labels):,} training images hold"
        raise ValueError(f"a classifier needs training images of two classes at least, and {held} only one: choose "
                         "more training images")
    test_images, test_labels = subset(data.test_images, data.test_labels, config.limit_test, config.seed)
    batches = math.ceil(len(images) / FEATURE_BATCH)
    steps = batches + classes  # a step of the progress bar per batch of features, then per class fitted
    tic = time.perf_counter()

    def stopped() -> Ended:
        return _end(emit, Ended("stopped", 0.0, math.nan, math.nan, math.nan, 0.0, time.perf_counter() - tic, "cpu"))

    def step(done: int) -> None:
        # Steps move a terminal's bar; the app records only Progress, so it gets one too: the share done and the
        # pace of the features so far, with nothing measured yet (NaN loss and accuracy, no forecast).
        emit(Step(0, done, steps))
        elapsed = time.perf_counter() - tic
        emit(Progress(done / steps, math.nan, math.nan, min(done * FEATURE_BATCH, len(images)) / elapsed, elapsed,
                      math.nan))

    emit(Started("cpu", 1, 0, steps, len(images), len(test_images), time.time()))
    parts = []
    with torch.no_grad():
        for i, start in enumerate(range(0, len(images), FEATURE_BATCH)):
            if should_stop():
                return stopped()
            pictures = to_model_input(images[start:start + FEATURE_BATCH], config.resize)
            parts.append(net.features(pictures).double().numpy())
            step(i + 1)
    features, targets = np.concatenate(parts), labels.numpy()
    mean, std = features.mean(axis=0), features.std(axis=0)
    scaled = (features - mean) / np.where(std > 0, std, 1.0)
    recipe, inputs = PIPELINES[config.network], scaled
    if recipe.kernel:
        set_kernel(net, recipe.kernel(config.seed, scaled.shape[1], len(scaled)).fit(scaled))
        with torch.no_grad():  # the classifier learns from what the network's own layer computes
            inputs = net.kernel(torch.from_numpy(scaled).float()).double().numpy()
    if should_stop():
        return stopped()
    weight, bias = np.zeros((len(data.classes), inputs.shape[1])), np.full(len(data.classes), ABSENT_SCORE)
    for done, (label, row, row_bias) in enumerate(fitted_rows(recipe.classifier, config.seed, inputs, targets), 1):
        weight[label], bias[label] = row, row_bias
        step(batches + done)
        if done < classes and should_stop():
            return stopped()
    set_classifier(net, *(torch.as_tensor(a, dtype=torch.float32) for a in (mean, std, weight, bias)))
    seconds = time.perf_counter() - tic
    # The cross-entropy of the ten scores as the app reads any network's (a softmax), so that the curves compare
    # with a network's: an SVM's margins are large, and so is its loss read this way.
    with torch.no_grad():
        scores = net.fc(torch.from_numpy(inputs).float())
        loss, train_acc = F.cross_entropy(scores, labels).item(), (scores.argmax(1) == labels).float().mean().item()
    measured = _measured(net, config, data, 0, len(images), SINGLE)
    test_acc = measured.accuracy if measured is not None else evaluate(
        net, DeviceBatches(test_images, test_labels, config.batch_size, config.resize, torch.device("cpu")))
    speed = len(images) / seconds
    metrics = (loss, train_acc, test_acc)
    emit(Progress(1.0, loss, train_acc, speed, time.perf_counter() - tic, 0.0))  # the curves' one point
    emit(EpochEnd(1, *metrics, speed, time.perf_counter() - tic, 0.0,
                  checkpoint=Checkpoint(config, net.state_dict(), None, 1, 0, seconds, metrics=metrics)))
    if measured is None and len(images) >= unfamiliar.MIN_IMAGES:  # failed before the checkpoint: once more
        measured = evaluation.evaluate(net, config, data, 1, 0)
    return _end(emit, Ended("finished", 1.0, *metrics, speed, time.perf_counter() - tic, "cpu", evaluation=measured))

