"""The class's own test set: pictures students drew or uploaded and chose to keep, each with what it really is.

They live beside the runs (``runs.class_test_set_dir``) as PNG files in a folder per class, ``3-dress/…png``: the
layout of torchvision's ImageFolder, so the exported ZIP is a dataset as it stands. A picture is named by its
content's hash: keeping it again changes nothing, keeping it as another class moves it. Nothing is written that a
student did not choose to keep.
"""
from __future__ import annotations

import csv
import hashlib
import io
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .classroom import Person
from .data import CLASSES
from .evaluation import Answers
from .classifier import Classifier
from .prediction import probabilities
from .preprocess import PictureError, preprocess
from .runs import class_test_set_dir, slug, write_atomically


def class_folder(label: int) -> str:
    """The folder of a class's pictures, e.g. '0-t-shirt-top' (numbered, so that folders sort in class order)."""
    return f"{label}-{slug(CLASSES[label])}"


FOLDERS = {class_folder(label): label for label in range(len(CLASSES))}


@dataclass(frozen=True)
class KeptPicture:
    """One kept picture: its file and what it really is."""

    path: Path
    label: int

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def _png(picture: np.ndarray) -> tuple[bytes, str]:
    """A picture's PNG file and the name it is kept under (its content's hash)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
    png = buffer.getvalue()
    return png, hashlib.sha256(png).hexdigest()[:16] + ".png"


def keep(picture: np.ndarray, label: int, root: str | Path | None = None) -> KeptPicture:
    """Keep a picture (uint8 H×W, H×W×3 or H×W×4, as the student gave it) as a picture of class ``label``."""
    if not 0 <= label < len(CLASSES):
        raise ValueError(f"a class is a number from 0 to {len(CLASSES) - 1}, not {label}")
    png, file_name = _png(picture)
    earlier = find(picture, root)
    if earlier is not None and earlier.label != label:  # kept before as another class: it is that class no more
        forget(earlier)
    folder = class_test_set_dir(root) / class_folder(label)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / file_name, lambda path: path.write_bytes(png))
    return KeptPicture(folder / file_name, label)


def find(picture: np.ndarray, root: str | Path | None = None) -> KeptPicture | None:
    """This picture in the class test set, if it was kept."""
    file_name = _png(picture)[1]
    base = class_test_set_dir(root)
    return next((KeptPicture(base / folder / file_name, label) for folder, label in FOLDERS.items()
                 if (base / folder / file_name).is_file()), None)


def kept(root: str | Path | None = None) -> list[KeptPicture]:
    """Every kept picture, the newest first."""
    base = class_test_set_dir(root)
    pictures = [KeptPicture(path, FOLDERS[folder]) for folder in FOLDERS for path in (base / folder).glob("*.png")]
    return sorted(pictures, key=_kept_at, reverse=True)


def _kept_at(picture: KeptPicture) -> float:
    try:
        return picture.path.stat().st_mtime
    except OSError:  # forgotten meanwhile
        return 0.0


def forget(picture: KeptPicture) -> None:
    """Delete one kept picture."""
    picture.path.unlink(missing_ok=True)


def forget_all(by: Person, root: str | Path | None = None) -> int:
    """Delete the whole class test set; returns how many pictures it had. PermissionError unless ``by`` is the
    instructor (or the one person of an app without a passcode)."""
    if not by.instructor:
        raise PermissionError("only the instructor can delete the class's test set")
    count = len(kept(root))
    shutil.rmtree(class_test_set_dir(root), ignore_errors=True)
    return count


def zip_archive(pictures: list[KeptPicture]) -> bytes:
    """The pictures as a ZIP: a folder per class and labels.csv (file, label, class)."""
    buffer, table = io.BytesIO(), io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["file", "label", "class"])
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for picture in sorted(pictures, key=lambda p: p.name):
            try:
                archive.write(picture.path, picture.name)
            except OSError:  # forgotten meanwhile
                continue
            writer.writerow([picture.name, picture.label, CLASSES[picture.label]])
        archive.writestr("labels.csv", table.getvalue())
    return buffer.getvalue()


@dataclass(frozen=True)
class Prepared:
    """The kept pictures the network can be asked about, as 28×28 pictures, and those that could not be read."""

    pictures: list[KeptPicture]
    images28: list[np.ndarray]
    unreadable: list[KeptPicture]


def prepare(pictures: list[KeptPicture]) -> Prepared:
    """Each kept picture through the standard preprocessing (every step on)."""
    usable, images, unreadable = [], [], []
    for picture in pictures:
        try:
            with Image.open(picture.path) as image:
                images.append(preprocess(image).image28)
            usable.append(picture)
        except (OSError, PictureError, ValueError):
            unreadable.append(picture)
    return Prepared(usable, images, unreadable)


def answers(classifier: Classifier, prepared: Prepared) -> Answers:
    """The network's answers to the class's pictures."""
    labels = np.array([picture.label for picture in prepared.pictures], dtype=np.int64)
    probs = probabilities(classifier, prepared.images28) if prepared.images28 else np.zeros((0, len(CLASSES)))
    return Answers(labels, probs)
