"""Fashion-MNIST: where the files come from, IDX reading, and device-resident batches."""
from __future__ import annotations

import gzip
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .options import Option

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# What guessing scores (every class equally likely): cross-entropy ln 10, accuracy 1/10.
CHANCE_LOSS, CHANCE_ACC = math.log(len(CLASSES)), 1 / len(CLASSES)
DATA_ENV = "ALEXNET_EXPLORER_DATA"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_UBYTE = 0x08
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000  # the official split


class DataUnavailableError(RuntimeError):
    """No source could provide Fashion-MNIST; the message says how to get it."""


class CorruptDataError(RuntimeError):
    """An IDX file exists but is truncated or not an IDX file."""


@dataclass(frozen=True)
class FashionMNIST:
    """All 70,000 images as uint8 N×1×28×28 tensors with int64 labels."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: str
    classes: tuple[str, ...] = CLASSES


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes (gzip'd or raw) into an array of its declared shape."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:  # gzip raises these for a truncated or non-gzip file
        raise CorruptDataError(f"{path} is damaged and cannot be read ({error}); delete it and get it again") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE:
        raise CorruptDataError(f"{path} is not an IDX file of unsigned bytes; delete it and get it again")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise CorruptDataError(f"{path} is truncated (its header is incomplete); delete it and get it again")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise CorruptDataError(
            f"{path} is truncated or damaged: it has {len(raw):,} bytes where its header promises {expected:,}; "
            "delete it and get it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_files(directory: Path) -> dict[str, Path] | None:
    """The four IDX files in a directory, flat or in torchvision's FashionMNIST/raw layout, raw or gzip'd."""
    found = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / name for folder in (directory, directory / "FashionMNIST" / "raw")
                      for name in (stem, stem + ".gz")]
        existing = [c for c in candidates if c.is_file()]
        if not existing:
            return None
        found[key] = existing[0]
    return found


def default_cache_dir() -> Path:
    """Where torchvision's download goes when no directory is named."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "alexnet-explorer"


def download(directory: Path) -> None:
    """Fetch Fashion-MNIST into a directory with torchvision (needs the internet)."""
    import torchvision  # imported here: only this path needs it

    for train in (True, False):
        torchvision.datasets.FashionMNIST(str(directory), train=train, download=True)


def _unavailable(tried: list[str]) -> DataUnavailableError:
    return DataUnavailableError(
        "Fashion-MNIST could not be found or downloaded. Looked in: " + "; ".join(tried) + ". "
        "To get it: on Debian or Ubuntu run `apt-get install dataset-fashion-mnist` (puts the files in "
        f"{DEBIAN_DIR}); or connect to the internet and let torchvision download it; or put the four IDX files "
        "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
        f"gzip'd or not) in a folder and pass it with --data-root DIR or the {DATA_ENV} environment variable.")


def locate(data_root: str | Path | None = None, allow_download: bool = True) -> dict[str, Path]:
    """Find the IDX files: a named folder alone, else Debian's copy, else torchvision's cache and download."""
    named = data_root or data_root_from_env()
    folders = [Path(named)] if named else [DEBIAN_DIR, default_cache_dir()]
    tried = []
    for folder in folders:
        files = find_idx_files(folder)
        if files:
            return files
        tried.append(f"{folder} (no IDX files)")
    if allow_download:
        target = folders[-1]
        try:
            download(target)
        except Exception as error:  # no network, no permission, a server error: all mean "not here"
            reason = " ".join(str(error).split())  # torchvision's message spans lines; keep one paragraph
            tried.append(f"a download into {target} ({type(error).__name__}: {reason})")
        else:
            files = find_idx_files(target)
            if files:
                return files
    raise _unavailable(tried)


def load_fashion_mnist(data_root: str | Path | None = None, allow_download: bool = True) -> FashionMNIST:
    """Load all of Fashion-MNIST from the first source that has it (see ``locate``)."""
    files = locate(data_root, allow_download)
    arrays = {key: read_idx(path) for key, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
            raise CorruptDataError(
                f"{files[f'{split}_images']} and {files[f'{split}_labels']} do not form a Fashion-MNIST split "
                f"(images {images.shape}, labels {labels.shape})")
        if labels.max(initial=0) >= len(CLASSES):
            raise CorruptDataError(f"{files[f'{split}_labels']} has labels outside 0-9")

    def tensor(key: str) -> torch.Tensor:
        return torch.from_numpy(arrays[key].copy())

    return FashionMNIST(
        train_images=tensor("train_images").unsqueeze(1), train_labels=tensor("train_labels").long(),
        test_images=tensor("test_images").unsqueeze(1), test_labels=tensor("test_labels").long(),
        source=str(files["train_images"].parent))


def data_root_from_env() -> str | None:
    """The folder $ALEXNET_EXPLORER_DATA names, or None when it is not set."""
    return os.environ.get(DATA_ENV)


def missing_data() -> str | None:
    """Why training cannot find Fashion-MNIST here (the paragraph the command line prints), or None when it can."""
    try:
        locate(allow_download=False)
    except DataUnavailableError as error:
        return str(error)
    return None


def subset_indices(count: int, limit: int | None, seed: int) -> torch.Tensor:
    """The positions ``subset`` takes from ``count`` examples: a seeded random ``limit`` of them, or all in order."""
    if limit is None or limit >= count:
        return torch.arange(count)
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed))[:limit]


def subset(images: torch.Tensor, labels: torch.Tensor, limit: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded random subset of at most ``limit`` examples (all of them when limit is None)."""
    if limit is None or limit >= len(images):
        return images, labels
    order = subset_indices(len(images), limit, seed)
    return images[order], labels[order]


def to_model_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """Scale uint8 (or [0, 1] float) N×1×28×28 images to [0, 1] floats and resize them to size×size."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def pixel_statistics(images: torch.Tensor) -> tuple[float, float]:
    """Mean and std of all the pixels of these pictures, on the network's [0, 1] input scale."""
    std, mean = torch.std_mean(to_model_input(images, images.shape[-1]))
    return float(mean), float(std)


def augment(images: torch.Tensor, generator: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random horizontal flip and a random shift of up to ``max_shift`` pixels, done on the images' device."""
    n, _, h, w = images.shape
    draws = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator).to(images.device)
    flips = torch.randint(0, 2, (n,), generator=generator).bool().to(images.device)
    images = torch.where(flips[:, None, None, None], images.flip(-1), images)
    padded = F.pad(images, (max_shift,) * 4)
    rows = torch.arange(h, device=images.device)[None, :] + draws[:, :1]
    cols = torch.arange(w, device=images.device)[None, :] + draws[:, 1:]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def augment_like_drawings(images: torch.Tensor, generator: torch.Generator, share: float = 0.5) -> torch.Tensor:
    """Changes like those between Fashion-MNIST's photos and garments people draw or photograph, done on the images'
    device: every image flipped half the time, and ``share`` of them also reshaped (each side scaled by 0.75–1.05,
    rotated by up to 12°, moved by up to 10 %), redrawn (a flat fill or an outline instead of the texture, strokes
    thicker or thinner), blurred and dimmed or brightened. Returns [0, 1] floats."""
    n, device = len(images), images.device

    def chance(*shape: int) -> torch.Tensor:  # drawn on the CPU generator: the same numbers on every device
        return torch.rand(*shape, generator=generator).to(device)

    def where(picked: torch.Tensor, changed: torch.Tensor, unchanged: torch.Tensor) -> torch.Tensor:
        return torch.where(picked[:, None, None, None], changed, unchanged)

    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    x = where(chance(n) < 0.5, x.flip(-1), x)  # students draw shoes pointing either way
    chosen, geometry, drawing, look = chance(n) < share, chance(n, 5), chance(n, 3), chance(n, 3)

    scale = 0.75 + 0.3 * geometry[:, :2]
    angle = math.radians(12) * (2 * geometry[:, 2] - 1)
    shift = 0.2 * (geometry[:, 3:] - 0.5)  # in units of half the picture
    theta = torch.stack([torch.stack([angle.cos() / scale[:, 0], -angle.sin() / scale[:, 0], shift[:, 0]], 1),
                         torch.stack([angle.sin() / scale[:, 1], angle.cos() / scale[:, 1], shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    moved = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def dilate(image: torch.Tensor) -> torch.Tensor:  # the 3×3 maximum, as shifted copies (max_pool2d is slower)
        padded = F.pad(image, (1, 1, 1, 1))
        rows = torch.maximum(torch.maximum(padded[..., :-2, :], padded[..., 1:-1, :]), padded[..., 2:, :])
        return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])

    def erode(image: torch.Tensor) -> torch.Tensor:
        return -dilate(-image)

    # A drawing is one flat colour, or only its contour, where a photo has texture.
    silhouette = (moved > 0.1).float() * (0.6 + 0.4 * look[:, :1, None, None])
    redrawn = where(drawing[:, 0] < 0.3, silhouette, moved)
    redrawn = where((drawing[:, 0] >= 0.3) & (drawing[:, 0] < 0.4), dilate(silhouette) - erode(silhouette), redrawn)
    redrawn = where(drawing[:, 1] < 0.2, dilate(redrawn), where(drawing[:, 1] > 0.8, erode(redrawn), redrawn))
    kernel = torch.tensor([1.0, 2.0, 1.0], device=device)
    kernel = (kernel[:, None] * kernel[None, :] / 16).reshape(1, 1, 3, 3)
    redrawn = where(drawing[:, 2] < 0.3, F.conv2d(redrawn, kernel, padding=1), redrawn)
    redrawn = (redrawn * (0.6 + 0.7 * look[:, 1:2, None, None])).clamp(0, 1)
    return where(chosen, redrawn, x)


# Adding an augmentation is one line here: the configuration, the command line and the Train page read the table.
AUGMENTATIONS = {"none": Option("none", lambda images, generator: images),
                 "flip-shift": Option("flips and 2-pixel shifts", augment),
                 "drawings": Option("like drawings and photos", augment_like_drawings)}


class DeviceBatches:
    """Mini-batches from a dataset kept on the training device; shuffle, augment and resize happen there.

    With ``shard=(rank, world_size)`` each batch is this rank's slice of the global batch, in the same order on every
    rank (see distributed.py); the batch size stays the global one.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int, size: int,
                 device: torch.device, shuffle: bool = False, augment: str = "none", seed: int = 0,
                 shard: tuple[int, int] = (0, 1)):
        self.images = images.to(device)
        self.labels = labels.to(device)
        self.batch_size, self.size, self.device = batch_size, size, device
        self.shuffle, self.augment = shuffle, augment
        self.rank, self.world_size = shard
        self.generator = torch.Generator().manual_seed(seed)  # on the CPU: same permutation on every device and rank

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.starting_at(0)

    def global_batch_size(self, batch: int) -> int:
        """Images in a batch over all ranks (the last one of a pass may be short)."""
        return min(self.batch_size, len(self.images) - batch * self.batch_size)

    def starting_at(self, first_batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the data, skipping the first batches of this pass's order (for resuming)."""
        n = len(self.images)
        order = (torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)).to(self.device)
        for start in range(first_batch * self.batch_size, n, self.batch_size):
            index = order[start:start + self.batch_size]
            x, y = self.images[index], self.labels[index]
            # the whole global batch, so that every rank's generator draws the same numbers
            x = AUGMENTATIONS[self.augment].make(x, self.generator)
            x, y = x.tensor_split(self.world_size)[self.rank], y.tensor_split(self.world_size)[self.rank]
            yield to_model_input(x, self.size), y


class ChapterDataset(torch.utils.data.Dataset):
    """The chapter's per-image pipeline: a PIL image, ``transforms.Resize`` then ``ToTensor``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, resize: int | None):
        from PIL import Image
        from torchvision import transforms

        self.images, self.labels, self._to_pil = images, labels, Image.fromarray
        steps = [transforms.ToTensor()]
        if resize:
            steps.insert(0, transforms.Resize(resize))
        self.transform = transforms.Compose(steps)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(self._to_pil(self.images[i, 0].numpy(), mode="L")), int(self.labels[i])


def load_data_fashion_mnist(batch_size: int, resize: int | None = None, data_root: str | Path | None = None,
                            num_workers: int = 4) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """The chapter's own loaders (torchvision transforms per image, worker processes), for comparison."""
    data = load_fashion_mnist(data_root)
    loader = torch.utils.data.DataLoader
    return (loader(ChapterDataset(data.train_images, data.train_labels, resize), batch_size, shuffle=True,
                   num_workers=num_workers),
            loader(ChapterDataset(data.test_images, data.test_labels, resize), batch_size, shuffle=False,
                   num_workers=num_workers))
