"""What each unit of the network responds to: the test images that excite it most, where in each image, and what in
each made it fire (guided backpropagation).

Ranking all test images for every unit of every layer takes one pass over the test set, so it is done once per
checkpoint and kept in the run's folder (``RunDir.top_images_dir``).
"""
from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from captum.attr import GuidedBackprop
from torch import nn

from .activations import OnPictures, in_batches, layer_outputs, peak_scaled, pictures_in_unit_range
from .data import to_model_input
from .model import conv_layers, inspectable_layers, split_after, with_own_relus
from .runs import RunDir, write_atomically

TOP = 9
RESPONSES_FORMAT = "alexnet-explorer-responses/1"
BATCH = 128  # images per forward pass: conv1's maps of a batch at 224 px take about 140 MB


def unit_strengths(output: torch.Tensor) -> torch.Tensor:
    """N×units: how strongly each image excites each unit (a conv channel: at its strongest place)."""
    return output.flatten(2).amax(dim=2) if output.ndim == 4 else output


@dataclass(frozen=True)
class TopImages:
    """For every layer, each unit's TOP test images, strongest first: their indices and the unit's response."""

    indices: dict[str, torch.Tensor]  # layer → units × TOP indices into the test set
    values: dict[str, torch.Tensor]  # layer → units × TOP responses
    images: int  # how many test images were ranked


def rank_images(net: nn.Sequential, images: torch.Tensor, input_size: int, top: int = TOP, batch: int = BATCH,
                progress: Callable[[int, int], None] = lambda done, total: None) -> TopImages:
    """The ``top`` of uint8 N×1×28×28 images that excite each unit of every inspectable layer most (equal responses:
    the earlier image first); ``progress`` hears (images done, images) after each batch."""
    indices: dict[str, torch.Tensor] = {}
    values: dict[str, torch.Tensor] = {}
    for start, outputs in in_batches(net, images, input_size, inspectable_layers(net), batch):
        for layer, output in outputs.items():
            strengths = unit_strengths(output).T.float().cpu()  # units × images of this batch
            numbers = torch.arange(start, start + len(output)).expand_as(strengths)
            if layer in values:  # the kept ones come first: their indices are smaller
                strengths, numbers = torch.cat([values[layer], strengths], 1), torch.cat([indices[layer], numbers], 1)
            order = torch.sort(strengths, dim=1, descending=True, stable=True).indices[:, :top]
            values[layer], indices[layer] = strengths.gather(1, order), numbers.gather(1, order)
        progress(min(start + batch, len(images)), len(images))
    return TopImages(indices, values, len(images))


def strongest_units(ranking: TopImages, layer: str, count: int) -> list[int]:
    """The ``count`` units of a layer that a test image excites most (by their strongest response; equal ones: the
    lower unit first), leaving out those no test image excites."""
    strongest = ranking.values[layer][:, 0]
    order = torch.sort(strongest, descending=True, stable=True).indices[:count]
    return [int(unit) for unit in order if strongest[unit] > 0]


def unit_maps(net: nn.Sequential, images: torch.Tensor, input_size: int, layer: str, unit: int) -> np.ndarray | None:
    """K×28×28 maps in [0, 1] of where a conv channel responds in each of K uint8 images more than it does to an
    empty black picture (each scaled to its own peak), or None for a fully connected unit, which has no place. A
    channel whose bias alone excites it responds to black too: its map, not less that of black, would tint the whole
    background."""
    if layer not in conv_layers(net):
        return None
    black = torch.zeros_like(images[:1])
    x = to_model_input(torch.cat([black, images]).to(next(net.parameters()).device), input_size)
    layers = inspectable_layers(net)
    maps = layer_outputs(net, x, layers[:layers.index(layer) + 1])[layer][:, unit]
    return peak_scaled(maps[1:] - maps[:1], images.shape[-1])


def unit_projections(net: nn.Sequential, images: torch.Tensor, input_size: int, layer: str,
                     unit: int) -> np.ndarray:
    """K×28×28 guided-backpropagation projections (Captum's ``GuidedBackprop``) of the unit's response to each of K
    uint8 images back to its pixels, a conv channel's at its strongest place (Zeiler & Fergus showed AlexNet's units
    so): the strokes it answers to. Signed, each scaled so that its largest magnitude is 1."""
    head, _ = split_after(net, layer)
    on_pictures = OnPictures(with_own_relus(head), input_size)
    pixels = pictures_in_unit_range(images.cpu()).to(next(net.parameters()).device)
    if layer in conv_layers(net):
        with torch.no_grad():
            maps = on_pictures(pixels)[:, unit]
        strongest = maps.flatten(1).argmax(dim=1).tolist()
        targets = [(unit, *divmod(place, maps.shape[-1])) for place in strongest]
    else:
        targets = [unit] * len(images)
    projections = GuidedBackprop(on_pictures).attribute(pixels.requires_grad_(), target=targets)[:, 0]
    projections = projections.detach().double().cpu()
    return (projections / projections.flatten(1).abs().amax(dim=1).clamp(min=1e-12)[:, None, None]).numpy()


def load_ranking(path: Path, images: int) -> TopImages | None:
    """A kept ranking of this many test images, or None when there is none (or it is of no use)."""
    try:
        kept = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile):
        return None
    if not isinstance(kept, dict) or kept.get("format") != RESPONSES_FORMAT or kept.get("images") != images:
        return None
    return TopImages(kept["indices"], kept["values"], images)


def save_ranking(path: Path, ranking: TopImages) -> None:
    """Keep a ranking, replacing the rankings of the run's older checkpoints."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for older in path.parent.glob("epoch_*.pt"):
        older.unlink(missing_ok=True)
    record = {"format": RESPONSES_FORMAT, "images": ranking.images, "indices": ranking.indices,
              "values": ranking.values}
    write_atomically(path, lambda p: torch.save(record, p))


def ranking_for(run: RunDir, net: nn.Sequential, input_size: int, epoch: int, batch: int, images: torch.Tensor,
                progress: Callable[[int, int], None] = lambda done, total: None) -> TopImages:
    """The run's ranking for its checkpoint at this epoch and batch: read from its folder, else computed and kept."""
    path = run.top_images_path(epoch, batch)
    kept = load_ranking(path, len(images))
    if kept is not None:
        return kept
    ranking = rank_images(net, images, input_size, progress=progress)
    save_ranking(path, ranking)
    return ranking
