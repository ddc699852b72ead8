"""What a unit or a class wants to see: the grayscale picture that excites it most, found by gradient ascent from
noise (feature visualisation by optimisation, Olah et al. 2017).

Captum's released package has none, and torch-lucent (Lucid's port) is unmaintained since 2021 and made for RGB
ImageNet networks, so the few parts that make the pictures readable are written here. The picture is a 28×28 one,
enlarged to the network's input size as every training picture was: the network never saw finer detail than
Fashion-MNIST's 28 pixels, and an ascent free to use it fills the picture with patterns no garment has. It is
parametrised in Fourier space with each frequency scaled by 1/f (the decorrelated parametrisation: low frequencies
move as fast as high ones), squashed into [0, 1] by a sigmoid whose resting point is dark (the pictures are light
garments on black: a bright pixel has to earn its place), and shifted at random by up to 2 pixels at every step
(jitter: a pattern must excite the unit wherever it lies). Measured on a classroom network (docs/benchmarks.md),
these made the ten classes' pictures garment-like and raised every class's score over a 67-px, grey-resting ascent.
The ascent climbs the unit's response before its activation, so that a unit silent at the start still has a
gradient; the picture is fed through the whole network, so a standardising first layer applies.

Picturing a layer's units takes seconds each, so the pictures are computed once per saved network and kept in the
run's folder (``RunDir.unit_pictures_path``, replaced when a newer network is saved).
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import to_model_input
from .model import conv_layers, last_hidden_layer, output_layer, split_after
from .runs import RunDir, write_atomically

STEPS = 96
LEARNING_RATE = 0.05  # Adam's, on the Fourier coefficients (Lucid's default)
SIDE = 28  # the pictures' side: Fashion-MNIST's
RESTING = -2.5  # the sigmoid's input where the coefficients are 0: a pixel of 0.08, near the pictures' black
JITTER = 2  # pixels of the 28, each way
FORMAT = 2  # of the kept file; another number is computed again (1: 67-px pictures resting at grey)
UNREADABLE = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile)


@dataclass(frozen=True)
class UnitPicture:
    """The picture that excites one unit most, as uint8 28×28 pixels, and how strongly it excites the unit."""

    pixels: np.ndarray
    strength: float


@dataclass(frozen=True)
class UnitPictures:
    """The pictures kept for the network saved after ``epoch`` and ``batch``, by (layer, unit)."""

    epoch: int
    batch: int
    size: int
    pictures: dict[tuple[str, int], UnitPicture]


class DamagedPictures(ValueError):
    """The kept pictures cannot be read: they cost only themselves and are computed again."""


def _response_before_activation(net: nn.Sequential, layer: str) -> nn.Sequential:
    """The network from its input up to the layer's output before its activation (the last layer: the logits)."""
    if layer == output_layer(net):
        return nn.Sequential(*split_after(net, last_hidden_layer(net)))  # the whole network, without its dropout
    return split_after(net, layer)[0][:-1]


def excitement(net: nn.Sequential, x: torch.Tensor, layer: str) -> torch.Tensor:
    """N×units: how strongly each of the N inputs (already at the network's input size, in [0, 1]) excites each
    unit of a layer — a conv channel: its mean activation; a fully connected unit: its activation; the last layer
    (``model.output_layer``, whose units are the classes): the logit."""
    with torch.no_grad():
        if layer == output_layer(net):
            return _response_before_activation(net, layer)(x)
        output = split_after(net, layer)[0](x)
    return output.mean(dim=(2, 3)) if layer in conv_layers(net) else output


def _frequency_scale(size: int) -> torch.Tensor:
    """1/f for each coefficient of a real size×size picture's spectrum (the lowest kept at 1/size)."""
    frequencies = torch.sqrt(torch.fft.fftfreq(size)[:, None] ** 2 + torch.fft.rfftfreq(size)[None] ** 2)
    return size / frequencies.clamp(min=1 / size)  # Lucid's scale: large enough that the sigmoid is not stuck at 0.5


def _pictures(spectrum: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """K×1×28×28 pictures in [0, 1] from their Fourier coefficients."""
    return torch.sigmoid(torch.fft.irfft2(torch.view_as_complex(spectrum) * scale, s=(SIDE, SIDE)) / 4 + RESTING)


def visualise(net: nn.Sequential, input_size: int, layer: str, units: Sequence[int], steps: int = STEPS,
              seed: int = 0, progress: Callable[[int, int], None] = lambda done, total: None) -> list[UnitPicture]:
    """The 28×28 picture that excites each of a layer's ``units`` most, enlarged to ``input_size`` as the training
    pictures are, one picture each, optimised together from noise of a generator seeded with ``seed`` (torch's global
    one is neither drawn from nor seeded); ``progress`` hears (steps done, steps). Only the pictures get gradients:
    the network, which sessions share, is untouched."""
    device = next(net.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    wanted = torch.as_tensor(list(units), device=device)
    scale = _frequency_scale(SIDE).to(device)
    spectrum = (0.01 * torch.randn((len(wanted), 1, *scale.shape, 2), generator=generator)).to(device)
    spectrum.requires_grad_()
    response = _response_before_activation(net, layer)
    optimiser = torch.optim.Adam([spectrum], lr=LEARNING_RATE)
    for step in range(steps):
        shift = torch.randint(-JITTER, JITTER + 1, (2,), generator=generator).tolist()
        x = to_model_input(torch.roll(_pictures(spectrum, scale), shifts=shift, dims=(2, 3)), input_size)
        output = response(x)
        if layer in conv_layers(net):
            output = output.mean(dim=(2, 3))
        objective = output.gather(1, wanted[:, None]).sum()
        (spectrum.grad,) = torch.autograd.grad(-objective, [spectrum])
        optimiser.step()
        progress(step + 1, steps)
    with torch.no_grad():
        pixels = (_pictures(spectrum, scale) * 255).round().to(torch.uint8)
    strengths = excitement(net, to_model_input(pixels, input_size), layer).gather(1, wanted[:, None])[:, 0]
    pixels = pixels[:, 0]
    return [UnitPicture(p.cpu().numpy(), float(s)) for p, s in zip(pixels, strengths)]


def save(path: Path, kept: UnitPictures) -> None:
    """Write them as one .npz file, atomically: per layer its units, their pictures and strengths."""
    arrays: dict[str, np.ndarray] = {}
    for layer in dict.fromkeys(layer for layer, _ in kept.pictures):
        units = sorted(unit for kept_layer, unit in kept.pictures if kept_layer == layer)
        if units:
            arrays[f"{layer}_units"] = np.array(units)
            arrays[f"{layer}_pixels"] = np.stack([kept.pictures[layer, unit].pixels for unit in units])
            arrays[f"{layer}_strengths"] = np.array([kept.pictures[layer, unit].strength for unit in units])
    buffer = io.BytesIO()
    np.savez(buffer, format=FORMAT, epoch=kept.epoch, batch=kept.batch, size=kept.size, **arrays)
    write_atomically(path, lambda p: p.write_bytes(buffer.getvalue()))


def load(path: Path, epoch: int, batch: int, size: int) -> UnitPictures:
    """The pictures kept for the network saved after this epoch and batch (none when there is no file, or it is of an
    older network); DamagedPictures when the file cannot be read."""
    empty = UnitPictures(epoch, batch, size, {})
    if not path.is_file():
        return empty
    try:
        with np.load(path, allow_pickle=False) as kept:
            if (int(kept["format"]), int(kept["epoch"]), int(kept["batch"]), int(kept["size"])) != (FORMAT, epoch,
                                                                                                  batch, size):
                return empty
            pictures = {}
            for layer in (name.removesuffix("_units") for name in kept.files if name.endswith("_units")):
                for unit, pixels, strength in zip(kept[f"{layer}_units"], kept[f"{layer}_pixels"],
                                                      kept[f"{layer}_strengths"], strict=True):
                        pictures[layer, int(unit)] = UnitPicture(pixels, float(strength))
    except UNREADABLE as error:
        raise DamagedPictures(f"The kept pictures of what the units want to see ({path.name}) cannot be read "
                              f"({error}); they are computed again.") from error
    return UnitPictures(epoch, batch, size, pictures)


def pictures_for(run: RunDir, net: nn.Sequential, input_size: int, epoch: int, batch: int,
                 wanted: Sequence[tuple[str, int]],
                 progress: Callable[[int, int], None] = lambda done, total: None) -> UnitPictures:
    """The run's pictures of the ``wanted`` (layer, unit) pairs for its network saved at this epoch and batch: those
    kept in its folder, the others computed (a layer's together) and kept with them; a damaged file is replaced.
    ``progress`` hears (steps done, steps) over all the layers computed."""
    try:
        kept = load(run.unit_pictures_path, epoch, batch, input_size)
    except DamagedPictures:
        kept = UnitPictures(epoch, batch, input_size, {})
    missing = {layer: [unit for other, unit in wanted if other == layer and (layer, unit) not in kept.pictures]
               for layer in dict.fromkeys(layer for layer, _ in wanted)}
    missing = {layer: list(dict.fromkeys(units)) for layer, units in missing.items() if units}
    if not missing:
        return kept
    pictures = dict(kept.pictures)
    for done, (layer, units) in enumerate(missing.items()):
        found = visualise(net, input_size, layer, units, STEPS,
                          progress=lambda step, steps: progress(done * steps + step, len(missing) * steps))
        pictures.update({(layer, unit): picture for unit, picture in zip(units, found)})
    result = UnitPictures(epoch, batch, input_size, pictures)
    save(run.unit_pictures_path, result)
    return result
