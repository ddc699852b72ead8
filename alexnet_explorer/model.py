"""The chapter's slimmed AlexNet, and the previous chapter's LeNet, each one declarative ``nn.Sequential`` with named
layers.

This module is the one place that knows the networks: the choices a run may make (network, activation, pooling, init)
as tables from name to module, the layers' names and geometry, and how to cut a network after a layer. Like
torchvision's ``models/alexnet.py`` it imports nothing of its package: a run's settings become a network in
``config.build_model``. Both networks number their layers in one sequence (AlexNet conv1…conv5, fc6…fc8; LeNet conv1,
conv2, fc3…fc5), each activation after its layer's number (act1 after conv1), so every view reads the layers it can
show from the network itself.
"""
from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


def _xavier(module: nn.Conv2d | nn.Linear) -> None:
    nn.init.xavier_uniform_(module.weight)  # as d2l's init_cnn; biases keep PyTorch's default


def _kaiming(module: nn.Conv2d | nn.Linear) -> None:
    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    nn.init.zeros_(module.bias)


def _pytorch_default(module: nn.Conv2d | nn.Linear) -> None:
    """PyTorch already initialised the layer when it built it."""


MIN_INPUT_SIZE = 65  # AlexNet's; LeNet takes the pictures' own 28 pixels
# Twice the chapter's 224. fc6's weights grow with the square of the input (151 M of them at 448, 25 G at 5000):
# a larger input only costs memory, as Fashion-MNIST's pictures have 28 pixels to begin with.
MAX_INPUT_SIZE = 448
LENET_INPUT_SIZE = 28


def _activation_name(layer: str) -> str:
    return "act" + layer.removeprefix("conv").removeprefix("fc")


def _learned_layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, module) for name, module in net.named_children() if isinstance(module, (nn.Conv2d, nn.Linear))]


def conv_layers(net: nn.Module) -> tuple[str, ...]:
    """The network's convolutional layers, first to last (AlexNet's conv1…conv5, LeNet's conv1 and conv2)."""
    return tuple(name for name, module in _learned_layers(net) if isinstance(module, nn.Conv2d))


def inspectable_layers(net: nn.Module) -> tuple[str, ...]:
    """Every layer followed by an activation, first to last: the layers whose outputs the views show."""
    names = {name for name, _ in net.named_children()}
    return tuple(name for name, _ in _learned_layers(net) if _activation_name(name) in names)


def hidden_layers(net: nn.Module) -> tuple[str, ...]:
    """The fully connected layers followed by an activation (AlexNet's fc6 and fc7, LeNet's fc3 and fc4)."""
    return tuple(name for name in inspectable_layers(net) if name not in conv_layers(net))


def last_hidden_layer(net: nn.Module) -> str:
    """The layer just below the classes (AlexNet's fc7, LeNet's fc4; in a network without hidden layers, such as a
    hand-made pipeline, the layer before the last): the network's own features of a picture."""
    if hidden_layers(net):
        return hidden_layers(net)[-1]
    names = [name for name, _ in net.named_children()]
    return names[names.index(output_layer(net)) - 1]


def output_layer(net: nn.Module) -> str:
    """The last layer, whose units are the classes' scores (AlexNet's fc8, LeNet's fc5)."""
    return _learned_layers(net)[-1][0]


def layers_top_down(net: nn.Module) -> tuple[str, ...]:
    """Every layer with weights, from the classes down to conv1."""
    return tuple(name for name, _ in reversed(_learned_layers(net)))


class Standardise(nn.Module):
    """A fixed first layer: subtract the training images' mean pixel and divide by their std (or by 1, to centre
    alone). Its two numbers are buffers, not weights: set once before training, never learned, and saved with the
    network, so that evaluation, feature maps, explanations and Classify all give conv1 the input training gave it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(0.0))
        self.register_buffer("std", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={float(self.mean):.4f}, std={float(self.std):.4f}"


class Dropout(nn.Dropout):
    """``nn.Dropout``, with its mask drawn by ``torch.rand`` on a CPU, where torch's own draws it with ``bernoulli_``:
    about three times slower there (6 ms against 2 for 128 × 4096 units on two cores, a twentieth of a classroom
    step). The same distribution: each unit kept with probability 1 − p and scaled by 1 / (1 − p). Elsewhere (a GPU's
    fused kernel) and for p = 1 it is torch's own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu" or self.p == 1:
            return super().forward(x)
        kept_and_scaled = (torch.rand(x.shape) >= self.p).to(x.dtype).mul_(1 / (1 - self.p))
        return x * kept_and_scaled


# Output positions (7×7) up to which one matrix product gives a bf16 convolution's weight gradient faster than oneDNN
# on a CPU: 1.3–4.7 times at 3×3…7×7 (conv2…conv5 at the classroom's 67 px), slower from 8×8 on (docs/benchmarks.md).
SMALL_MAP = 49


def weight_gradient_by_product(x: torch.Tensor, grad: torch.Tensor, kernel_size: tuple[int, int],
                               padding: tuple[int, int]) -> torch.Tensor:
    """The weight gradient of a convolution at stride 1, dilation 1, in one group, padded with zeros, as one matrix
    product: the output's gradient, one row per output position, against the input's patch at each position."""
    (kernel_h, kernel_w), (pad_h, pad_w) = kernel_size, padding
    in_channels, out_channels = x.shape[1], grad.shape[1]
    # Each patch as one row ordered (kernel row, kernel column, channel): the product then comes out in the
    # channels_last order of the weight itself.
    padded = F.pad(x, (pad_w, pad_w, pad_h, pad_h)).permute(0, 2, 3, 1)
    patches = padded.unfold(1, kernel_h, 1).unfold(2, kernel_w, 1).permute(0, 1, 2, 4, 5, 3)
    rows = patches.reshape(-1, kernel_h * kernel_w * in_channels)
    grad_rows = grad.permute(0, 2, 3, 1).reshape(-1, out_channels)
    return (grad_rows.t() @ rows).view(out_channels, kernel_h, kernel_w, in_channels).permute(0, 3, 1, 2)


class _WeightGradientByProduct(torch.autograd.Function):
    """A stride-1 convolution whose backward takes the input's gradient from torch and the weight's from
    ``weight_gradient_by_product``."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, weight: torch.Tensor,
                bias: torch.Tensor | None, padding: tuple[int, int]) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.padding = padding
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    @once_differentiable
    def backward(ctx: torch.autograd.function.FunctionCtx,
                 grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias, _ = ctx.needs_input_grad
        grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad, padding=ctx.padding) if need_x else None
        grad_weight = weight_gradient_by_product(x, grad, weight.shape[2:], ctx.padding) if need_weight else None
        return grad_x, grad_weight, grad.sum((0, 2, 3)) if need_bias else None, None


class Conv2d(nn.Conv2d):
    """``nn.Conv2d``, whose weight gradient, when it learns in bfloat16 on a CPU on maps of at most SMALL_MAP
    positions, is one matrix product over the input's patches (``weight_gradient_by_product``): oneDNN's takes 1.3–4.7
    times as long there, a fifth of a classroom step. The same gradient to bf16's precision; elsewhere torch's own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._learns_by_product(x):
            return super().forward(x)
        bias = None if self.bias is None else self.bias.to(torch.bfloat16)
        return _WeightGradientByProduct.apply(x.to(torch.bfloat16), self.weight.to(torch.bfloat16), bias,
                                              self.padding)

    def _learns_by_product(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or x.dim() != 4 or not (torch.is_grad_enabled() and self.weight.requires_grad):
            return False
        if isinstance(self.padding, str) or self.padding_mode != "zeros" or self.groups != 1:
            return False
        if self.stride != (1, 1) or self.dilation != (1, 1):
            return False
        if torch.is_autocast_enabled("cpu"):  # autocast casts float32 and bf16 to its type, and leaves the rest alone
            bf16 = torch.get_autocast_dtype("cpu") == torch.bfloat16 and x.dtype in (torch.float32, torch.bfloat16)
        else:
            bf16 = x.dtype == self.weight.dtype == torch.bfloat16
        height, width = (x.shape[2 + i] + 2 * self.padding[i] - self.kernel_size[i] + 1 for i in range(2))
        return bf16 and height * width <= SMALL_MAP


# Input positions (22×22) up to which max pooling a float32 batch by way of channels_last is faster on a CPU, the copies
# there and back included: 1.35–2.1 times forward and backward at 3×3…22×22 (every pooling at 67 px), level from 26×26
# on (docs/benchmarks.md, AlexNet's 3×3 windows at stride 2).
SMALL_POOLING_MAP = 22 * 22


class _PooledInChannelsLast(torch.autograd.Function):
    """Max pooling of a batch in the usual layout, done in channels_last and handed back in the usual layout, its
    gradient too."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, *window: object) -> torch.Tensor:
        out, indices = torch.ops.aten.max_pool2d_with_indices(x.contiguous(memory_format=torch.channels_last), *window)
        ctx.save_for_backward(indices)
        ctx.input_shape, ctx.input_dtype, ctx.window = x.shape, x.dtype, window
        return out.contiguous()

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (indices,) = ctx.saved_tensors
        # The kernel reads only the input's shape and layout, so a blank stands in for the input: no copy is kept.
        shaped_as_input = torch.empty(ctx.input_shape, dtype=ctx.input_dtype, device=grad.device,
                                      memory_format=torch.channels_last)
        grad_x = torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(memory_format=torch.channels_last), shaped_as_input, *ctx.window, indices)
        return (grad_x.contiguous(), *(None,) * len(ctx.window))


def pooled_in_channels_last(x: torch.Tensor, kernel_size: int | tuple[int, int], stride: int | tuple[int, int],
                            padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
                            ceil_mode: bool = False) -> torch.Tensor:
    """Max pooling of a batch in the usual layout by way of channels_last, the result and its gradient handed back
    in the usual layout."""
    return _PooledInChannelsLast.apply(x, kernel_size, stride, padding, dilation, ceil_mode)


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d``, which pools a float32 batch in the usual layout on a CPU, on maps of at most
    SMALL_POOLING_MAP positions, in channels_last and hands it back in the usual layout: torch's kernel for the usual
    layout takes 9 ms for conv1's maps of a batch of 128 on two cores, the round trip 2 (11 against 6 with the
    gradient). The same maxima and gradients; elsewhere torch's own."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._pools_by_way_of_channels_last(x):
            return super().forward(x)
        return pooled_in_channels_last(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def _pools_by_way_of_channels_last(self, x: torch.Tensor) -> bool:
        if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 4 or self.return_indices:
            return False
        usual_layout = x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last)
        return usual_layout and x.shape[2] * x.shape[3] <= SMALL_POOLING_MAP


# Adding a choice is one line in one of these tables: the configuration, the command line and the Train page read them
# (config.CHOICE_NAMES may give it a longer name for people).
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
POOLINGS: dict[str, Callable[..., nn.Module]] = {"max": MaxPool2d, "avg": nn.AvgPool2d}
INITS: dict[str, Callable[[nn.Conv2d | nn.Linear], None]] = {
    "xavier": _xavier, "kaiming": _kaiming, "pytorch-default": _pytorch_default}


def set_input_statistics(net: nn.Sequential, mean: float, std: float) -> None:
    """Give a network's standardising first layer the training images' mean and a std (nothing without one)."""
    if isinstance(getattr(net, "standardise", None), Standardise):
        net.standardise.mean.fill_(mean)
        net.standardise.std.fill_(std)


def _features(activation: str, pooling: str) -> OrderedDict[str, nn.Module]:
    """conv1…pool5: the convolutional part, whose output side decides fc6's width."""
    act, pool = ACTIVATIONS[activation], POOLINGS[pooling]
    return OrderedDict([
        ("conv1", Conv2d(1, 96, kernel_size=11, stride=4, padding=1)), ("act1", act()),
        ("pool1", pool(kernel_size=3, stride=2)),
        ("conv2", Conv2d(96, 256, kernel_size=5, padding=2)), ("act2", act()),
        ("pool2", pool(kernel_size=3, stride=2)),
        ("conv3", Conv2d(256, 384, kernel_size=3, padding=1)), ("act3", act()),
        ("conv4", Conv2d(384, 384, kernel_size=3, padding=1)), ("act4", act()),
        ("conv5", Conv2d(384, 256, kernel_size=3, padding=1)), ("act5", act()),
        ("pool5", pool(kernel_size=3, stride=2)),
    ])


def _classifier(activation: str, flat: int, dropout: float, num_classes: int) -> OrderedDict[str, nn.Module]:
    act = ACTIVATIONS[activation]
    return OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(flat, 4096)), ("act6", act()), ("drop6", Dropout(p=dropout)),
        ("fc7", nn.Linear(4096, 4096)), ("act7", act()), ("drop7", Dropout(p=dropout)),
        ("fc8", nn.Linear(4096, num_classes)),
    ])


def _lenet_features(activation: str, pooling: str) -> OrderedDict[str, nn.Module]:
    """d2l's LeNet: two 5×5 convolutions (the first padded to keep 28×28), each followed by a 2×2 pooling."""
    act, pool = ACTIVATIONS[activation], POOLINGS[pooling]
    return OrderedDict([
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2)), ("act1", act()), ("pool1", pool(kernel_size=2, stride=2)),
        ("conv2", nn.Conv2d(6, 16, kernel_size=5)), ("act2", act()), ("pool2", pool(kernel_size=2, stride=2)),
    ])


def _lenet_classifier(activation: str, flat: int, dropout: float, num_classes: int) -> OrderedDict[str, nn.Module]:
    act = ACTIVATIONS[activation]  # d2l's LeNet has no dropout: its presets keep it at 0, where it does nothing
    return OrderedDict([
        ("flatten", nn.Flatten()),
        ("fc3", nn.Linear(flat, 120)), ("act3", act()), ("drop3", Dropout(p=dropout)),
        ("fc4", nn.Linear(120, 84)), ("act4", act()), ("drop4", Dropout(p=dropout)),
        ("fc5", nn.Linear(84, num_classes)),
    ])


@dataclass(frozen=True)
class Design:
    """What a network is made of: its convolutional part, its dense part, and the inputs it takes."""

    title: str
    features: Callable[[str, str], OrderedDict[str, nn.Module]]
    classifier: Callable[[str, int, float, int], OrderedDict[str, nn.Module]]
    min_input: int
    max_input: int
    why_min: str


NETWORKS: dict[str, Design] = {
    "alexnet": Design("AlexNet", _features, _classifier, MIN_INPUT_SIZE, MAX_INPUT_SIZE,
                      "three 3x3 stride-2 poolings after the 11x11 stride-4 convolution need at least that"),
    "lenet": Design("LeNet", _lenet_features, _lenet_classifier, LENET_INPUT_SIZE, MAX_INPUT_SIZE,
                    "LeNet was made for Fashion-MNIST's own 28-pixel pictures"),
}


def feature_shape(input_size: int, network: str = "alexnet") -> tuple[int, int, int]:
    """Channels, height and width of the last pooling layer's output for a square input, from a pass of the conv
    stack on the meta device (shapes only: no memory, no arithmetic). ValueError when the input is too small."""
    with torch.device("meta"):
        try:
            out = nn.Sequential(NETWORKS[network].features("relu", "max"))(torch.empty(1, 1, input_size, input_size))
        except RuntimeError as error:  # a pooling window larger than what is left of the picture
            raise ValueError(f"input size {input_size} leaves nothing for the last pooling layer") from error
    return tuple(out.shape[1:])


def feature_side(input_size: int, network: str = "alexnet") -> int:
    """Spatial side of the last pooling layer's output for a square input of this size."""
    return feature_shape(input_size, network)[-1]


def check_input_size(input_size: int, network: str = "alexnet") -> None:
    """Raise ValueError when the network cannot take a square input of this size."""
    design = NETWORKS[network]
    if input_size < design.min_input:
        raise ValueError(f"input size {input_size} is too small for {design.title}: the smallest size is "
                         f"{design.min_input} ({design.why_min})")
    if input_size > design.max_input:
        with torch.device("meta"):  # shapes only
            first_dense = next(layer for layer in design.classifier("relu", 1, 0.0, 10).values()
                               if isinstance(layer, nn.Linear))
        weights = math.prod(feature_shape(input_size, network)) * first_dense.out_features
        raise ValueError(
            f"input size {input_size} is too large: the largest is {design.max_input}, twice the chapter's 224 "
            f"({design.title}'s first dense layer alone would hold {weights / 1e6:,.0f} million weights, for 28-pixel "
            "pictures)"
        )


def _check_choice(setting: str, value: str, options: dict[str, Callable]) -> None:
    if value not in options:
        raise ValueError(f"{setting} must be one of {', '.join(options)}, not {value!r}")


def check_architecture(input_size: int, activation: str, pooling: str, dropout: float, init: str,
                       network: str = "alexnet") -> None:
    """Raise ValueError with a one-line reason for the first architecture setting the network cannot be built with."""
    _check_choice("network", network, NETWORKS)
    check_input_size(input_size, network)
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
    return network("alexnet", input_size, activation, pooling, dropout, init, num_classes, conv1_scale, standardise)


def lenet(
    input_size: int = LENET_INPUT_SIZE,
    activation: str = "sigmoid",
    pooling: str = "avg",
    dropout: float = 0.0,
    init: str = "xavier",
    num_classes: int = 10,
    conv1_scale: float = 1.0,
    standardise: bool = False,
) -> nn.Sequential:
    """Build d2l's LeNet (sigmoid and average pooling by default, as the listing; ReLU and max pooling make it
    modern) for 1-channel square inputs of ``input_size`` pixels."""
    return network("lenet", input_size, activation, pooling, dropout, init, num_classes, conv1_scale, standardise)


def network(
    name: str,
    input_size: int,
    activation: str,
    pooling: str,
    dropout: float,
    init: str,
    num_classes: int = 10,
    conv1_scale: float = 1.0,
    standardise: bool = False,
) -> nn.Sequential:
    """Build one of NETWORKS with these choices."""
    check_architecture(input_size, activation, pooling, dropout, init, name)
    design = NETWORKS[name]
    flat = math.prod(feature_shape(input_size, name))
    first = OrderedDict([("standardise", Standardise())] if standardise else [])
    net = nn.Sequential(first | design.features(activation, pooling)
                        | design.classifier(activation, flat, dropout, num_classes))
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
    layers = tuple(dict.fromkeys(inspectable_layers(net) + (last_hidden_layer(net),)))
    if layer not in layers:
        raise ValueError(f"layer must be one of {', '.join(layers)}, not {layer!r}")
    children = [(name, module) for name, module in net.named_children() if not isinstance(module, nn.Dropout)]
    names = [name for name, _ in children]
    cut = names.index(_activation_name(layer) if _activation_name(layer) in names else layer) + 1
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
def count_macs(input_size: int = 224, name: str = "alexnet") -> int:
    """Forward multiply-accumulates of one of NETWORKS (the chapter's AlexNet by default) for one input."""
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        net = network(name, input_size, "relu", "max", 0.0, "pytorch-default")
    return sum(macs for _, macs in layer_macs(net, input_size))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def layer_units(net: nn.Sequential, layer: str) -> int:
    """How many channels (a conv layer) or units (a fully connected one) a layer of the network has."""
    module = getattr(net, layer)
    return module.out_channels if isinstance(module, nn.Conv2d) else module.out_features
