"""A run's configuration as one dataclass whose fields describe themselves, and the named presets.

Each setting is described once, in its field's metadata (a ``Setting``): the command line's flags, the Train page's
form and the checks of simple ranges and choices are all made from these descriptions.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import model, pipelines
from .data import AUGMENTATIONS, TEST_SIZE, TRAIN_SIZE
from .devices import ALL_GPUS, available_devices
from .options import Option

DEVICES = ("auto", "cuda", "mps", "cpu")
SEEDS = range(-2 ** 63, 2 ** 64)  # what torch's generators take
SCHEDULES = {"constant": "constant", "cosine": "cosine"}
# What the network's fixed first layer does to the pictures before conv1, from the training images' pixels.
INPUT_NORMALISATIONS = {"none": "none", "centre": "centre (subtract the mean)",
                        "standardise": "standardise (also divide by the std)"}
# The settings' groups in the order of the Train page's columns: each group's heading, and a note after it.
GROUPS = {"Optimisation": "", "Network": "the chapter's ablations", "Data and device": ""}


@dataclass(frozen=True)
class Setting:
    """How one setting of a run is shown, offered and checked (the metadata of a RunConfig field)."""

    label: str
    group: str
    help: str
    step: float | None = None
    format: str | None = None
    placeholder: str | None = None
    min: float | None = None
    below: float | None = None  # an upper bound the value must stay under
    positive: bool = False
    # The only values it takes, read when asked (so that a new entry of model.py's tables is offered at once):
    # name -> the name a person reads.
    choices: Callable[[], Mapping[str, str]] | None = None
    # What the form lists when the setting takes other values too (the devices here; 'cuda:1' is typed on the CLI).
    offered: Callable[[], Sequence[str]] | None = None
    check: Callable[[RunConfig], None] | None = None  # a check that a range or a list of choices cannot express
    noun: str | None = None  # how error messages name it, when not by its field name

    def validate(self, name: str, config: RunConfig) -> None:
        """Raise ValueError with a one-line reason when the config's value of this setting cannot work."""
        noun, value = self.noun or name.replace("_", " "), getattr(config, name)
        if value is None and type(None) in typing.get_args(_HINTS[name]):
            return
        _check_kind(noun, value, setting_type(name))
        if self.check is not None:
            self.check(config)
        if self.choices is not None and value not in self.choices():
            raise ValueError(f"{noun} must be one of {', '.join(self.choices())}, not {value!r}")
        if self.below is not None and not self.min <= value < self.below:
            raise ValueError(f"{noun} must be in [{self.min:g}, {self.below:g}), not {value}")
        if self.min == 0 and value < 0:
            raise ValueError(f"{noun} cannot be negative, not {value}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{noun} must be at least {self.min:g}, not {value}")
        if self.positive and not value > 0:
            raise ValueError(f"{noun} must be positive, not {value}")


def _check_kind(noun: str, value: object, kind: type) -> None:
    """Raise ValueError unless the value is of the setting's kind (a config.json is typed by hand sometimes):
    a finite number, a whole number, a truth value or a word."""
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{noun} must be a number, not {value!r}")
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{noun} must be a finite number, not {value}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{noun} must be a whole number, not {value!r}")
    if kind in (bool, str) and not isinstance(value, kind):
        raise ValueError(f"{noun} must be {'true or false' if kind is bool else 'a word'}, not {value!r}")


def setting(default: object, label: str, group: str, help: str, **details: object) -> typing.Any:
    """A RunConfig field with its Setting as metadata."""
    return dataclasses.field(default=default, metadata={"setting": Setting(label, group, help, **details)})


# The network's choices as people read them; a choice missing here is shown by its name (model.py's tables hold only
# what each choice builds, so that the network module needs nothing of the package).
CHOICE_NAMES = {"alexnet": "AlexNet (the chapter's)", "lenet": "LeNet (the previous chapter's)", "relu": "ReLU",
                "max": "max pooling", "avg": "average pooling", "xavier": "xavier (the book's)",
                "pytorch-default": "PyTorch's default"}


def display_names(options: Mapping[str, object]) -> dict[str, str]:
    """A table of choices' names, each with the name a person reads."""
    return {name: option.display if isinstance(option, Option) else CHOICE_NAMES.get(name, name)
            for name, option in options.items()}


def _check_resize(config: RunConfig) -> None:
    """The network's own limits on its input size."""
    if config.network in model.NETWORKS:  # an unknown network is reported by its own setting
        model.check_input_size(config.resize, config.network)
    if config.network in pipelines.PIPELINES and config.resize != pipelines.SIDE:
        raise ValueError(f"a hand-made pipeline reads the {pipelines.SIDE}-pixel pictures themselves: input size must "
                         f"be {pipelines.SIDE}, not {config.resize}")


def _check_epochs(config: RunConfig) -> None:
    """A hand-made pipeline is fitted in one go."""
    if config.network in pipelines.PIPELINES and config.epochs != 1:
        raise ValueError(f"a hand-made pipeline is fitted in one go, not in epochs: epochs must be 1, not "
                         f"{config.epochs}")


def network_choices() -> dict[str, str]:
    """The networks and the hand-made pipelines a run may be, each with the name a person reads."""
    return display_names(model.NETWORKS) | {name: f"{pipeline.title} (hand-made)"
                                            for name, pipeline in pipelines.PIPELINES.items()}


def _check_warmup(config: RunConfig) -> None:
    """A warm-up no longer than the run."""
    if not 0 <= config.warmup_epochs <= config.epochs:
        raise ValueError(f"warm-up must be between 0 and {config.epochs} epochs, not {config.warmup_epochs}")


def _check_seed(config: RunConfig) -> None:
    """A seed torch's generators take."""
    if config.seed not in SEEDS:
        raise ValueError(f"seed must be a whole number from -2**63 to 2**64 - 1, not {config.seed}")


def _check_device(config: RunConfig) -> None:
    """A device name torch knows (whether this machine has it is checked when the run starts)."""
    if config.device not in DEVICES and not config.device.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), not {config.device!r}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a training run does."""

    epochs: int = setting(10, "epochs", "Optimisation", "passes over the training images (a hand-made pipeline is "
                          "fitted in one)", min=1, step=1, check=_check_epochs)
    batch_size: int = setting(256, "batch size", "Optimisation", "images per SGD step", min=1, step=1)
    lr: float = setting(0.01, "learning rate", "Optimisation", "SGD's step size (the peak one, with a warm-up or "
                        "a schedule)", positive=True, step=0.005, format="%g", noun="learning rate")
    momentum: float = setting(0.0, "momentum", "Optimisation", "SGD's momentum; the chapter uses none", min=0,
                              below=1, step=0.05, format="%g")
    weight_decay: float = setting(0.0, "weight decay", "Optimisation", "L2 penalty on the weights", min=0,
                                  step=1e-4, format="%g")
    network: str = setting("alexnet", "network", "Network", "the chapter's AlexNet, the previous chapter's LeNet "
                           "(two 5×5 convolutions and three dense layers, on the 28-pixel pictures themselves), or a "
                           "hand-made pipeline from before 2012 (features computed by a fixed recipe, then a linear "
                           "classifier fitted by scikit-learn; the optimisation settings do not apply to it)",
                           choices=network_choices)
    resize: int = setting(224, "input size (px)", "Network", "Fashion-MNIST's 28 px images are resized to this; the "
                          f"chapter uses 224, AlexNet takes {model.MIN_INPUT_SIZE} to {model.MAX_INPUT_SIZE}, LeNet "
                          f"{model.LENET_INPUT_SIZE} to {model.MAX_INPUT_SIZE}", step=1, check=_check_resize)
    activation: str = setting("relu", "activation", "Network", "the nonlinearity after every conv and hidden "
                              "layer; the chapter's is ReLU", choices=lambda: display_names(model.ACTIVATIONS))
    pooling: str = setting("max", "pooling", "Network", "the pooling after conv1, conv2 and conv5; the chapter's is "
                           "max", choices=lambda: display_names(model.POOLINGS))
    dropout: float = setting(0.5, "dropout", "Network", "share of fc6's and fc7's outputs dropped while training",
                             min=0.0, below=1.0, step=0.05, format="%g")
    init: str = setting("xavier", "weight init", "Network", "how the conv and fc weights start; the book's is "
                        "xavier", choices=lambda: display_names(model.INITS))
    conv1_init_scale: float = setting(1.0, "conv1 init scale", "Network", "multiplies conv1's initial weights: a "
                                      "small start lets the edges and blobs it learns stand out from the random "
                                      "noise it starts as (1: as the init makes them)", positive=True, step=0.05,
                                      format="%g")
    conv1_bias_at_zero: bool = setting(False, "conv1 bias held at 0", "Network", "conv1's biases stay at 0 instead "
                                       "of being learned: on a centred input a filter then fires wherever the picture "
                                       "looks like it, and no step can push it below zero on every picture (a filter "
                                       "that never fires never learns again)")
    conv1_handmade: bool = setting(False, "conv1 made by hand", "Network", "conv1 fixed to hand-made filters (for "
                                   "AlexNet 96: Gabor filters at 8 angles and 4 scales, differences of Gaussians, "
                                   "edges and blobs; for LeNet the first 6 of them) and never trained; the layers "
                                   "above learn as usual: is learning the first layer what matters?")
    input_normalisation: str = setting("none", "input normalisation", "Network", "a fixed first layer of the "
                                       "network, set from the training images: subtract their mean pixel (centre, as "
                                       "the AlexNet paper did), or also divide by their std (standardise, which makes "
                                       "conv1 learn about eight times faster); conv1 then sees light and dark around "
                                       "0, and none of its filters dies", choices=lambda: INPUT_NORMALISATIONS)
    augment: str = setting("none", "augmentation", "Data and device", "random changes of the training images: "
                           "flips and 2-pixel shifts, or changes like those of drawn and photographed garments (shift, "
                           "scale, rotation, flat fill or outline, stroke width, blur, contrast), which help the "
                           "network answer drawings", choices=lambda: display_names(AUGMENTATIONS))
    label_smoothing: float = setting(0.0, "label smoothing", "Data and device", "share of each target spread over "
                                     "the ten classes", min=0, below=1, step=0.05, format="%g")
    schedule: str = setting("constant", "learning-rate schedule", "Optimisation", "constant, or cosine decay to 0 "
                            "after the warm-up", choices=lambda: SCHEDULES)
    warmup_epochs: float = setting(0.0, "warm-up (epochs)", "Optimisation", "epochs over which the learning rate "
                                   "rises linearly to its peak", step=0.1, format="%g", check=_check_warmup)
    limit_train: int | None = setting(None, "training images", "Data and device", "train on a seeded random subset "
                                      "of this many images (empty: all 60,000)", min=1, step=1000,
                                      placeholder="all 60,000", noun="training images")
    limit_test: int | None = setting(None, "test images", "Data and device", "test on a seeded random subset of this "
                                     "many images (empty: all 10,000)", min=1, step=1000, placeholder="all 10,000",
                                     noun="test images")
    seed: int = setting(0, "seed", "Data and device", "seed of the initial weights, the subsets, the shuffling and "
                        "dropout", step=1, check=_check_seed)
    device: str = setting("auto", "device", "Data and device", f"{', '.join(DEVICES)}, cuda:N, or {ALL_GPUS} (every GPU, "
                          "a DDP process each)",
                          offered=lambda: ["auto", *available_devices()], check=_check_device)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError with a one-line reason for the first setting that cannot work."""
        for name, described in settings().items():
            described.validate(name, self)

    def replace(self, **changes: object) -> RunConfig:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-able form, as stored in a run's config.json."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of to_dict; unknown keys are an error so that a foreign file is not half-read."""
        if "standardise_input" in data:  # runs saved when standardising was a switch
            switch = data["standardise_input"]
            if not isinstance(switch, bool):
                raise ValueError(f"standardise input must be true or false, not {switch!r}")
            data = {key: value for key, value in data.items() if key != "standardise_input"} | {
                "input_normalisation": "standardise" if switch else "none"}
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        if isinstance(data.get("augment"), bool):  # runs saved when augmentation was a switch (flips and shifts)
            data = {**data, "augment": "flip-shift" if data["augment"] else "none"}
        return cls(**data)

    @property
    def training_images(self) -> int:
        """How many of Fashion-MNIST's training images the run learns from."""
        return min(self.limit_train or TRAIN_SIZE, TRAIN_SIZE)

    @property
    def test_images(self) -> int:
        """How many of its test images the run tests on."""
        return min(self.limit_test or TEST_SIZE, TEST_SIZE)

    def summary(self) -> str:
        """One short line for run lists: size, epochs and the chapter's ablation switches."""
        if self.network in pipelines.PIPELINES:
            parts = [pipelines.PIPELINES[self.network].title, f"{self.resize}px"]
            if pipelines.PIPELINES[self.network].kernel:
                parts.insert(1, f"{pipelines.landmarks(self.training_images):,} landmarks")
            return ", ".join(parts + ([f"{self.limit_train} train imgs"] if self.limit_train else []))
        parts = [] if self.network == "alexnet" else [model.NETWORKS[self.network].title]
        parts += [f"{self.resize}px", f"{self.epochs} ep", f"bs {self.batch_size}", f"lr {self.lr:g}",
                 self.activation, f"{self.pooling}-pool", f"dropout {self.dropout:g}", self.init]
        if self.input_normalisation != "none":
            parts.append({"centre": "centred input", "standardise": "standardised input"}[self.input_normalisation])
        if self.conv1_bias_at_zero:
            parts.append("conv1 bias held at 0")
        if self.conv1_handmade:
            parts.append("conv1 made by hand")
        if self.conv1_init_scale != 1:
            parts.append(f"conv1 start ×{self.conv1_init_scale:g}")
        if self.augment != "none":
            parts.append(f"augment {self.augment}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        if self.limit_train:
            parts.append(f"{self.limit_train} train imgs")
        return ", ".join(parts)


def settings() -> dict[str, Setting]:
    """Every setting's description by field name, in the order of the fields."""
    return {field.name: field.metadata["setting"] for field in dataclasses.fields(RunConfig)}


def setting_type(name: str) -> type:
    """The kind of value a setting takes (int, float, bool or str), whether or not it may also be None."""
    return next(kind for kind in typing.get_args(_HINTS[name]) or [_HINTS[name]] if kind is not type(None))


_HINTS = typing.get_type_hints(RunConfig)


# A conv1 made by hand has its filters at the length learned ones reach: the classroom preset's trained conv1 filters
# end at a median length of 0.19–0.23 (docs/experiments.md). At kaiming's 1.41 the layers above get inputs six times
# larger than a learned conv1 ever gives them, and the first steps at the classroom preset's rate left the network at
# chance in some runs.
HANDMADE_CONV1_LENGTH = 0.2


def build_model(config: RunConfig) -> nn.Sequential:
    """The network a run's configuration describes (a hand-made pipeline's classifier not yet fitted)."""
    if config.network in pipelines.PIPELINES:
        return pipelines.pipeline(config.network, config.resize)
    net = model.network(config.network, config.resize, config.activation, config.pooling, config.dropout, config.init,
                        conv1_scale=config.conv1_init_scale, standardise=config.input_normalisation != "none")
    if config.conv1_handmade:
        bank = pipelines.filter_bank(net.conv1.kernel_size[0], length=HANDMADE_CONV1_LENGTH)
        with torch.no_grad():
            net.conv1.weight.copy_(bank[:net.conv1.out_channels])
        net.conv1.weight.requires_grad_(False)  # SGD leaves a weight without a gradient as it is
    if config.conv1_bias_at_zero:
        with torch.no_grad():
            net.conv1.bias.zero_()  # xavier, the book's init, leaves PyTorch's random biases
        net.conv1.bias.requires_grad_(False)
    return net


def forward_macs(config: RunConfig) -> int:
    """Multiply-accumulates of one picture's forward pass through the run's network (a hand-made pipeline: its
    kernel's map and classifier's, as its features cost little beside any network)."""
    if config.network in pipelines.PIPELINES:
        return pipelines.multiply_adds(config.network, config.resize)
    return model.count_macs(config.resize, config.network)


PRESETS: dict[str, RunConfig] = {
    # The chapter exactly: 224 px, batch 256, plain SGD at 0.01 for 10 epochs, xavier init.
    "book": RunConfig(),
    # The chapter's network at a small input size, with a recipe that learns in minutes on two cores: kaiming init
    # (xavier leaves the loss flat at ln 10 for hundreds of steps), momentum, a short warm-up and cosine decay, and a
    # subset of the training set. conv1 starts at 2 % of kaiming's size, so that the edges and blobs it learns outgrow
    # its random start, and none of its filters may die: on pictures that are never negative, steps push a small filter
    # below zero everywhere and its ReLU never lets it learn again. The input is centred (the AlexNet paper's only
    # preprocessing), and conv1's bias is held at 0: learned, it drifted below 0 in every filter (median −0.08), and the
    # smallest filters then fired on almost nothing and stayed noise (87–95 of 96 alive and clean over three seeds;
    # held, 93–95 of 96 and none dead). Batches of 128 run about 1.2 times faster per picture than 64 on a CPU, and a
    # fused SGD step and a faster dropout mask about 1.1 times faster again; in bf16 (CPUs with AMX or AVX-512's bf16
    # dot products), model.Conv2d's weight gradients 1.15–1.28 times again: there 84,000 pictures take a fifth (a Xeon
    # with AMX) to two fifths (an AMD EPYC with AVX512-BF16) less than 60,000 in batches of 64 took. In float32, on
    # CPUs with neither, they take more: 6–7 % with AVX-512, 17 % with AVX2 alone, where a step costs its arithmetic
    # whatever the batch. Seen as four epochs of 21,000 rather than seven of 12,000 they reach the same full-test
    # accuracy (0.878–0.887 over the CPUs and seeds measured, with label smoothing: the curves still show the plain
    # cross-entropy) and answer drawings better (docs/filters.md, docs/shift.md).
    "classroom": RunConfig(
        epochs=4, lr=0.04, momentum=0.9, batch_size=128, resize=67, init="kaiming", conv1_init_scale=0.02,
        conv1_bias_at_zero=True, input_normalisation="centre", label_smoothing=0.1, schedule="cosine",
        warmup_epochs=0.2, limit_train=21000, limit_test=2000,
    ),
    # The previous chapter's LeNet as d2l trains it: sigmoid, average pooling, xavier init, plain SGD at 0.9, batch
    # 256, 10 epochs of the 28-pixel pictures (about a minute on two CPU cores).
    "lenet": RunConfig(network="lenet", resize=model.LENET_INPUT_SIZE, activation="sigmoid", pooling="avg",
                       dropout=0.0, lr=0.9),
    # LeNet with what AlexNet brought (ReLU, max pooling) and momentum: the same minute, a better network. A half-epoch
    # warm-up (at the full step from the first batch one seed of three killed every ReLU and stayed at chance) and a
    # cosine decay (without it the last epoch ends wherever its last large step left it: 2.6 points between seeds).
    "lenet-modern": RunConfig(network="lenet", resize=model.LENET_INPUT_SIZE, dropout=0.0, lr=0.1, momentum=0.9,
                              schedule="cosine", warmup_epochs=0.5),
    # Before 2012: features computed by a fixed recipe, a linear classifier on top, fitted on all 60,000 pictures.
    "raw-linear": RunConfig(network="raw-linear", resize=pipelines.SIDE, epochs=1),
    "hog-svm": RunConfig(network="hog-svm", resize=pipelines.SIDE, epochs=1),
    "filters-svm": RunConfig(network="filters-svm", resize=pipelines.SIDE, epochs=1),
    # The strongest of them: an RBF-kernel SVM on HOG, approximated through 2,000 landmark pictures.
    "hog-kernel-svm": RunConfig(network="hog-kernel-svm", resize=pipelines.SIDE, epochs=1),
    # Seconds on a CPU: shows the machinery (curves, checkpoints, filters) rather than learning. A half-epoch warm-up
    # and a decay at lr 0.01 take its 16 steps off chance (0.30 and 0.31 of its test images over two seeds): at a
    # constant 0.02 it ended at chance (0.10 and 0.12), and every page then said its network learned nothing.
    "smoke": RunConfig(
        epochs=2, lr=0.01, momentum=0.9, batch_size=32, resize=65, init="kaiming", schedule="cosine",
        warmup_epochs=0.5, limit_train=256, limit_test=128,
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
    "handmade-conv1": Experiment(
        "conv1 made by hand",
        "Is learning the first layer what matters? conv1 is fixed to hand-made filters (AlexNet's 96: Gabor filters, "
        "differences of Gaussians, edges and blobs; LeNet's 6 are the first of them) and never trained; every layer "
        "above it learns as usual.",
        {"conv1_handmade": True}),
    "xavier": Experiment(
        "xavier init (the book's)",
        "The book starts from xavier initialisation; the classroom preset uses kaiming, which suits ReLU.",
        {"init": "xavier", "conv1_init_scale": 1.0}),
}


def config_or_problem(values: dict[str, object]) -> tuple[RunConfig | None, str | None]:
    """The configuration these settings make, or None and the reason they cannot run."""
    try:
        return RunConfig(**values), None
    except (TypeError, ValueError) as error:
        return None, str(error)


def starting_config(preset: str, experiment: str | None = None) -> RunConfig:
    """A preset, with an experiment's change when one is named."""
    config = PRESETS[preset]
    return config.replace(**EXPERIMENTS[experiment].changes) if experiment else config


def preset_already_does(preset: str, experiment: str) -> bool:
    """Whether an experiment changes nothing in a preset (the book's init already is xavier)."""
    return starting_config(preset, experiment) == PRESETS[preset]


def run_label(preset: str, experiment: str | None = None) -> str:
    """A new run's name after its preset and experiment, e.g. 'classroom-sigmoid'."""
    return "-".join(filter(None, (preset, experiment)))
