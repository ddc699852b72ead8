"""Turning uploads and drawings into Fashion-MNIST-like 28×28 images, and refusing bad pictures clearly."""
from __future__ import annotations

import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from alexnet_explorer import exports
from alexnet_explorer.data import to_model_input
from alexnet_explorer.preprocess import (
    MAX_PIXELS,
    MAX_UPLOADS,
    MAX_UPLOAD_BYTES,
    PictureError,
    PreprocessOptions,
    canvas_to_image,
    open_picture,
    prepare_upload,
    prepare_uploads,
    preprocess,
    to_tensor,
)

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
SHIRT = [(60, 40), (100, 30), (140, 40), (180, 80), (160, 100), (140, 90), (140, 170), (60, 170), (60, 90),
         (40, 100), (20, 80)]  # a T-shirt silhouette, 160 wide and 140 tall, on a 200×200 picture


def shirt(garment: int = 210, background: int = 0, size: int = 200, offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A grey T-shirt on a plain background."""
    image = Image.new("L", (size, size), background)
    ImageDraw.Draw(image).polygon([(x + offset[0], y + offset[1]) for x, y in SHIRT], fill=garment)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def run(image: Image.Image, **options) -> np.ndarray:
    return preprocess(image, PreprocessOptions(**options)).image28


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def bbox(image28: np.ndarray, level: int = 64) -> tuple[int, int]:
    """Height and width of the pixels brighter than level."""
    rows, cols = np.flatnonzero((image28 > level).any(axis=1)), np.flatnonzero((image28 > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centroid(image28: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image28.shape)
    weights = image28.astype(np.float64)
    return (rows * weights).sum() / weights.sum(), (cols * weights).sum() / weights.sum()


def png_with_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims width×height pixels."""
    data = bytearray(encode(Image.new("1", (8, 8))))
    ihdr = bytearray(data[12:29])  # chunk type and 13 data bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return run(shirt())


def test_result_is_light_garment_on_black_filling_the_frame(reference):
    assert reference.dtype == np.uint8 and reference.shape == (28, 28)
    assert reference[0].max() < 10 and reference[:, 0].max() > 100  # the shirt is wider than tall
    assert reference.max() > 180
    assert bbox(reference)[1] >= 27


def test_dark_on_white_matches_light_on_black(reference):
    result = preprocess(shirt(garment=45, background=255))
    assert diff(result.image28, reference) < 3
    assert any("inverted" in note for note in result.notes)
    assert not preprocess(shirt()).notes


def test_off_centre_object_is_centred():
    image = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(image).ellipse((10, 20, 90, 80), fill=230)
    rows, cols = centroid(run(image))
    assert abs(rows - 13.5) < 0.75 and abs(cols - 13.5) < 0.75


def test_aspect_ratio_is_kept_and_lost_without_padding():
    image = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(image).rectangle((100, 50, 119, 149), fill=255)  # 20 wide, 100 tall
    height, width = bbox(run(image))
    assert height == 28 and 4 <= width <= 8
    assert bbox(run(image, pad_to_square=False)) == (28, 28)


def test_fashion_mnist_like_picture_goes_through_unchanged():
    image28 = np.zeros((28, 28), np.uint8)
    image28[:, 7:21] = np.linspace(90, 250, 28, dtype=np.uint8)[:, None]
    image28[3:25, 5:7] = 60  # faint sleeve
    image28[3:25, 21:23] = 60
    assert diff(run(Image.open(io.BytesIO(encode(Image.fromarray(image28))))), image28) == 0


@pytest.mark.skipif(not FASHION_MNIST.exists(), reason="needs the Debian dataset-fashion-mnist files")
def test_real_fashion_mnist_images_go_through_unchanged():
    raw = gzip.open(FASHION_MNIST).read()
    magic, _, rows, cols = struct.unpack(">IIII", raw[:16])
    assert (magic, rows, cols) == (2051, 28, 28)
    images = np.frombuffer(raw, np.uint8, count=100 * 28 * 28, offset=16).reshape(100, 28, 28)
    results = [run(open_picture(encode(Image.fromarray(image)))) for image in images]
    differences = np.array([diff(result, image) for result, image in zip(results, images)])
    assert (differences == 0).mean() >= 0.95
    for result, image in zip(results, images):  # the rest are at most shifted by one pixel
        shifts = [diff(np.roll(result, (dy, dx), axis=(0, 1)), image) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        assert min(shifts) < 3


def test_switching_inversion_off_keeps_a_light_background():
    assert run(shirt(garment=45, background=255), auto_invert=False).mean() > 128


def test_switching_crop_off_keeps_the_empty_border(reference):
    small = shirt(size=600, offset=(50, 300))
    assert diff(run(small), reference) < 3
    height, width = bbox(run(small, crop_to_object=False))
    assert width < 12 and height < 12


def test_steps_are_named_in_order_and_showable():
    result = preprocess(shirt(garment=45, background=255))
    assert [step.name for step in result.stages] == [
        "Grayscale", "Light on black", "Crop to the garment", "Pad to a square", "Resize to 28×28"]
    for step in result.stages:
        assert step.image.dtype == np.uint8 and step.image.ndim in (2, 3) and step.explanation
    assert np.array_equal(result.stages[-1].image, result.image28)
    assert [step.switch for step in result.stages] == [None, "auto_invert", "crop_to_object", "pad_to_square", None]
    off = preprocess(shirt(), PreprocessOptions(exif_transpose=False, auto_invert=False, crop_to_object=False,
                                                pad_to_square=False)).stages
    assert [step.name for step in off if not step.switched_off] == ["Grayscale", "Resize to 28×28"]
    # A step switched off stays in its place, with its switch, the picture it was given and why it did nothing.
    assert [(step.name, step.switch) for step in off if step.switched_off] == [
        ("Light on black", "auto_invert"), ("Crop to the garment", "crop_to_object"),
        ("Pad to a square", "pad_to_square")]
    assert all(step.explanation.startswith("Switched off: ") for step in off if step.switched_off)
    assert np.array_equal(off[1].image, off[0].image)  # Light on black, off: the grayscale picture as it was


@pytest.mark.parametrize("garment, rgb_under_transparency", [(45, 0), (45, 255), (210, 0), (210, 255)])
def test_transparent_png_of_dark_or_light_garment(reference, garment, rgb_under_transparency):
    mask = shirt(garment=255)
    rgba = Image.composite(Image.new("RGBA", mask.size, (garment,) * 3 + (255,)),
                           Image.new("RGBA", mask.size, (rgb_under_transparency,) * 3 + (0,)), mask)
    result = preprocess(open_picture(encode(rgba)))
    assert result.stages[0].name == "Remove transparency"
    assert diff(result.image28, reference) < 3


def test_switching_compositing_off_uses_the_hidden_colours(reference):
    rgba = Image.composite(Image.new("RGBA", (200, 200), (40, 40, 40, 255)),
                           Image.new("RGBA", (200, 200), (0, 0, 0, 0)), shirt(garment=255))
    assert diff(run(rgba), reference) < 3
    assert run(rgba, composite_alpha=False).max() < 100  # a dim shirt on black


@pytest.mark.parametrize("orientation, heavy_half", [(6, "bottom"), (8, "top")])
def test_exif_orientation_is_applied(orientation, heavy_half):
    image = Image.new("RGB", (300, 150), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 60, 280, 90), fill="black")  # a bar, stored lying down...
    draw.rectangle((220, 30, 280, 120), fill="black")  # ...with a block at its right end
    exif = Image.Exif()
    exif[0x0112] = orientation
    picture = open_picture(encode(image, "JPEG", exif=exif.tobytes(), quality=95))
    upright = run(picture)
    height, width = bbox(upright)
    assert height > 2 * width
    top, bottom = upright[:14].sum(), upright[14:].sum()
    assert (bottom > 1.2 * top) if heavy_half == "bottom" else (top > 1.2 * bottom)
    height, width = bbox(run(picture, exif_transpose=False))
    assert width > 2 * height


def test_the_upright_step_is_shown_only_for_a_photo_stored_turned():
    image = Image.new("RGB", (300, 150), "white")
    ImageDraw.Draw(image).rectangle((20, 60, 280, 90), fill="black")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways, to be turned 90°
    turned = preprocess(open_picture(encode(image, "JPEG", exif=exif.tobytes(), quality=95)))
    assert turned.stages[0].name == "Upright" and turned.stages[0].image.shape[:2] == (300, 150)
    assert np.array_equal(turned.picture, turned.stages[0].image)
    kept_sideways = preprocess(open_picture(encode(image, "JPEG", exif=exif.tobytes(), quality=95)),
                               PreprocessOptions(exif_transpose=False)).stages[0]
    assert (kept_sideways.name, kept_sideways.switched_off, kept_sideways.image.shape[:2]) == ("Upright", True,
                                                                                              (150, 300))
    exif[0x0112] = 1  # stored as it is to be seen
    for picture in (open_picture(encode(image, "JPEG", exif=exif.tobytes())), open_picture(encode(image)),
                    canvas_to_image(np.dstack([np.asarray(image), np.full((150, 300), 255, np.uint8)]))):
        prepared = preprocess(picture)
        assert "Upright" not in [stage.name for stage in prepared.stages]
        assert prepared.picture.shape[:2] == (150, 300)  # the picture as given, for the page to show


def test_sixteen_bit_png_is_scaled_not_rejected(reference):
    wide = (np.asarray(shirt(), dtype=np.uint16) * 257).astype(np.uint16)
    picture = open_picture(encode(Image.fromarray(wide)))
    assert picture.mode.startswith("I")
    assert diff(run(picture), reference) < 2


def test_cmyk_jpeg_is_converted(reference):
    rgb = Image.merge("RGB", [shirt(garment=45, background=255)] * 3)
    picture = open_picture(encode(rgb.convert("CMYK"), "JPEG", quality=95))
    assert picture.mode == "CMYK"
    # JPEG's faint ringing near the edges makes a small picture's crop a little larger, so compare JPEG with JPEG.
    assert diff(run(picture), run(open_picture(encode(rgb, "JPEG", quality=95)))) < 3
    assert np.corrcoef(run(picture).ravel(), reference.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF"])
def test_every_upload_format_decodes(reference, fmt):
    image28 = run(open_picture(encode(shirt().convert("RGB"), fmt)))
    if fmt in ("PNG", "BMP", "GIF"):
        assert diff(image28, reference) < 1
    else:  # lossy: faint ringing near the edges may widen a small picture's crop by a pixel
        assert np.corrcoef(image28.ravel(), reference.ravel())[0, 1] > 0.9


def test_noisy_unevenly_lit_photo_is_cropped_to_the_garment(reference):
    photo = np.asarray(shirt(garment=60, background=230).resize((1200, 1200)), dtype=np.float64)
    photo += np.linspace(-15, 15, 1200)[None, :] + np.random.default_rng(2).normal(0, 6, photo.shape)
    result = preprocess(open_picture(encode(Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)), "JPEG")))
    crop = next(step.image for step in result.stages if step.name == "Crop to the garment")
    assert abs(crop.shape[0] - 1024 * 140 / 200) < 15 and abs(crop.shape[1] - 1024 * 160 / 200) < 15
    assert np.corrcoef(result.image28.ravel(), reference.ravel())[0, 1] > 0.95


def test_animated_gif_uses_first_frame_with_a_note(reference):
    second = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(second).rectangle((90, 10, 110, 190), fill=255)
    data = encode(shirt().convert("P"), "GIF", save_all=True, append_images=[second.convert("P")], duration=100)
    result = preprocess(open_picture(data, "dance.gif"))
    assert diff(result.image28, reference) < 3
    assert any("first one was used" in note and "dance.gif" in note for note in result.notes)


def test_palette_png_with_transparency(reference):
    palette = shirt(garment=1, background=0).convert("P")
    palette.putpalette([45, 45, 45] * 2)  # garment and background differ only in transparency
    data = encode(palette, transparency=0)
    assert diff(run(open_picture(data)), reference) < 3


def test_canvas_drawings_on_any_background(reference):
    garment = np.asarray(shirt(garment=255)) > 0
    transparent = np.zeros((200, 200, 4), np.uint8)
    transparent[garment] = (255, 255, 255, 255)
    black = np.zeros((200, 200, 4), np.uint8)
    black[..., 3] = 255
    black[garment, :3] = 255
    white = np.full((200, 200, 4), 255, np.uint8)
    white[garment, :3] = 0
    for rgba in (transparent, black, white):
        image28 = preprocess(canvas_to_image(rgba)).image28
        assert np.corrcoef(image28.ravel(), reference.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("canvas", [np.zeros((200, 200, 4), np.uint8), np.full((200, 200, 4), 255, np.uint8),
                                    np.dstack([np.zeros((200, 200, 3), np.uint8), np.full((200, 200), 255, np.uint8)])])
def test_empty_canvas_is_refused(canvas):
    with pytest.raises(PictureError, match="empty"):
        canvas_to_image(canvas)


def test_blank_picture_is_refused_as_empty():
    noisy = np.clip(np.random.default_rng(0).normal(240, 3, (100, 100)), 0, 255).astype(np.uint8)
    for image in (Image.new("RGB", (100, 100), "white"), Image.fromarray(noisy)):
        with pytest.raises(PictureError, match="empty"):
            preprocess(open_picture(encode(image, "JPEG")))


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"these are not the pixels you are looking for", "not a picture"),
    (b"\0" * (MAX_UPLOAD_BYTES + 1), "MB"),
    (png_with_size(20_000, 20_000), "too many pixels"),  # beyond Pillow's own bomb limit
    (png_with_size(10_000, 10_000), "too many pixels"),  # where Pillow only warns
    (png_with_size(7_000, 7_000), "too many pixels"),  # under Pillow's limits, over ours
    (encode(Image.new("L", (3, 3), 255)), "too small"),
], ids=["zero bytes", "text", "too many bytes", "pillow bomb", "pillow warning", "our bomb", "3x3"])
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bad_uploads_are_refused_clearly(data, message):
    with pytest.raises(PictureError, match=message):
        open_picture(data, "photo.png")


def test_max_pixels_is_ours_not_pillows():
    assert 6_300 * 6_300 > MAX_PIXELS >= 6_000 * 4_000  # a 24-megapixel camera's photo passes
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS


def test_a_small_file_of_many_16_bit_pixels_is_refused_before_it_is_decoded():
    # 6300×6300 pixels of 16 bits in a few hundred kB: decoded, it took 2.7 s and a gigabyte of the server's memory.
    buffer = io.BytesIO()
    Image.new("I;16", (6_300, 6_300)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 1_000_000
    with pytest.raises(PictureError, match="too many pixels"):
        open_picture(buffer.getvalue(), "plain.png")


def test_a_16_bit_picture_within_the_limit_still_reads(tmp_path):
    wide = np.zeros((64, 96), np.uint16)
    wide[16:48, 24:72] = 40_000
    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, format="PNG")
    assert preprocess(open_picture(buffer.getvalue())).image28.max() > 100


def test_only_so_many_uploads_are_answered_at_once():
    files = [(f"{n}.png", encode(Image.new("L", (32, 32), n))) for n in range(MAX_UPLOADS + 3)]
    uploads, notes = prepare_uploads(files)
    assert [upload.name for upload in uploads] == [name for name, _ in files[:MAX_UPLOADS]]
    assert notes == [f"{MAX_UPLOADS + 3} files were dropped: only the first {MAX_UPLOADS} are answered at once."]


def test_truncated_png_is_refused():
    noise = np.random.default_rng(1).integers(0, 256, (200, 200), dtype=np.uint8)
    data = encode(Image.fromarray(noise))
    with pytest.raises(PictureError, match="damaged"):
        open_picture(data[: len(data) // 2])


def test_an_upload_is_prepared_with_its_options_or_gets_its_problem():
    data = encode(shirt(offset=(-15, 10)))
    upload = prepare_upload(data, "shirt.png")
    assert upload.name == "shirt.png" and upload.problem is None
    assert np.array_equal(upload.prepared.image28, preprocess(open_picture(data)).image28)
    uncropped = prepare_upload(data, "shirt.png", PreprocessOptions(crop_to_object=False))
    assert np.array_equal(uncropped.prepared.image28, run(open_picture(data), crop_to_object=False))
    assert not np.array_equal(uncropped.prepared.image28, upload.prepared.image28)
    refused = prepare_upload(b"a shopping list", "notes.png")
    assert refused.prepared is None and refused.problem.startswith("“notes.png” is not a picture this app can read")
    empty = prepare_upload(encode(Image.new("L", (40, 40), 0)), "black.png")
    assert empty.problem.startswith("“black.png”: The picture is empty")  # a reason that did not name the file


def test_each_uploaded_picture_is_prepared_once_whatever_its_name():
    shirt_png, other = encode(shirt()), encode(shirt(garment=120))
    uploads, notes = prepare_uploads([("a.png", shirt_png), ("b.png", other), ("a.png", shirt_png),
                                      ("c.png", shirt_png), ("notes.png", b"list"), ("again.png", b"list")])
    assert [upload.name for upload in uploads] == ["a.png", "b.png", "notes.png"]
    assert notes == ["“a.png” was added twice: it is listed once.",
                     "“c.png” is the same picture as “a.png”: it is listed once.",
                     "“again.png” is the same picture as “notes.png”: it is listed once."]
    assert uploads[2].problem == prepare_upload(b"list", "notes.png").problem


def test_every_steps_picture_is_framed_at_one_size_with_the_picture_centred():
    wide = Image.new("L", (300, 120), 255)
    ImageDraw.Draw(wide).rectangle((20, 40, 280, 80), fill=0)  # a long, low garment: its crop is not square
    for options in (PreprocessOptions(), PreprocessOptions(pad_to_square=False, crop_to_object=False)):
        stages = preprocess(wide, options).stages
        framed = [exports.framed(stage.image, 140) for stage in stages]
        assert {tile.shape for tile in framed} == {(140, 140, 3)}, [stage.image.shape for stage in stages]
    crop = next(stage.image for stage in preprocess(wide).stages if stage.name == "Crop to the garment")
    tile = exports.framed(crop, 140)
    inside = np.flatnonzero((tile != exports.FRAME_RGB).any(axis=(1, 2)))  # rows holding the picture
    assert inside[0] == 139 - inside[-1]  # as much frame above as below


def test_tiny_picture_given_directly_is_refused():
    with pytest.raises(PictureError, match="3×3"):
        preprocess(Image.new("L", (3, 3)))


def test_to_tensor_matches_the_training_format(reference):
    tensor = to_tensor(reference)
    assert tensor.dtype == torch.uint8 and tensor.shape == (1, 1, 28, 28)
    assert np.array_equal(tensor[0, 0].numpy(), reference)
    assert to_model_input(tensor, 224).shape == (1, 1, 224, 224)
    with pytest.raises(ValueError):
        to_tensor(np.zeros((28, 27), np.uint8))
