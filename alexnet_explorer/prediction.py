"""Asking a trained AlexNet about a 28×28 picture: class probabilities, whether the picture is unlike the garments it
learned from, and where it looked (saliency, Grad-CAM, occlusion, integrated gradients, SmoothGrad: Captum's, on a
network that takes the 28×28 pixels)."""
from __future__ import annotations

import copy
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency
from captum.attr import Occlusion as CaptumOcclusion
from scipy.stats import spearmanr
from torch import nn

from .activations import OnPictures, features_and_logits, pictures_in_unit_range
from .classifier import Classifier
from .data import CLASSES, to_model_input
from .model import conv_layers, layer_output_shapes, layers_top_down, split_after
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


def _top(classifier: Classifier, image28: np.ndarray, target: int | None) -> int:
    return int(probabilities(classifier, [image28])[0].argmax()) if target is None else target


# Captum's methods below call autograd.grad, never backward(): the network is shared between sessions, its .grad
# must stay untouched; and they hook only modules made for the call (a marker, fresh ReLUs), never the network's own.

def saliency(classifier: Classifier, image28: np.ndarray, target: int | None = None) -> np.ndarray:
    """28×28 map in [0, 1]: how strongly each pixel sways the score of ``target`` (default: the top class), Captum's
    ``Saliency`` (the size of the gradient)."""
    target = _top(classifier, image28, target)
    pixels = pictures_in_unit_range(image28).requires_grad_()
    gradient = Saliency(OnPictures(classifier.net, classifier.size)).attribute(pixels, target=target)
    return _unit_map(gradient[0, 0])


def grad_cam(classifier: Classifier, image28: np.ndarray, target: int | None = None,
             layer: str | None = None) -> np.ndarray:
    """28×28 Grad-CAM map in [0, 1] (Captum's ``LayerGradCam`` on a conv layer's output after its activation, by
    default the last one's): the layer's activations weighted by their average gradient, ReLU'd."""
    layers = conv_layers(classifier.net)
    layer = layer or layers[-1]
    if layer not in layers:
        raise ValueError(f"layer must be one of {', '.join(layers)}, not {layer!r}")
    target = _top(classifier, image28, target)
    head, tail = split_after(classifier.net, layer)
    marker = nn.Identity()  # the layer Captum hooks: made for this call, so no other caller passes through it
    net = OnPictures(nn.Sequential(head, marker, tail), classifier.size)
    cam = LayerGradCam(net, marker).attribute(pictures_in_unit_range(image28), target=target, relu_attributions=True)
    return _unit_map(LayerAttribution.interpolate(cam, (SIDE, SIDE), "bilinear")[0, 0])


@dataclass(frozen=True)
class Contributions:
    """Integrated gradients: how much each pixel added to a class's score on the way from a black picture."""

    pixels: np.ndarray  # 28×28, signed; they add up to score − black_score (Captum's error: delta)
    score: float  # the class's score (logit) for the picture
    black_score: float  # and for an all-black picture, the baseline
    delta: float  # Captum's convergence delta: how far the sum misses score − black_score

    @property
    def heat(self) -> np.ndarray:
        """The pixels that raised the score, scaled so that the largest is 1."""
        return _unit_map(torch.from_numpy(self.pixels).clamp(min=0))


IG_STEPS = 16  # points on the path from black; Gauss-Legendre: the sum misses by well under 1 % of the rise


def integrated_gradients(classifier: Classifier, image28: np.ndarray, target: int | None = None,
                         steps: int = IG_STEPS) -> Contributions:
    """Captum's ``IntegratedGradients`` from an all-black picture (Fashion-MNIST's background) to this one."""
    target = _top(classifier, image28, target)
    net = OnPictures(classifier.net, classifier.size)
    pixels, black = pictures_in_unit_range(image28), torch.zeros(1, 1, SIDE, SIDE)
    contributions, delta = IntegratedGradients(net).attribute(
        pixels, black, target=target, n_steps=steps, internal_batch_size=steps, return_convergence_delta=True)
    with torch.no_grad():
        score, black_score = net(torch.cat([pixels, black]))[:, target].tolist()
    return Contributions(contributions[0, 0].detach().double().numpy(), score, black_score, float(delta.abs()))


SMOOTHGRAD_SAMPLES, SMOOTHGRAD_NOISE = 24, 0.15  # noisy copies; the noise's spread, in the pixels' 0-1 range


class _NoiseTunnelOfItsOwn(NoiseTunnel):
    """Captum's ``NoiseTunnel`` drawing its noise from a generator of its own: the same picture gets the same map on
    every rerun, and torch's global generator, which every session shares, is neither drawn from nor seeded."""

    def __init__(self, method: Saliency, seed: int):
        super().__init__(method)
        self.generator = torch.Generator().manual_seed(seed)

    def _add_noise_to_input(self, input: torch.Tensor, stdev: float, nt_samples_partition: int) -> torch.Tensor:
        copies = input.repeat_interleave(nt_samples_partition, dim=0)
        return copies + stdev * torch.randn(copies.shape, generator=self.generator)


def smooth_grad(classifier: Classifier, image28: np.ndarray, target: int | None = None,
                samples: int = SMOOTHGRAD_SAMPLES, noise: float = SMOOTHGRAD_NOISE, seed: int = 0) -> np.ndarray:
    """28×28 map in [0, 1]: saliency averaged over ``samples`` noisy copies of the picture (SmoothGrad, through
    Captum's noise tunnel), which keeps what the copies agree on."""
    target = _top(classifier, image28, target)
    tunnel = _NoiseTunnelOfItsOwn(Saliency(OnPictures(classifier.net, classifier.size)), seed)
    heat = tunnel.attribute(pictures_in_unit_range(image28), nt_type="smoothgrad", nt_samples=samples,
                            nt_samples_batch_size=samples, stdevs=noise, target=target)
    return _unit_map(heat[0, 0])


def feature_grid_side(classifier: Classifier, layer: str) -> int:
    """The side of the layer's square grid of features at the classifier's input size: Grad-CAM's cells."""
    return dict(layer_output_shapes(classifier.net, classifier.size))[layer][-1]


def grad_cam_layers(classifier: Classifier) -> tuple[str, ...]:
    """The conv layers Grad-CAM is offered at: all but conv1, which sees edges, not parts (its map mostly repeats
    the picture)."""
    return conv_layers(classifier.net)[1:]

# A grid coarser than this cannot point at a part of a 28-pixel garment (conv5 at 67 px is 3×3: a cell a third wide).
MEANINGFUL_GRID = 7


def default_grad_cam_layer(classifier: Classifier) -> str:
    """The deepest of ``grad_cam_layers`` whose grid has at least MEANINGFUL_GRID cells a side (AlexNet's conv5 at
    224 px, LeNet's conv2), else the finest one (AlexNet's conv2 at 67 px)."""
    sides = dict(layer_output_shapes(classifier.net, classifier.size))
    layers = grad_cam_layers(classifier)
    fine_enough = [layer for layer in layers if sides[layer][-1] >= MEANINGFUL_GRID]
    return fine_enough[-1] if fine_enough else max(layers, key=lambda layer: sides[layer][-1])


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
    """Slide a ``fill``-coloured square over the 28×28 picture and record how far the class's probability falls at
    each place (``target`` default: the top class), with Captum's ``Occlusion``. Works at any input size: it only
    asks the network for answers. The squares must reach the far edge: (28 − patch) a multiple of the stride."""
    if not 0 < patch <= SIDE or stride < 1 or (SIDE - patch) % stride:
        raise ValueError(f"a {patch}-pixel square moved {stride} pixels at a time does not reach the far edge of the "
                         f"{SIDE}-pixel picture: choose a stride that divides {SIDE} − {patch}")
    target = _top(classifier, image28, target)
    net = OnPictures(classifier.net, classifier.size)
    probabilities_seen = []

    def probability(pictures: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(net(pictures).double(), dim=1)
        probabilities_seen.append(probs[:, target])
        return probs

    positions = ((SIDE - patch) // stride + 1) ** 2
    with torch.no_grad():
        drop = CaptumOcclusion(probability).attribute(
            pictures_in_unit_range(image28), sliding_window_shapes=(1, patch, patch), strides=(1, stride, stride),
            baselines=fill / 255, target=target, perturbations_per_eval=positions)
    first, *hidden = probabilities_seen  # Captum answers the picture itself first, then the hidden ones
    return Occlusion(drop[0, 0].double().numpy(), float(first[0]), target, patch,
                     float(first[0] - torch.cat(hidden).min()))


# Rank correlations of a map with its randomised network's: from ALIKE up the two look alike (the map shows the
# picture more than what the network learned), below UNALIKE they do not.
ALIKE, UNALIKE = 0.6, 0.3


def randomised_from_top(classifier: Classifier, layers: int, seed: int = 0) -> Classifier:
    """The classifier with its top ``layers`` layers with weights (``model.layers_top_down``, the order in which the
    sanity check randomises them, Adebayo et al. 2018) given random weights of the trained ones' spread (from a
    generator of its own); the layers below are the network's own modules, untouched."""
    generator = torch.Generator().manual_seed(seed)
    replaced = set(layers_top_down(classifier.net)[:layers])
    children = OrderedDict()
    for name, module in classifier.net.named_children():
        if name in replaced:
            module = copy.deepcopy(module)
            with torch.no_grad():
                for weights in (module.weight, module.bias):
                    spread = weights.std() if weights.numel() > 1 else weights.abs()
                    weights.copy_(torch.randn(weights.shape, generator=generator) * spread)
        children[name] = module
    return dataclasses.replace(classifier, net=nn.Sequential(children).eval())


@dataclass(frozen=True)
class SanityCheck:
    """The same map from the network with its top layers randomised, and how alike the two maps are."""

    randomised: tuple[str, ...]  # the layers given random weights, top first
    heat: np.ndarray  # the randomised network's map, 28×28 in [0, 1]
    correlation: float  # Spearman's rank correlation of the two maps' pixels; nan when either map is flat

    @property
    def alike(self) -> bool:
        return self.correlation >= ALIKE

    @property
    def unalike(self) -> bool:
        return self.correlation < UNALIKE


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation of two maps' pixels (ties share their rank); nan when either map is flat."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    return float(spearmanr(np.ravel(first), np.ravel(second)).statistic)


def sanity_check(classifier: Classifier, image28: np.ndarray, target: int, heat: np.ndarray,
                 explain: Callable[[Classifier, np.ndarray, int], np.ndarray], layers: int,
                 seed: int = 0) -> SanityCheck:
    """``explain``'s map of ``target`` from the network with its top ``layers`` randomised (Adebayo et al. 2018's
    cascading randomisation), compared with ``heat``, the trained network's map."""
    randomised = randomised_from_top(classifier, layers, seed)
    random_heat = explain(randomised, image28, target)
    return SanityCheck(layers_top_down(classifier.net)[:layers], random_heat, rank_correlation(heat, random_heat))


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
