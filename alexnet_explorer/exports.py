"""PNG export of tile grids, coloured as the page's figures are (no browser or kaleido needed), and pictures sized
for the screen."""
from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
from PIL import Image
from plotly.colors import sample_colorscale, unlabel_rgb

DIVERGING = "RdBu_r"  # filters: blue negative, white zero, red positive
SEQUENTIAL = "Viridis"  # activations: zero dark, strong bright
GAP_RGB = (255, 255, 255)
LEVELS = 256
TARGET_WIDTH = 1200  # pixels: sharp on a slide, small enough to mail


@lru_cache(maxsize=8)
def palette(colorscale: str) -> np.ndarray:
    """LEVELS×3 uint8 colours sampled evenly from a Plotly colour scale."""
    colours = sample_colorscale(colorscale, list(np.linspace(0, 1, LEVELS)))
    return np.array([unlabel_rgb(colour) for colour in colours]).round().astype(np.uint8)


def colorize(values: np.ndarray, colorscale: str, vmin: float, vmax: float) -> np.ndarray:
    """H×W×3 uint8 colours of a 2-D array mapped linearly from [vmin, vmax]; NaN (tile gaps) becomes white."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {values.shape}")
    if not vmax > vmin:
        raise ValueError(f"vmax must be above vmin, got [{vmin}, {vmax}]")
    gaps = np.isnan(values)
    fraction = (np.clip(np.where(gaps, vmin, values), vmin, vmax) - vmin) / (vmax - vmin)
    rgb = palette(colorscale)[np.round(fraction * (LEVELS - 1)).astype(int)]
    rgb[gaps] = GAP_RGB
    return rgb


def grid_png(grid: np.ndarray, colorscale: str = DIVERGING, vmin: float = -1.0, vmax: float = 1.0,
             scale: int | None = None) -> bytes:
    """PNG bytes of a tile grid, each value a crisp scale×scale block (by default about TARGET_WIDTH wide)."""
    if scale is None:
        scale = max(1, TARGET_WIDTH // np.shape(grid)[-1])
    if scale < 1:
        raise ValueError(f"scale must be at least 1, not {scale}")
    rgb = colorize(grid, colorscale, vmin, vmax).repeat(scale, axis=0).repeat(scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def fitted(image: np.ndarray, side: int) -> np.ndarray:
    """A picture fitted into side×side: small ones enlarged by whole pixels (crisp), big ones shrunk."""
    longest = max(image.shape[:2])
    if longest >= side:
        picture = Image.fromarray(image)
        picture.thumbnail((side, side), Image.Resampling.LANCZOS)
        return np.asarray(picture)
    factor = side // longest
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def png_data_url(image: np.ndarray, side: int) -> str:
    """A picture fitted into side×side as a PNG data URL, e.g. for an image column of a table."""
    buffer = io.BytesIO()
    Image.fromarray(fitted(image, side)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


FRAME_RGB = (238, 238, 238)  # around a framed picture: light, so a black background still reads as the picture's


def framed(image: np.ndarray, side: int) -> np.ndarray:
    """A picture fitted into side×side and centred on a light square: pictures of any shape line up at one size."""
    picture = Image.fromarray(fitted(image, side)).convert("RGBA")
    frame = Image.new("RGB", (side, side), FRAME_RGB)
    frame.paste(picture, ((side - picture.width) // 2, (side - picture.height) // 2), picture)
    return np.asarray(frame)
