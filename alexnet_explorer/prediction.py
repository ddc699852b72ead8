"""Asking a trained AlexNet about a 28×28 picture: class probabilities, whether the picture is unlike the garments it
learned from, and where it looked (saliency, Grad-CAM)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .activations import features_and_logits
from .classifier import Classifier
from .data import CLASSES, to_model_input
from .model import CONV_LAYERS, layer_output_shapes, split_after
from .preprocess import SIDE, Upload, to_tensor
from .unfamiliar import INK_LEVEL, FamiliarityFit, Verdict, assess


@dataclass(frozen=True)
class UploadAnswer:
    """A row of the table of several uploads: the file, the network's answer and confidence, or the file's problem."""

    name: str
    answer: str | None
    confidence: float | None
    problem: str | None
    verdict: Verdict | None = None  # how unlike the training garments the picture is, when the run has a fit


def _input(image28: np.ndarray, size: int) -> torch.Tensor:
    """A uint8 28×28 picture as the network's 1×1×size×size input in [0, 1]."""
    return to_model_input(to_tensor(image28), size)


def probabilities(classifier: Classifier, images28: Sequence[np.ndarray]) -> np.ndarray:
    """N×10 class probabilities (softmax of the logits) of N uint8 28×28 pictures."""
    x = to_model_input(torch.cat([to_tensor(image) for image in images28]), classifier.size)
    with torch.no_grad():
        return _softmax(classifier.net(x))


def answer(classifier: Classifier, images28: Sequence[np.ndarray],
           familiarity: FamiliarityFit | None = None) -> tuple[np.ndarray, list[Verdict] | None]:
    """The class probabilities of N uint8 28×28 pictures and, given ``familiarity``, how unlike the garments the
    network learned from each one is (see unfamiliar.py), from one forward pass."""
    if familiarity is None:
        return probabilities(classifier, images28), None
    features, logits = features_and_logits(classifier.net, classifier.size,
                                           torch.cat([to_tensor(image) for image in images28]))
    return _softmax(logits), assess(familiarity, features, logits, images28)


def judge(classifier: Classifier, familiarity: FamiliarityFit, images28: Sequence[np.ndarray]) -> list[Verdict]:
    """How unlike the garments the network learned from each uint8 28×28 picture is."""
    _, verdicts = answer(classifier, images28, familiarity)
    assert verdicts is not None  # given a familiarity fit, answer judges
    return verdicts


def _softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.double(), dim=1).numpy()


def answer_uploads(classifier: Classifier, uploads: Sequence[Upload],
                   familiarity: FamiliarityFit | None = None) -> list[UploadAnswer]:
    """The top class and its probability for each usable upload (one batch), with the verdict of ``familiarity`` if
    given; the problem of each other one."""
    usable = [upload.prepared.image28 for upload in uploads if upload.prepared is not None]
    all_probs, verdicts = answer(classifier, usable, familiarity) if usable else ([], None)
    answers, verdicts = iter(all_probs), iter(verdicts or [])
    rows = []
    for upload in uploads:
        if upload.prepared is None:
            rows.append(UploadAnswer(upload.name, None, None, upload.problem))
        else:
            probs = next(answers)
            rows.append(UploadAnswer(upload.name, CLASSES[int(probs.argmax())], float(probs.max()), None,
                                     next(verdicts, None)))
    return rows


def _unit_map(heat: torch.Tensor) -> np.ndarray:
    """A non-negative map scaled so that its peak is 1 (all zeros stay zeros)."""
    heat = heat.detach().double()
    peak = heat.max()
    return (heat / peak if peak > 0 else heat).numpy()


def saliency(classifier: Classifier, image28: np.ndarray, target: int | None = None) -> np.ndarray:
    """28×28 map in [0, 1]: how strongly each pixel sways the score of ``target`` (default: the top class)."""
    pixels = torch.tensor(image28, dtype=torch.float32).div(255).reshape(1, 1, SIDE, SIDE).requires_grad_()
    logits = classifier.net(to_model_input(pixels, classifier.size))
    target = int(logits.argmax()) if target is None else target
    # autograd.grad rather than backward(): the network is shared between sessions, its .grad must stay untouched
    (gradient,) = torch.autograd.grad(logits[0, target], pixels)
    return _unit_map(gradient.abs()[0, 0])


def grad_cam(classifier: Classifier, image28: np.ndarray, target: int | None = None,
             layer: str = "conv5") -> np.ndarray:
    """28×28 Grad-CAM map in [0, 1]: the layer's activations weighted by their average gradient, ReLU'd."""
    if layer not in CONV_LAYERS:
        raise ValueError(f"layer must be one of {', '.join(CONV_LAYERS)}, not {layer!r}")
    head, tail = split_after(classifier.net, layer)
    with torch.no_grad():
        activations = head(_input(image28, classifier.size))
    activations.requires_grad_()
    logits = tail(activations)
    target = int(logits.argmax()) if target is None else target
    (gradient,) = torch.autograd.grad(logits[0, target], activations)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activations).sum(dim=1, keepdim=True))
    return _unit_map(F.interpolate(cam, size=(SIDE, SIDE), mode="bilinear", align_corners=False)[0, 0])


def feature_grid_side(classifier: Classifier, layer: str = "conv5") -> int:
    """The side of the layer's square grid of features at the classifier's input size: Grad-CAM's cells."""
    return dict(layer_output_shapes(classifier.net, classifier.size))[layer][-1]


GRAD_CAM_LAYERS = CONV_LAYERS[1:]  # conv1 sees edges, not parts: its map mostly repeats the picture
# A grid coarser than this cannot point at a part of a 28-pixel garment (conv5 at 67 px is 3×3: a cell a third wide).
MEANINGFUL_GRID = 7


def default_grad_cam_layer(classifier: Classifier) -> str:
    """The deepest of GRAD_CAM_LAYERS whose grid has at least MEANINGFUL_GRID cells a side (conv5 at 224 px),
    else the finest one (conv2 at 67 px)."""
    sides = dict(layer_output_shapes(classifier.net, classifier.size))
    fine_enough = [layer for layer in GRAD_CAM_LAYERS if sides[layer][-1] >= MEANINGFUL_GRID]
    return fine_enough[-1] if fine_enough else max(GRAD_CAM_LAYERS, key=lambda layer: sides[layer][-1])


OCCLUSION_PATCH, OCCLUSION_STRIDE = 8, 2  # pixels of the 28×28 picture: 121 positions, one batch
OCCLUSION_GREY = 128
# A fall of the probability smaller than this (a percentage point) is no change of the answer: a map of such falls,
# scaled to its largest, would draw noise as bright as a real part.
NOTICEABLE_DROP = 0.01


@dataclass(frozen=True)
class Occlusion:
    """How much hiding each part of a picture lowers the probability of one class."""

    drop: np.ndarray  # 28×28: the mean fall of the probability over the patch positions covering each pixel
    probability: float  # the class's probability with nothing hidden
    target: int
    patch: int
    largest_drop: float  # the largest fall that hiding a single square caused

    @property
    def changes_nothing(self) -> bool:
        """Whether no square lowered the probability by NOTICEABLE_DROP or more."""
        return self.largest_drop < NOTICEABLE_DROP

    @property
    def heat(self) -> np.ndarray:
        """The falls scaled so that the largest is 1; where hiding raised the probability, 0; all 0 when no square
        changes the answer."""
        if self.changes_nothing:
            return np.zeros_like(self.drop)
        return _unit_map(torch.from_numpy(self.drop).clamp(min=0))


def occlusion(classifier: Classifier, image28: np.ndarray, target: int | None = None, patch: int = OCCLUSION_PATCH,
              stride: int = OCCLUSION_STRIDE, fill: int = OCCLUSION_GREY) -> Occlusion:
    """Slide a grey patch over the 28×28 picture and record how far the class's probability falls at each place
    (``target`` default: the top class). Works at any input size: it only asks the network for answers."""
    starts = sorted({*range(0, SIDE - patch + 1, stride), SIDE - patch})  # the last start reaches the far edge
    corners = [(top, left) for top in starts for left in starts]
    hidden = np.repeat(np.asarray(image28, dtype=np.uint8)[None], len(corners), axis=0)
    for picture, (top, left) in zip(hidden, corners):
        picture[top:top + patch, left:left + patch] = fill
    probs = probabilities(classifier, [image28, *hidden])
    target = int(probs[0].argmax()) if target is None else target
    falls, covered = np.zeros((SIDE, SIDE)), np.zeros((SIDE, SIDE))
    for fall, (top, left) in zip(probs[0, target] - probs[1:, target], corners):
        falls[top:top + patch, left:left + patch] += fall
        covered[top:top + patch, left:left + patch] += 1
    return Occlusion(falls / covered, float(probs[0, target]), target, patch,
                     float(probs[0, target] - probs[1:, target].min()))


# A map with more than this share of its weight on the picture's background says more about the empty space than
# about the garment (Fashion-MNIST's garments are centred on black: their outline is evidence too).
MOSTLY_BACKGROUND = 0.5


def share_on_background(heat: np.ndarray, image28: np.ndarray) -> float:
    """The share of a 28×28 map's total that lies on the picture's background (pixels no brighter than
    unfamiliar.INK_LEVEL); 0 for an empty map."""
    heat = np.clip(np.asarray(heat, dtype=np.float64), 0, None)
    total = heat.sum()
    return float(heat[np.asarray(image28) <= INK_LEVEL].sum() / total) if total > 0 else 0.0


def class_examples(labels: torch.Tensor, label: int, count: int = 5, seed: int = 0) -> list[int]:
    """Indices of ``count`` images of one class, drawn by a seeded shuffle (the same ones every time)."""
    indices = torch.nonzero(labels == label).flatten()
    order = torch.randperm(len(indices), generator=torch.Generator().manual_seed(seed))
    return indices[order[:count]].tolist()
