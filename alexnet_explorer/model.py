"""The chapter's slimmed AlexNet as one declarative ``nn.Sequential`` with named layers."""
from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

MIN_INPUT_SIZE = 65
# Twice the chapter's 224. fc6's weights grow with the square of the input (151 M of them at 448, 25 G at 5000):
# a larger input only costs memory, as Fashion-MNIST's pictures have 28 pixels to begin with.
MAX_INPUT_SIZE = 448
ACTIVATIONS = ("relu", "sigmoid")
POOLINGS = ("max", "avg")
INITS = ("xavier", "kaiming", "pytorch-default")
CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def _conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def feature_side(input_size: int) -> int:
    """Spatial side of the last pooling layer's output for a square input of this size."""
    side = _conv_out(input_size, 11, stride=4, padding=1)  # conv1
    side = _conv_out(side, 3, stride=2)                    # pool1
    side = _conv_out(side, 3, stride=2)                    # pool2 (conv2..5 keep the size)
    return _conv_out(side, 3, stride=2)                    # pool5


def check_input_size(input_size: int) -> None:
    """Raise ValueError when the network cannot take a square input of this size."""
    if input_size < MIN_INPUT_SIZE:
        raise ValueError(
            f"input size {input_size} is too small for AlexNet: the smallest size is {MIN_INPUT_SIZE} "
            f"(three 3x3 stride-2 poolings after the 11x11 stride-4 convolution need at least that)"
        )
    if input_size > MAX_INPUT_SIZE:
        fc6_weights = 256 * feature_side(input_size) ** 2 * 4096
        raise ValueError(
            f"input size {input_size} is too large: the largest is {MAX_INPUT_SIZE}, twice the chapter's 224 "
            f"(fc6 alone would hold {fc6_weights / 1e6:,.0f} million weights, for 28-pixel pictures)"
        )


def alexnet(
    input_size: int = 224,
    activation: str = "relu",
    pooling: str = "max",
    dropout: float = 0.5,
    init: str = "xavier",
    num_classes: int = 10,
) -> nn.Sequential:
    """Build the d2l AlexNet for 1-channel square inputs of ``input_size`` pixels."""
    check_input_size(input_size)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout}")

    act = nn.ReLU if activation == "relu" else nn.Sigmoid
    pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
    flat = 256 * feature_side(input_size) ** 2
    net = nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1)), ("act1", act()),
        ("pool1", pool(kernel_size=3, stride=2)),
        ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2)), ("act2", act()),
        ("pool2", pool(kernel_size=3, stride=2)),
        ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)), ("act3", act()),
        ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1)), ("act4", act()),
        ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1)), ("act5", act()),
        ("pool5", pool(kernel_size=3, stride=2)),
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(flat, 4096)), ("act6", act()), ("drop6", nn.Dropout(p=dropout)),
        ("fc7", nn.Linear(4096, 4096)), ("act7", act()), ("drop7", nn.Dropout(p=dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))
    initialize(net, init)
    return net


def initialize(net: nn.Module, init: str) -> None:
    """Re-initialise conv and linear weights the way the chapter does (xavier) or an alternative."""
    if init == "pytorch-default":
        return
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if init == "xavier":
                nn.init.xavier_uniform_(module.weight)  # as d2l's init_cnn; biases keep PyTorch's default
            else:
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)


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


def count_macs(input_size: int = 224) -> int:
    """Forward multiply-accumulates of the chapter's AlexNet for one input of this size."""
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        net = alexnet(input_size, init="pytorch-default")
    return sum(macs for _, macs in layer_macs(net, input_size))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
