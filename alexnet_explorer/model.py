"""The chapter's slimmed AlexNet as one declarative ``nn.Sequential`` with named layers.

This module is the one place that knows the network: the choices a run may make (activation, pooling, init) as
tables from name to module, the layers' names and geometry, and how to cut the network after a layer. Like
torchvision's ``models/alexnet.py`` it imports nothing of its package: a run's settings become a network in
``config.build_model``.
"""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn


def _xavier(module: nn.Conv2d | nn.Linear) -> None:
    nn.init.xavier_uniform_(module.weight)  # as d2l's init_cnn; biases keep PyTorch's default


def _kaiming(module: nn.Conv2d | nn.Linear) -> None:
    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    nn.init.zeros_(module.bias)


def _pytorch_default(module: nn.Conv2d | nn.Linear) -> None:
    """PyTorch already initialised the layer when it built it."""


# Adding a choice is one line in one of these tables: the configuration, the command line and the Train page read them
# (config.CHOICE_NAMES may give it a longer name for people).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
POOLINGS: dict[str, Callable[..., nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
INITS: dict[str, Callable[[nn.Conv2d | nn.Linear], None]] = {
    "xavier": _xavier, "kaiming": _kaiming, "pytorch-default": _pytorch_default}

MIN_INPUT_SIZE = 65
# Twice the chapter's 224. fc6's weights grow with the square of the input (151 M of them at 448, 25 G at 5000):
# a larger input only costs memory, as Fashion-MNIST's pictures have 28 pixels to begin with.
MAX_INPUT_SIZE = 448
CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
HIDDEN_LAYERS = ("fc6", "fc7")
INSPECTABLE_LAYERS = CONV_LAYERS + HIDDEN_LAYERS  # every layer followed by an activation


def _activation_name(layer: str) -> str:
    return "act" + layer.removeprefix("conv").removeprefix("fc")


class Standardise(nn.Module):
    """A fixed first layer: subtract the training images' mean pixel and divide by their std. Its two numbers are
    buffers, not weights: set once before training, never learned, and saved with the network, so that evaluation,
    feature maps, explanations and Classify all give conv1 the input training gave it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.0))
        self.register_buffer("std", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={float(self.mean):.4f}, std={float(self.std):.4f}"


def set_input_statistics(net: nn.Sequential, mean: float, std: float) -> None:
    """Give a network's standardising first layer the training images' mean and std (nothing without one)."""
    if isinstance(getattr(net, "standardise", None), Standardise):
        net.standardise.mean.fill_(mean)
        net.standardise.std.fill_(std)


def _features(activation: str, pooling: str) -> OrderedDict[str, nn.Module]:
    """conv1…pool5: the convolutional part, whose output side decides fc6's width."""
    act, pool = ACTIVATIONS[activation], POOLINGS[pooling]
    return OrderedDict([
        ("conv1", nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1)), ("act1", act()),
        ("pool1", pool(kernel_size=3, stride=2)),
        ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2)), ("act2", act()),
        ("pool2", pool(kernel_size=3, stride=2)),
        ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)), ("act3", act()),
        ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)), ("act4", act()),
        ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)), ("act5", act()),
        ("pool5", pool(kernel_size=3, stride=2)),
    ])


def _classifier(activation: str, flat: int, dropout: float, num_classes: int) -> OrderedDict[str, nn.Module]:
    act = ACTIVATIONS[activation]
    return OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(flat, 4096)), ("act6", act()), ("drop6", nn.Dropout(p=dropout)),
        ("fc7", nn.Linear(4096, 4096)), ("act7", act()), ("drop7", nn.Dropout(p=dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ])


def feature_shape(input_size: int) -> tuple[int, int, int]:
    """Channels, height and width of pool5's output for a square input, from a pass of the conv stack on the meta
    device (shapes only: no memory, no arithmetic). ValueError when the input is too small for the stack."""
    with torch.device("meta"):
        try:
            out = nn.Sequential(_features("relu", "max"))(torch.empty(1, 1, input_size, input_size))
        except RuntimeError as error:  # a pooling window larger than what is left of the picture
            raise ValueError(f"input size {input_size} leaves nothing for the last pooling layer") from error
    return tuple(out.shape[1:])


def feature_side(input_size: int) -> int:
    """Spatial side of the last pooling layer's output for a square input of this size."""
    return feature_shape(input_size)[-1]


def check_input_size(input_size: int) -> None:
    """Raise ValueError when the network cannot take a square input of this size."""
    if input_size < MIN_INPUT_SIZE:
        raise ValueError(
            f"input size {input_size} is too small for AlexNet: the smallest size is {MIN_INPUT_SIZE} "
            f"(three 3x3 stride-2 poolings after the 11x11 stride-4 convolution need at least that)"
        )
    if input_size > MAX_INPUT_SIZE:
        fc6_weights = math.prod(feature_shape(input_size)) * 4096
        raise ValueError(
            f"input size {input_size} is too large: the largest is {MAX_INPUT_SIZE}, twice the chapter's 224 "
            f"(fc6 alone would hold {fc6_weights / 1e6:,.0f} million weights, for 28-pixel pictures)"
        )


def _check_choice(setting: str, value: str, options: dict[str, Callable]) -> None:
    if value not in options:
        raise ValueError(f"{setting} must be one of {', '.join(options)}, not {value!r}")


def check_architecture(input_size: int, activation: str, pooling: str, dropout: float, init: str) -> None:
    """Raise ValueError with a one-line reason for the first architecture setting the network cannot be built with."""
    check_input_size(input_size)
    _check_choice("activation", activation, ACTIVATIONS)
    _check_choice("pooling", pooling, POOLINGS)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout}")
    _check_choice("init", init, INITS)


def alexnet(
    input_size: int = 224,
    activation: str = "relu",
    pooling: str = "max",
    dropout: float = 0.5,
    init: str = "xavier",
    num_classes: int = 10,
    conv1_scale: float = 1.0,
    standardise: bool = False,
) -> nn.Sequential:
    """Build the d2l AlexNet for 1-channel square inputs of ``input_size`` pixels (``standardise``: with a fixed
    first layer that centres and scales the input, see ``Standardise``)."""
    check_architecture(input_size, activation, pooling, dropout, init)
    flat = math.prod(feature_shape(input_size))
    first = OrderedDict([("standardise", Standardise())] if standardise else [])
    net = nn.Sequential(first | _features(activation, pooling) | _classifier(activation, flat, dropout, num_classes))
    initialize(net, init)
    with torch.no_grad():
        net.conv1.weight.mul_(conv1_scale)
    return net


def initialize(net: nn.Module, init: str) -> None:
    """Re-initialise conv and linear weights the way the chapter does (xavier) or an alternative."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            INITS[init](module)


def split_after(net: nn.Sequential, layer: str) -> tuple[nn.Sequential, nn.Sequential]:
    """The network cut after ``layer``'s activation: the layers up to that output, and the rest.

    Both halves share the network's modules (no copy, no hooks, no mode switch), so concurrent callers of one shared
    network never see each other's tensors. Dropout is left out of both: they are for inference, where it does nothing.
    """
    if layer not in INSPECTABLE_LAYERS:
        raise ValueError(f"layer must be one of {', '.join(INSPECTABLE_LAYERS)}, not {layer!r}")
    children = [(name, module) for name, module in net.named_children() if not isinstance(module, nn.Dropout)]
    cut = [name for name, _ in children].index(_activation_name(layer)) + 1
    return nn.Sequential(OrderedDict(children[:cut])), nn.Sequential(OrderedDict(children[cut:]))


def with_own_relus(net: nn.Sequential) -> nn.Sequential:
    """The same network with ReLU modules of its own: the weights are shared, the computation is the same.

    Guided backpropagation (Captum's ``GuidedBackprop``) hooks every ReLU module of the network it is given; on fresh
    ReLUs those hooks touch nothing that another session's network runs through."""
    return nn.Sequential(OrderedDict((name, nn.ReLU() if isinstance(module, nn.ReLU) else module)
                                     for name, module in net.named_children()))


def layer_output_shapes(net: nn.Sequential, input_size: int) -> list[tuple[str, tuple[int, ...]]]:
    """Name and output shape (without batch) of every layer for one input of this size."""
    shapes = []
    x = torch.zeros(1, 1, input_size, input_size, device=next(net.parameters()).device)
    with torch.no_grad():
        for name, layer in net.named_children():
            x = layer(x)
            shapes.append((name, tuple(x.shape[1:])))
    return shapes


def layer_macs(net: nn.Sequential, input_size: int) -> list[tuple[str, int]]:
    """Multiply-accumulates of each conv and linear layer for one input (bias adds, activations, pooling left out)."""
    shapes = dict(layer_output_shapes(net, input_size))
    # every output element of a conv or linear layer is one dot product as long as a kernel (weight[0])
    return [(name, math.prod(shapes[name]) * layer.weight[0].numel()) for name, layer in net.named_children()
            if isinstance(layer, (nn.Conv2d, nn.Linear))]


@functools.cache  # a meta network is built once per size: the pages ask for it as they draw
def count_macs(input_size: int = 224) -> int:
    """Forward multiply-accumulates of the chapter's AlexNet for one input of this size."""
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        net = alexnet(input_size, init="pytorch-default")
    return sum(macs for _, macs in layer_macs(net, input_size))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def layer_units(net: nn.Sequential, layer: str) -> int:
    """How many channels (a conv layer) or units (a fully connected one) a layer of the network has."""
    module = getattr(net, layer)
    return module.out_channels if layer in CONV_LAYERS else module.out_features
