"""Turn any picture (an upload or a drawing) into a Fashion-MNIST-like 28×28 image, step by step."""
from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# A 24-megapixel camera's photo; a 16-bit picture this size takes ~50 MB decoded, and 40 MP had cost 1 GB.
MAX_PIXELS = 24_000_000
MAX_UPLOADS = 12  # pictures answered at once: more are left out, with a note
MIN_SIDE = 8
SIDE = 28
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
FILE_TYPES = ("png", "jpg", "jpeg", "webp", "bmp", "gif")  # FORMATS' file name endings, for upload widgets
# Pictures are shrunk to this before the stages: the result is 28×28 anyway, and big photos stay fast.
WORK_SIDE = 1024
# Grey levels (out of 255) a pixel must stand out from the background by to surely be the garment
# (Fashion-MNIST trimmed its photos at 5%; 8% plus a multiple of the border's noise ignores JPEG noise).
OBJECT_THRESHOLD = 20
# Fainter pixels up to this far from the garment also count, so soft edges and halos are not cut off.
EDGE_GROWTH = 3
# A garment already this close to 28 pixels (Fashion-MNIST's own size) is padded to 28, not resampled.
NATIVE_SLACK = 2
# open_picture leaves its notes (e.g. about an animated GIF) here for preprocess to report.
NOTES_KEY = "alexnet_explorer_notes"


class PictureError(ValueError):
    """A picture that cannot be used, with a message meant for the user."""


@dataclass
class PreprocessOptions:
    """Which preprocessing stages to run; switch one off to see why it matters."""

    exif_transpose: bool = True
    composite_alpha: bool = True
    auto_invert: bool = True
    crop_to_object: bool = True
    pad_to_square: bool = True


@dataclass
class Stage:
    """One preprocessing step: its title, why it is done, and the picture after it (uint8 H×W, H×W×3 or H×W×4); the
    PreprocessOptions field that switches it off, if one does, and whether it was switched off (then the picture is
    the one it was given)."""

    name: str
    explanation: str
    image: np.ndarray
    switch: str | None = None
    switched_off: bool = False


@dataclass
class Preprocessed:
    """The stages taken, the final uint8 28×28 light-on-dark image, the picture as given (upright, 8-bit, at most
    WORK_SIDE a side: what a person sees as theirs), and notes for the user."""

    stages: list[Stage]
    image28: np.ndarray
    picture: np.ndarray
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Upload:
    """A picture file by name: its preprocessing, or why it cannot be used."""

    name: str
    prepared: Preprocessed | None = None
    problem: str | None = None


def open_picture(data: bytes, name: str = "upload") -> Image.Image:
    """Decode an uploaded PNG, JPEG, WebP, BMP or GIF, raising PictureError with a helpful message."""
    if not data:
        raise PictureError(f"“{name}” is empty (0 bytes). Please choose a picture file such as a PNG or JPEG.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PictureError(
            f"“{name}” is {len(data) / 2**20:.1f} MB, more than the {MAX_UPLOAD_BYTES // 2**20} MB limit. "
            "Please use a smaller picture."
        )
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
        # Checked before any pixel is decoded; MAX_PIXELS is below Pillow's own (global) bomb limits.
        if image.width * image.height > MAX_PIXELS:
            raise Image.DecompressionBombError
        image.seek(0)
        image.load()
    except Image.DecompressionBombError:
        raise PictureError(
            f"“{name}” has too many pixels (the limit is {MAX_PIXELS // 1_000_000} megapixels). "
            "Please use a smaller picture."
        ) from None
    except UnidentifiedImageError:
        raise PictureError(
            f"“{name}” is not a picture this app can read. Please upload a PNG, JPEG, WebP, BMP or GIF file."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise PictureError(f"“{name}” seems damaged or incomplete. Please try another copy of the picture.") from None
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"“{name}” has several frames (an animation?): only the first one was used.")
    picture = image.copy()  # detaches the first frame from the file
    picture.info[NOTES_KEY] = notes
    _check_size(picture)
    return picture


def canvas_to_image(rgba: np.ndarray) -> Image.Image:
    """Turn a drawing canvas's H×W×4 uint8 RGBA array into a picture for preprocess."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise PictureError("The drawing could not be read. Please clear the canvas and draw again.")
    rgba = np.clip(rgba, 0, 255).astype(np.uint8)
    if not rgba[..., 3].any() or np.ptp(rgba.reshape(-1, 4), axis=0).max() == 0:
        raise PictureError("The canvas is empty: draw a garment first.")
    return Image.fromarray(rgba, "RGBA")


def preprocess(image: Image.Image, options: PreprocessOptions | None = None) -> Preprocessed:
    """Run the preprocessing stages on a picture and return each step and the 28×28 result."""
    options = options or PreprocessOptions()
    notes = list(image.info.get(NOTES_KEY, []))
    _check_size(image)
    stages: list[Stage] = []
    # Each switchable step is listed where it applies to this picture, done or switched off; Upright and Remove
    # transparency apply only to a photo stored turned and to a picture with transparent parts.
    stored_turned = image.getexif().get(ExifTags.Base.Orientation, 1) not in (0, 1)
    if stored_turned and options.exif_transpose:
        image = ImageOps.exif_transpose(image)
    image = _standard_mode(image)
    image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    picture = np.asarray(image)
    if stored_turned:
        stages.append(_step("Upright", "Phones store photos sideways with a note to rotate them; this photo's note "
                            "was applied.", "the photo stays as it was stored.", picture, "exif_transpose", options))

    if image.mode == "RGBA" and np.asarray(image)[..., 3].min() < 255:
        if options.composite_alpha:
            image, on_white = _composite(image)
            done = (f"Transparent parts were filled with {'white' if on_white else 'black'}, the colour that "
                    "contrasts with the garment.")
        else:
            image, done = image.convert("RGB"), ""  # keeps whatever colour hides under the transparent pixels
        stages.append(_step("Remove transparency", done, "the colours hidden under the transparent parts show.",
                            np.asarray(image), "composite_alpha", options))
    gray = np.asarray(image.convert("L"))
    stages.append(Stage("Grayscale", "Fashion-MNIST pictures have no colour, only brightness.", gray))

    background, noise = _background(gray)
    if options.auto_invert:
        light = background > 127
        if light:
            gray = 255 - gray
            background = 255 - background
            notes.append("The background was light, so the picture was inverted (garments are light on black).")
        # Stretch the levels so the background becomes pure black, as in Fashion-MNIST.
        gain = 255 / (255 - background)
        gray = np.clip((gray.astype(np.float32) - background) * gain, 0, 255).round().astype(np.uint8)
        background, noise = 0, noise * gain
    stages.append(_step("Light on black", "The background was light, so the colours were inverted and the background "
                        "made black." if options.auto_invert and light else "The background was made pure black, "
                        "like Fashion-MNIST's.", "the picture keeps its own background.", gray, "auto_invert",
                        options))

    mask = _garment_mask(gray, background, noise)
    if options.crop_to_object:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        gray = gray[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    stages.append(_step("Crop to the garment", "Fashion-MNIST garments fill the frame, so the empty border is cut "
                        "away.", "the empty border stays.", gray, "crop_to_object", options))
    if options.pad_to_square:
        gray = _pad_square(gray, background)
    stages.append(_step("Pad to a square", "Background is added on the short side so resizing keeps the garment's "
                        "shape.", "resizing will squeeze the garment into a square.", gray, "pad_to_square", options))
    if gray.shape[0] == gray.shape[1] and SIDE - NATIVE_SLACK <= gray.shape[0] <= SIDE:
        image28 = _pad_square(gray, background, SIDE)  # resampling by a few percent would only blur it
    else:  # Pillow's resize filters the whole source area, so shrinking does not alias
        image28 = np.asarray(Image.fromarray(gray).resize((SIDE, SIDE), Image.Resampling.LANCZOS))
    stages.append(Stage("Resize to 28×28", "Fashion-MNIST's size: the network learned from 28×28 pictures, each "
                                           "enlarged to its input size as this one will be.", image28))
    return Preprocessed(stages=stages, image28=image28, picture=picture, notes=notes)


def _step(name: str, done: str, off: str, image: np.ndarray, switch: str, options: PreprocessOptions) -> Stage:
    """A switchable step as done (its explanation ``done``), or as switched off ("Switched off: ``off``")."""
    on = getattr(options, switch)
    return Stage(name, done if on else f"Switched off: {off}", image, switch, switched_off=not on)


def prepare_upload(data: bytes, name: str, options: PreprocessOptions | None = None) -> Upload:
    """Open and preprocess an uploaded file; a picture that cannot be used gets the reason as its problem, which
    names the file (among several uploads a reason alone does not say which it is)."""
    try:
        return Upload(name, prepared=preprocess(open_picture(data, name), options))
    except PictureError as error:
        reason = str(error)
        return Upload(name, problem=reason if f"“{name}”" in reason else f"“{name}”: {reason}")


def prepare_uploads(files: Sequence[tuple[str, bytes]],
                    options: PreprocessOptions | None = None) -> tuple[list[Upload], list[str]]:
    """Open and preprocess uploaded files (name, content), each picture once: a file dropped again, or the same
    picture under another name, is left out with a note saying so."""
    uploads, notes, seen = [], [], {}
    if len(files) > MAX_UPLOADS:
        notes.append(f"{len(files)} files were dropped: only the first {MAX_UPLOADS} are answered at once.")
        files = files[:MAX_UPLOADS]
    for name, data in files:
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            notes.append(f"“{name}” was added twice: it is listed once." if seen[digest] == name else
                         f"“{name}” is the same picture as “{seen[digest]}”: it is listed once.")
            continue
        seen[digest] = name
        uploads.append(prepare_upload(data, name, options))
    return uploads, notes


def to_tensor(image28: np.ndarray) -> torch.Tensor:
    """Turn a uint8 28×28 image into a uint8 1×1×28×28 tensor, the format of the training data."""
    image28 = np.asarray(image28)
    if image28.shape != (SIDE, SIDE) or image28.dtype != np.uint8:
        raise ValueError(f"expected a uint8 {SIDE}×{SIDE} array, got {image28.dtype} {image28.shape}")
    return torch.tensor(image28).reshape(1, 1, SIDE, SIDE)


def _check_size(image: Image.Image) -> None:
    """Refuse pictures too small to show a garment."""
    if min(image.size) < MIN_SIDE:
        raise PictureError(f"The picture is only {image.width}×{image.height} pixels, too small to show a garment. "
                           f"Please use one at least {MIN_SIDE}×{MIN_SIDE} (28×28 or bigger works best).")


def _standard_mode(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit L, RGB or RGBA."""
    if image.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float32)  # float64 would double a big picture's memory
        full_scale = 65535 if image.mode.startswith("I;16") or values.max() > 255 else 255
        values *= 255 / full_scale
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L")
    if image.mode in ("L", "RGB", "RGBA"):
        return image.copy()
    if "A" in image.getbands() or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # CMYK, P, YCbCr, LAB, HSV


def _composite(image: Image.Image) -> tuple[Image.Image, bool]:
    """Composite an RGBA picture onto white if its visible content is dark, else onto black."""
    rgba = np.asarray(image).astype(np.float32)
    alpha = rgba[..., 3:] / 255
    luma = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    on_white = bool((luma * alpha[..., 0]).sum() < 127.5 * max(alpha.sum(), 1e-6))
    composited = rgba[..., :3] * alpha + (255.0 if on_white else 0.0) * (1 - alpha)
    return Image.fromarray(composited.round().astype(np.uint8), "RGB"), on_white


def _background(gray: np.ndarray) -> tuple[int, float]:
    """Estimate the background level and noise: the median of the outer ring and its median deviation."""
    ring = max(1, min(gray.shape) // 50)
    border = np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(), gray[:, :ring].ravel(), gray[:, -ring:].ravel()])
    level = int(np.median(border))
    return level, float(np.median(np.abs(border.astype(np.int16) - level)))


def _garment_mask(gray: np.ndarray, background: int, noise: float) -> np.ndarray:
    """Find the pixels that stand out from the background."""
    difference = np.abs(gray.astype(np.int16) - background)
    mask = difference > OBJECT_THRESHOLD + 3 * noise
    if not mask.any():
        raise PictureError("The picture is empty: nothing stands out from the background. "
                           "Draw or upload a garment.")
    near = mask.copy()
    for _ in range(EDGE_GROWTH):  # 3×3 dilation, done as a vertical then a horizontal step
        tall = near.copy()
        tall[1:] |= near[:-1]
        tall[:-1] |= near[1:]
        near = tall.copy()
        near[:, 1:] |= tall[:, :-1]
        near[:, :-1] |= tall[:, 1:]
    return mask | (near & (difference > 2 * noise))


def _pad_square(gray: np.ndarray, fill: int, side: int = 0) -> np.ndarray:
    """Centre the picture on a square of the background level, as big as its longest side or `side`."""
    height, width = gray.shape
    side = max(height, width, side)
    square = np.full((side, side), fill, dtype=np.uint8)
    # Rounded up, as in Fashion-MNIST, where an odd leftover pixel goes before the garment.
    top, left = (side - height + 1) // 2, (side - width + 1) // 2
    square[top:top + height, left:left + width] = gray
    return square
