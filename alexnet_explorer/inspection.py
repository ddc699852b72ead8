"""Looking inside a trained AlexNet: first-layer filters, feature maps, and fc7 embeddings."""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from .activations import extract_features, in_batches, layer_outputs
from .config import PRESETS, build_model
from .data import to_model_input
from .model import count_macs, inspectable_layers
from .options import Option
from .pipelines import HOG, SIDE
from .runs import CheckpointError, RunDir, load_weights

NORMALIZATIONS = ("per_filter", "shared")
# What the separability comparison probes and projects: the images themselves, or a layer's activations.
FEATURE_KINDS = {"raw": "raw pixels", "learned": "the last hidden layer's features"}


def grid_shape(count: int, columns: int = 12) -> tuple[int, int]:
    """Rows and columns of tiles needed to lay out ``count`` filters at most ``columns`` wide."""
    return math.ceil(count / columns), min(columns, count)


def filter_grid(
    weights: torch.Tensor, normalization: str = "per_filter", columns: int = 12, gap: int = 1
) -> np.ndarray:
    """Tile C×1×k×k filters into one 2-D array in [-1, 1] with NaN gaps, for a diverging colour map."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, not {normalization!r}")
    if weights.ndim != 4 or weights.shape[1] != 1:
        raise ValueError(f"expected C×1×k×k single-channel filters, got shape {tuple(weights.shape)}")
    filters = weights.detach().cpu().double().numpy()[:, 0]
    count, kernel = filters.shape[0], filters.shape[-1]
    if normalization == "per_filter":
        scale = np.abs(filters).max(axis=(1, 2), keepdims=True)
    else:
        scale = np.full((count, 1, 1), np.abs(filters).max())
    # An all-zero filter (or bank) has scale 0: dividing by 1 instead leaves its zeros as zeros.
    filters = filters / np.where(scale > 0, scale, 1.0)

    rows, cols = grid_shape(count, columns)
    step = kernel + gap
    grid = np.full((rows * step - gap, cols * step - gap), np.nan)
    for index, tile in enumerate(filters):
        top, left = (index // cols) * step, (index % cols) * step
        grid[top:top + kernel, left:left + kernel] = tile
    return grid


def map_gap(side: int) -> int:
    """Gap between tiles of side×side activation maps: a tenth of a tile, still visible when big maps are shrunk."""
    return max(1, side // 10)


def activation_grid(
    maps: torch.Tensor, channels: list[int], normalization: str = "per_filter", columns: int = 12
) -> np.ndarray:
    """Tile chosen channels of C×H×W activations, in that order, like ``filter_grid`` ([0, 1] after ReLU)."""
    return filter_grid(maps[list(channels)].unsqueeze(1), normalization, columns, map_gap(maps.shape[-1]))


def filter_norms(weights: torch.Tensor) -> np.ndarray:
    """L2 norm of each filter (first dimension) of a weight tensor."""
    return weights.detach().cpu().double().flatten(1).norm(dim=1).numpy()


# The strict measure of a learned filter (docs/filters.md): with its mean taken away, at least half of a filter's
# spectral energy lies within 2 frequency bins of zero (waves 11/2 pixels long and longer) — an edge, a stripe or a
# blob. The random start spreads its energy over all frequencies: no random filter reaches half.
STRUCTURE_RADIUS = 2
STRUCTURED_SHARE = 0.5


def low_frequency_share(filters: torch.Tensor, radius: int = STRUCTURE_RADIUS, without_mean: bool = False) -> np.ndarray:
    """Per filter (C×1×k×k), the share of its spectral energy within ``radius`` bins of zero frequency (of what is
    left after taking each filter's mean away, ``without_mean``)."""
    weights = filters.detach().double().cpu().numpy()[:, 0]
    if without_mean:
        weights = weights - weights.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fftshift(np.fft.fft2(weights), axes=(-2, -1))) ** 2
    offsets = np.arange(weights.shape[-1]) - weights.shape[-1] // 2
    low = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2
    return power[:, low].sum(axis=1) / np.maximum(power.reshape(len(power), -1).sum(axis=1), 1e-300)


def structured_filters(filters: torch.Tensor) -> np.ndarray:
    """Which filters are an edge, stripe or blob by the strict measure (``STRUCTURED_SHARE``)."""
    return low_frequency_share(filters, without_mean=True) >= STRUCTURED_SHARE


def filter_peaks(net: nn.Sequential, images: torch.Tensor, input_size: int, batch: int = 256) -> np.ndarray:
    """Each conv1 filter's strongest response (after its activation) over uint8 N×1×28×28 pictures: 0 for a filter
    that ReLU silences on all of them, a dead filter, which gets no gradient and so keeps its random start."""
    peaks = None
    for _, outputs in in_batches(net, images, input_size, ["conv1"], batch):
        strongest = outputs["conv1"].float().amax(dim=(0, 2, 3)).cpu()
        peaks = strongest if peaks is None else torch.maximum(peaks, strongest)
    return peaks.numpy() if peaks is not None else np.zeros(0)


def _orientation(filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per k×k filter, the angle of its edges in [0°, 180°) and how strongly it has one (coherence in [0, 1]: 1 for a
    pure edge or stripe, about 0 for a blob or noise), from the structure tensor of its gradients."""
    dy, dx = np.gradient(filters, axis=(1, 2))
    xx, yy, xy = (dx * dx).sum(axis=(1, 2)), (dy * dy).sum(axis=(1, 2)), (dx * dy).sum(axis=(1, 2))
    # the gradient's direction is across the edge: the edge runs 90° from it
    angle = (np.degrees(0.5 * np.arctan2(2 * xy, xx - yy)) + 90) % 180
    coherence = np.hypot(xx - yy, 2 * xy) / np.maximum(xx + yy, 1e-300)
    return angle, coherence


def _coarseness(filters: np.ndarray) -> np.ndarray:
    """Per k×k filter, the mean spatial frequency of its energy beyond its mean (cycles per pixel): small for blobs
    and wide stripes, large for fine stripes and noise."""
    centred = filters - filters.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(centred)) ** 2
    frequencies = np.fft.fftfreq(filters.shape[-1])
    radius = np.hypot(frequencies[:, None], frequencies[None, :])
    return (power * radius).sum(axis=(1, 2)) / np.maximum(power.sum(axis=(1, 2)), 1e-300)


# How the grid may order the filters, so that families of detectors sit together.
FILTER_ORDERS = {"number": "as numbered", "orientation": "by edge angle",
                 "coarseness": "coarse to fine"}
EDGE_COHERENCE = 0.3  # below it a filter has no one direction (a blob, a spot, noise): no angle to sort it by


def filter_order(weights: torch.Tensor, by: str, dead: Sequence[int] = ()) -> list[int]:
    """The filters' indices in the grid's order: as numbered, by edge angle (edges first, those with no one
    direction after them), or coarse to fine; the ``dead`` ones last in the last two."""
    if by not in FILTER_ORDERS:
        raise ValueError(f"order must be one of {', '.join(FILTER_ORDERS)}, not {by!r}")
    count = weights.shape[0]
    if by == "number":
        return list(range(count))
    filters = weights.detach().double().cpu().numpy()[:, 0]
    if by == "orientation":
        angle, coherence = _orientation(filters)
        keys = [(coherence[i] < EDGE_COHERENCE, angle[i] if coherence[i] >= EDGE_COHERENCE else -coherence[i])
                for i in range(count)]
    else:
        keys = list(_coarseness(filters))
    gone = set(dead)
    return sorted(range(count), key=lambda i: (i in gone, keys[i], i))


# A relative_change of conv1 since its random start under which the grid still looks random: the start's noise
# outweighs what training added, which shows only with the start taken away ('What training added', docs/filters.md).
NOISE_HIDES_BELOW = 0.5


def relative_change(before: torch.Tensor, after: torch.Tensor) -> float:
    """‖after − before‖ / ‖before‖: how far weights moved, as a fraction of where they started."""
    before, after = before.detach().double(), after.detach().double()
    return float((after - before).norm() / before.norm())


def filter_changes(snapshots: dict[int, torch.Tensor]) -> list[tuple[int, float]]:
    """Relative change between consecutive saved epochs, keyed by the later epoch."""
    epochs = sorted(snapshots)
    return [(current, relative_change(snapshots[previous], snapshots[current]))
            for previous, current in itertools.pairwise(epochs)]


def added_by_training(start: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """What training added to each filter, W − W_0, less its mean over the filter. Much of a short run's change
    shifts every weight of a filter by about one amount (most filters alike), which would paint each tile in one
    colour and hide the pattern."""
    change = weights.detach() - start.detach()
    return change - change.mean(dim=tuple(range(1, change.ndim)), keepdim=True)


def changes_since_init(snapshots: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
    """What training added to the random start (``added_by_training``) for every saved epoch after 0 (empty without
    epoch 0)."""
    if 0 not in snapshots:
        return {}
    return {epoch: added_by_training(snapshots[0], weights) for epoch, weights in snapshots.items() if epoch != 0}


@dataclass(frozen=True)
class FilterView:
    """The filters a view shows by epoch: the weights, or what training added to them (``added``)."""

    filters: dict[float, torch.Tensor]
    added: bool


def filter_view(snapshots: dict[float, torch.Tensor], show_added: bool) -> FilterView:
    """What training added to the snapshots when asked for and an epoch after 0 is saved, else the snapshots."""
    changes = changes_since_init(snapshots)
    return FilterView(changes, True) if show_added and changes else FilterView(snapshots, False)


@dataclass(frozen=True)
class FilterStrength:
    """One filter's L2 norm and its rank among its layer's filters (1: the largest; equal norms share a rank)."""

    norm: float
    rank: int
    count: int


def filter_strength(weights: torch.Tensor, index: int) -> FilterStrength:
    """The norm of filter ``index`` of a weight tensor and how many filters are stronger."""
    norms = filter_norms(weights)
    return FilterStrength(float(norms[index]), int((norms > norms[index]).sum()) + 1, len(norms))


def random_filters(seed: int = 0) -> torch.Tensor:
    """conv1 of a freshly initialised classroom network, without disturbing the global random state."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build_model(PRESETS["classroom"]).conv1.weight.detach().clone()


@dataclass(frozen=True)
class Unreadable:
    """A saved conv1 file that could not be read: a "Snapshot" or a "Frame", its epoch, and why."""

    what: str
    epoch: float
    error: Exception


@dataclass(frozen=True)
class FilterHistory:
    """conv1 as a run saved it: after each epoch (0: the random start), within epochs, and the files left unread."""

    snapshots: dict[int, torch.Tensor]
    frames: dict[float, torch.Tensor] = field(default_factory=dict)
    unreadable: tuple[Unreadable, ...] = ()

    @property
    def timeline(self) -> dict[float, torch.Tensor]:
        """Snapshots and frames together, by epoch."""
        return {**self.snapshots, **self.frames}

    @property
    def start(self) -> torch.Tensor | None:
        """The run's own random start, when a later epoch is saved to compare it with."""
        return self.snapshots[0] if 0 in self.snapshots and len(self.snapshots) > 1 else None


def filter_history(run: RunDir, load: Callable[[Path], torch.Tensor] = load_weights) -> FilterHistory:
    """Every readable conv1 snapshot and frame of a run; ``load`` reads one file (the app passes a cached reader)."""
    unreadable = []

    def readable(paths: dict[float, Path], what: str) -> dict[float, torch.Tensor]:
        loaded = {}
        for epoch, path in paths.items():
            try:
                loaded[epoch] = load(path)
            except (CheckpointError, OSError) as error:  # one damaged or vanished file leaves the others usable
                unreadable.append(Unreadable(what, epoch, error))
        return loaded

    snapshots = readable({epoch: run.filters_path(epoch) for epoch in run.filter_epochs()}, "Snapshot")
    frames = readable({epoch: run.frame_path(epoch) for epoch in run.frame_epochs()}, "Frame")
    return FilterHistory(snapshots, frames, tuple(unreadable))


def missing_network(name: str, status: dict) -> str:
    """Why a run has no checkpoint, in the page's words, from its status (state and error)."""
    state = status.get("state", "failed")
    if state == "failed":
        return (f"Run `{name}` failed before it saved a network: {status.get('error') or 'no reason was recorded'}. "
                "Its saved filters are still shown; train a new run on the Train page for the other tabs.")
    if state == "stopped":
        return (f"Run `{name}` was stopped before its first epoch ended, so it saved no network: resume it on the "
                "Train page.")
    if state == "finished":
        return f"Run `{name}` finished, but its checkpoint is gone: train it again on the Train page."
    return (f"Run `{name}` has no checkpoint yet: it is saved at the end of the first epoch. The filter tabs already "
            "work from the saved snapshots.")


def feature_maps(net: nn.Sequential, x: torch.Tensor, layer: str) -> torch.Tensor:
    """C×H×W activations of one 1×1×S×S input after a conv layer's activation (a vector for fc6/fc7)."""
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one input of shape 1×1×S×S, got {tuple(x.shape)}")
    return layer_outputs(net, x.to(next(net.parameters()).device), [layer])[layer][0].cpu()


def strongest_first(maps: torch.Tensor) -> list[int]:
    """Channel indices ordered by mean activation, strongest first."""
    strength = maps.flatten(1).mean(dim=1) if maps.ndim > 1 else maps
    return torch.argsort(strength, descending=True, stable=True).tolist()


def _pca(features: np.ndarray, seed: int) -> np.ndarray:
    return PCA(n_components=2, random_state=seed).fit_transform(features)


def _tsne(features: np.ndarray, seed: int) -> np.ndarray:
    count, dims = features.shape
    if dims > 50:  # t-SNE on a 50-component PCA, for speed
        features = PCA(n_components=min(50, count), random_state=seed).fit_transform(features)
    # sklearn needs perplexity < N; a third of N keeps small classroom samples meaningful.
    perplexity = min(30.0, max(1.0, (count - 1) / 3))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


PROJECTIONS = {"pca": Option("PCA", _pca), "tsne": Option("t-SNE", _tsne)}


def project(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """N×2 embedding of N×D features by one of ``PROJECTIONS`` (PCA or t-SNE)."""
    if method not in PROJECTIONS:
        raise ValueError(f"method must be one of {', '.join(PROJECTIONS)}, not {method!r}")
    return PROJECTIONS[method].make(np.asarray(features, dtype=np.float64), seed)


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, seed: int = 0
) -> float:
    """Test accuracy of a multinomial logistic regression on standardized features."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def holdout_probe(features: np.ndarray, labels: np.ndarray, train_fraction: float = 0.7, seed: int = 0) -> float:
    """``linear_probe`` trained on the first part of shuffled examples and tested on the rest."""
    cut = round(len(features) * train_fraction)
    if not 0 < cut < len(features):
        raise ValueError(f"{len(features)} examples cannot be split {train_fraction:.0%} / {1 - train_fraction:.0%}")
    return linear_probe(features[:cut], labels[:cut], features[cut:], labels[cut:], seed)


def raw_pixels(images: torch.Tensor) -> np.ndarray:
    """N×(H·W) pixel features in [0, 1], the baseline the fc7 probe is compared with."""
    return to_model_input(images, images.shape[-1]).flatten(1).cpu().numpy()


def sample_features(
    images: torch.Tensor, kind: str, net: nn.Sequential | None = None, input_size: int = 0
) -> np.ndarray:
    """One of ``FEATURE_KINDS`` of uint8 N×1×28×28 images, a row each: raw pixels, or a layer's (``net`` needed)."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(FEATURE_KINDS)}, not {kind!r}")
    if kind == "raw":
        return raw_pixels(images)
    if net is None:
        raise ValueError(f"{FEATURE_KINDS[kind]} need a network")
    return extract_features(net, images, input_size)


# Each step's seconds on 1000 test images and how they grow with their number N (seconds ∝ N^growth), measured on
# two CPU cores with a classroom network at 67 px: python -m benchmarks.separability_time (docs/benchmarks.md).
STEP_COSTS = {("raw", "features"): (0.0, 1.0), ("raw", "probe"): (1.4, 0.74), ("raw", "pca"): (0.06, 1.42),
              ("raw", "tsne"): (2.0, 1.62), ("learned", "features"): (0.54, 0.98),
              ("learned", "probe"): (1.5, 1.67), ("learned", "pca"): (0.4, 0.89), ("learned", "tsne"): (4.9, 0.62)}
COSTED_INPUT_SIZE = 67  # the features' forward pass costs in proportion to the network's multiply-adds


@dataclass(frozen=True)
class SeparabilityStep:
    """One step of the separability comparison: a kind of features, what is done with it, the words for the
    progress bar, and the seconds it is expected to take here."""

    kind: str  # one of FEATURE_KINDS
    task: str  # "features", "probe", or one of PROJECTIONS
    label: str
    seconds: float
    features: str  # the kind of features in words, e.g. 'fc7 features'


def feature_words(kind: str, layer: str) -> str:
    """A kind of features in words: 'raw pixels', or the network's last hidden layer's, e.g. 'fc7 features'."""
    return f"{layer} features" if kind == "learned" else FEATURE_KINDS[kind]


def separability_steps(count: int, methods: Sequence[str], input_size: int = COSTED_INPUT_SIZE,
                       layer: str = "fc7", network: str = "alexnet") -> list[SeparabilityStep]:
    """The steps of comparing raw pixels with the features of the network's last hidden ``layer`` on ``count`` test
    images, in order, with expected times (measured on AlexNet; another network's features cost in proportion to
    its multiply-adds)."""
    unknown = set(methods) - set(PROJECTIONS)
    if unknown:
        raise ValueError(f"method must be one of {', '.join(PROJECTIONS)}, not {', '.join(sorted(unknown))}")
    steps = []
    for kind in FEATURE_KINDS:
        words = feature_words(kind, layer)
        tasks = {"features": f"{words} of {count:,} test images"} if kind != "raw" else {}
        tasks["probe"] = f"linear probe on {words}"
        tasks.update({method: f"{PROJECTIONS[method].display} of {words}" for method in methods})
        for task, label in tasks.items():
            at_1000, growth = STEP_COSTS[kind, task]
            seconds = at_1000 * (count / 1000) ** growth
            if task == "features":
                seconds *= count_macs(input_size, network) / count_macs(COSTED_INPUT_SIZE)
            steps.append(SeparabilityStep(kind, task, label, seconds, words))
    return steps


LADDER_GRID = 4  # a conv layer's maps are averaged down to at most 4×4 places before its probe (see ladder)


def ladder_features(net: nn.Sequential, images: torch.Tensor, input_size: int) -> dict[str, np.ndarray]:
    """The rungs of the representation ladder for uint8 N×1×28×28 images, a row each: raw pixels, HOG (the hand-made
    features, 1,296 numbers), then every inspectable layer of the network, first to last. A conv layer's maps are
    averaged down to at most LADDER_GRID×LADDER_GRID places: conv1's 96 × 15 × 15 numbers would make its probe
    minutes long, and where a stroke lies within a quarter of the picture matters little to a class."""
    rungs = {"raw pixels": raw_pixels(images), "HOG": HOG()(to_model_input(images, SIDE)).numpy()}
    layers = inspectable_layers(net)
    columns: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}
    for _, outputs in in_batches(net, images, input_size, layers):
        for layer, output in outputs.items():
            if output.ndim == 4:
                output = F.adaptive_avg_pool2d(output.float(), min(LADDER_GRID, output.shape[-1]))
            columns[layer].append(output.flatten(1).float().cpu())
    return rungs | {layer: torch.cat(parts).numpy() for layer, parts in columns.items()}


def representation_ladder(net: nn.Sequential, images: torch.Tensor, labels: np.ndarray, input_size: int,
                          progress: Callable[[int, int], None] = lambda done, total: None) -> dict[str, float]:
    """How separable the classes are on each rung of ``ladder_features``: the linear probe's held-out accuracy
    (``holdout_probe``), rung by rung; ``progress`` hears (rungs done, rungs)."""
    rungs = ladder_features(net, images, input_size)
    accuracies = {}
    for done, (name, features) in enumerate(rungs.items(), start=1):
        accuracies[name] = holdout_probe(features, labels)
        progress(done, len(rungs))
    return accuracies
