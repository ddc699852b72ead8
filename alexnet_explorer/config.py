"""A run's configuration as one dataclass, and the named presets."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .model import check_architecture

DEVICES = ("auto", "cuda", "mps", "cpu")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a training run does."""

    epochs: int = 10
    lr: float = 0.01
    momentum: float = 0.0
    weight_decay: float = 0.0
    batch_size: int = 256
    resize: int = 224
    activation: str = "relu"
    pooling: str = "max"
    dropout: float = 0.5
    init: str = "xavier"
    augment: bool = False
    label_smoothing: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    limit_train: int | None = None
    limit_test: int | None = None
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError with a one-line reason for the first setting that cannot work."""
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, not {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, not {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), not {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"weight decay cannot be negative, not {self.weight_decay}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        check_architecture(self.resize, self.activation, self.pooling, self.dropout, self.init)
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label smoothing must be in [0, 1), not {self.label_smoothing}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warm-up must be between 0 and {self.epochs} epochs, not {self.warmup_epochs}")
        for name in ("limit_train", "limit_test"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be at least 1, not {value}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), not {self.device!r}")

    def replace(self, **changes: object) -> RunConfig:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able form, as stored in a run's config.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of to_dict; unknown keys are an error so that a foreign file is not half-read."""
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    def summary(self) -> str:
        """One short line for run lists: size, epochs and the chapter's ablation switches."""
        parts = [f"{self.resize}px", f"{self.epochs} ep", f"bs {self.batch_size}", f"lr {self.lr:g}",
                 self.activation, f"{self.pooling}-pool", f"dropout {self.dropout:g}", self.init]
        if self.augment:
            parts.append("augment")
        if self.limit_train:
            parts.append(f"{self.limit_train} train imgs")
        return ", ".join(parts)


PRESETS: dict[str, RunConfig] = {
    # The chapter exactly: 224 px, batch 256, plain SGD at 0.01 for 10 epochs, xavier init.
    "book": RunConfig(),
    # The chapter's network at a small input size, with a recipe that learns in minutes on two cores:
    # kaiming init (xavier leaves the loss flat at ln 10 for hundreds of steps), momentum, a short warm-up
    # and cosine decay, and a subset of the training set.
    "classroom": RunConfig(
        epochs=4, lr=0.02, momentum=0.9, batch_size=64, resize=67, init="kaiming", schedule="cosine",
        warmup_epochs=0.2, limit_train=12000, limit_test=2000,
    ),
    # Seconds on a CPU: shows the machinery (curves, checkpoints, filters) rather than learning.
    "smoke": RunConfig(
        epochs=2, lr=0.02, momentum=0.9, batch_size=32, resize=65, init="kaiming", limit_train=256, limit_test=128,
    ),
}


@dataclass(frozen=True)
class Experiment:
    """One of the chapter's claims, tested by changing one setting of a preset and comparing the two runs."""

    title: str
    claim: str
    changes: dict[str, object]


# The choices the chapter makes for AlexNet, each undone in turn: train the preset, then its variant, and overlay them.
EXPERIMENTS: dict[str, Experiment] = {
    "sigmoid": Experiment(
        "sigmoid instead of ReLU",
        "AlexNet replaced LeNet's sigmoid with ReLU, whose gradient does not vanish when its input is large, so "
        "training gets going sooner.", {"activation": "sigmoid"}),
    "avg-pool": Experiment(
        "average instead of max pooling",
        "AlexNet keeps the strongest response of each window (max pooling) where LeNet averaged them.",
        {"pooling": "avg"}),
    "no-dropout": Experiment(
        "no dropout",
        "AlexNet drops half of fc6's and fc7's outputs at random while training, to keep its huge fully connected "
        "layers from memorising the training set: watch the gap between train acc and test acc.", {"dropout": 0.0}),
    "xavier": Experiment(
        "xavier init (the book's)",
        "The book starts from xavier initialisation; the classroom preset uses kaiming, which suits ReLU.",
        {"init": "xavier"}),
}
