"""What a network's layers output for 28×28 pictures: the one batched forward loop behind the evaluation, the linear
probes and the units' top images."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import to_model_input
from .model import last_hidden_layer, split_after

LOGITS = "logits"  # the network's own output, after fc8
BATCH = 256  # images per forward pass


def layer_outputs(net: nn.Sequential, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Each named layer's output after its activation (``LOGITS``: the network's output), from one pass of ``x``
    (layers in network order); dropout is left out, as it does nothing at inference."""
    outputs = {}
    rest = nn.Sequential(OrderedDict((name, module) for name, module in net.named_children()
                                     if not isinstance(module, nn.Dropout)))
    with torch.no_grad():
        for layer in layers:
            if layer == LOGITS:
                x = rest(x)
            else:
                head, rest = split_after(rest, layer)
                x = head(x)
            outputs[layer] = x
    return outputs


def in_batches(net: nn.Sequential, images: torch.Tensor, input_size: int, layers: Sequence[str],
               batch: int = BATCH) -> Iterator[tuple[int, dict[str, torch.Tensor]]]:
    """For each batch of uint8 N×1×28×28 images in turn: its first image's position and the named layers' outputs,
    on the network's device."""
    device = next(net.parameters()).device
    for start in range(0, len(images), batch):
        yield start, layer_outputs(net, to_model_input(images[start:start + batch].to(device), input_size), layers)


def _gathered(net: nn.Sequential, images: torch.Tensor, input_size: int, layers: Sequence[str],
              batch: int) -> list[torch.Tensor]:
    """Each layer's outputs for all images, flattened to rows, float32 on the CPU."""
    columns: list[list[torch.Tensor]] = [[] for _ in layers]
    for _, outputs in in_batches(net, images, input_size, layers, batch):
        for column, layer in zip(columns, layers):
            column.append(outputs[layer].flatten(1).float().cpu())
    return [torch.cat(column) if column else torch.zeros(0) for column in columns]


def extract_features(net: nn.Sequential, images: torch.Tensor, input_size: int, layer: str | None = None,
                     batch_size: int = BATCH) -> np.ndarray:
    """N×D activations of a layer (flattened, dropout off; by default the last hidden one, AlexNet's fc7) of uint8
    N×1×28×28 images."""
    return _gathered(net, images, input_size, [layer or last_hidden_layer(net)], batch_size)[0].numpy()


def features_and_logits(net: nn.Sequential, input_size: int, images: torch.Tensor, layer: str | None = None,
                        batch: int = BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer's features (by default the last hidden layer's) and the logits (float32, on the CPU) of uint8
    N×1×28×28 images, from one pass."""
    features, logits = _gathered(net, images, input_size, [layer or last_hidden_layer(net), LOGITS], batch)
    return features, logits


class OnPictures(nn.Module):
    """A network that takes [0, 1] float N×1×28×28 pictures: they are resized to its input size first (the resize is
    differentiable, so attributions land on the 28×28 pixels)."""

    def __init__(self, net: nn.Module, input_size: int):
        super().__init__()
        self.net, self.input_size = net, input_size

    def forward(self, pictures: torch.Tensor) -> torch.Tensor:
        return self.net(to_model_input(pictures, self.input_size))


def pictures_in_unit_range(images28: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 pictures (28×28 or N×1×28×28) as float N×1×28×28 in [0, 1], the input ``OnPictures`` takes."""
    images = torch.tensor(np.asarray(images28))  # a copy: the picture may be a read-only array
    return images.reshape(-1, 1, *images.shape[-2:]).float().div(255)


def peak_scaled(maps: torch.Tensor, side: int) -> np.ndarray:
    """N×H×W maps enlarged to side×side (bilinear), their negative parts cut and each scaled so that its peak is 1
    (a map of zeros stays zeros): to lay over a picture."""
    maps = F.interpolate(maps.float().cpu()[:, None], size=(side, side), mode="bilinear", align_corners=False)[:, 0]
    maps = maps.clamp(min=0)
    return (maps / maps.flatten(1).amax(dim=1).clamp(min=1e-12)[:, None, None]).numpy()
