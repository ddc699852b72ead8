"""Pictures made with PIL the way people draw and what a network of garments never saw, for the benchmarks.

Garments are drawn as a student draws them with a mouse on the Classify page's 280×280 canvas: light ink on black, a
filled silhouette (a polygon, with shaky corners), a brush scribble (thick strokes back and forth across the shape,
leaving gaps), or an outline (the contour only) — off-centre, at any size, slightly rotated, shoes pointing either
way. The other sets are far from any garment: digits in a font (MNIST-like), outlines of real test garments through
an edge filter, noise, and a blank canvas with a dot. Every picture is a PIL image that goes through the app's own
``preprocess``.
"""
from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CANVAS = 280
STYLES = ("filled", "brush", "outline")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

# Each class as polygons in a unit square (x right, y down); shoes point left, as in Fashion-MNIST. Strokes are
# drawn as thick lines on top (a sandal's straps, a bag's handle); cuts are dark lines across the fill (a coat's
# opening) that only the filled styles show.
Polygon = list[tuple[float, float]]


@dataclass(frozen=True)
class Shape:
    """A garment as a child would draw it: filled polygons, thick strokes and dark cuts, in a unit square."""

    polygons: list[Polygon]
    strokes: list[Polygon] = ()
    cuts: list[Polygon] = ()


SHAPES: dict[int, Shape] = {
    0: Shape([[(0.3, 0.1), (0.42, 0.1), (0.5, 0.17), (0.58, 0.1), (0.7, 0.1), (0.95, 0.3), (0.85, 0.43),
               (0.75, 0.36), (0.75, 0.95), (0.25, 0.95), (0.25, 0.36), (0.15, 0.43), (0.05, 0.3)]]),
    1: Shape([[(0.3, 0.05), (0.7, 0.05), (0.76, 0.95), (0.57, 0.95), (0.5, 0.32), (0.43, 0.95), (0.24, 0.95)]]),
    2: Shape([[(0.3, 0.08), (0.7, 0.08), (0.85, 0.2), (0.97, 0.9), (0.84, 0.92), (0.75, 0.42), (0.75, 0.95),
               (0.25, 0.95), (0.25, 0.42), (0.16, 0.92), (0.03, 0.9), (0.15, 0.2)]]),
    3: Shape([[(0.38, 0.05), (0.62, 0.05), (0.6, 0.35), (0.84, 0.95), (0.16, 0.95), (0.4, 0.35)]]),
    4: Shape([[(0.28, 0.05), (0.72, 0.05), (0.86, 0.18), (0.97, 0.92), (0.84, 0.94), (0.77, 0.4), (0.78, 0.97),
               (0.22, 0.97), (0.23, 0.4), (0.16, 0.94), (0.03, 0.92), (0.14, 0.18)]],
             cuts=[[(0.5, 0.12), (0.5, 0.97)], [(0.36, 0.05), (0.5, 0.25), (0.64, 0.05)]]),
    5: Shape([[(0.03, 0.72), (0.97, 0.66), (0.97, 0.76), (0.03, 0.84)]],
             strokes=[[(0.15, 0.72), (0.4, 0.42), (0.62, 0.69)], [(0.55, 0.4), (0.9, 0.66)],
                      [(0.3, 0.55), (0.6, 0.55)]]),
    6: Shape([[(0.3, 0.08), (0.7, 0.08), (0.85, 0.2), (0.95, 0.9), (0.83, 0.92), (0.75, 0.42), (0.75, 0.95),
               (0.25, 0.95), (0.25, 0.42), (0.17, 0.92), (0.05, 0.9), (0.15, 0.2)]],
             cuts=[[(0.4, 0.08), (0.5, 0.2), (0.6, 0.08)], [(0.5, 0.2), (0.5, 0.95)]]),
    7: Shape([[(0.03, 0.58), (0.3, 0.48), (0.5, 0.36), (0.64, 0.4), (0.97, 0.58), (0.97, 0.74), (0.03, 0.74)]]),
    8: Shape([[(0.08, 0.38), (0.92, 0.38), (0.92, 0.95), (0.08, 0.95)]],
             strokes=[[(0.28, 0.38), (0.33, 0.15), (0.5, 0.08), (0.67, 0.15), (0.72, 0.38)]]),
    9: Shape([[(0.48, 0.06), (0.92, 0.06), (0.95, 0.93), (0.05, 0.93), (0.05, 0.74), (0.22, 0.64), (0.48, 0.56)]]),
}
SHOES = (5, 7, 9)


def _place(points: Polygon, box: tuple[float, float, float], angle: float, flip: bool,
           rng: np.random.Generator, shake: float) -> list[tuple[float, float]]:
    """A unit-square polygon on the canvas: flipped, rotated about the centre, scaled, moved, corners shaken."""
    left, top, side = box
    cos, sin = math.cos(angle), math.sin(angle)
    placed = []
    for x, y in points:
        x = 1 - x if flip else x
        dx, dy = x - 0.5, y - 0.5
        x, y = 0.5 + cos * dx - sin * dy, 0.5 + sin * dx + cos * dy
        placed.append((left + side * (x + rng.normal(0, shake)), top + side * (y + rng.normal(0, shake))))
    return placed


def drawn_garment(label: int, style: str, rng: np.random.Generator) -> Image.Image:
    """One garment drawn on a black canvas in one of STYLES, at a random place, size, angle and brush width."""
    shape = SHAPES[label]
    side = CANVAS * rng.uniform(0.45, 0.9)
    box = (rng.uniform(0, CANVAS - side), rng.uniform(0, CANVAS - side), side)
    angle = math.radians(rng.uniform(-10, 10))
    flip = label in SHOES and rng.random() < 0.5
    brush = int(rng.uniform(0.04, 0.09) * side)

    def place(points: Polygon) -> list[tuple[float, float]]:
        return _place(points, box, angle, flip, rng, shake=0.012)

    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in shape.polygons:
        corners = place(polygon)
        if style == "outline":
            draw.line(corners + corners[:1], fill=255, width=max(3, brush // 2), joint="curve")
        elif style == "filled":
            draw.polygon(corners, fill=255)
        else:
            draw.bitmap((0, 0), _scribble(corners, brush, rng), fill=255)
    for stroke in shape.strokes:
        draw.line(place(stroke), fill=255, width=brush if style != "outline" else max(3, brush // 2),
                  joint="curve")
    if style != "outline":
        for cut in shape.cuts:
            draw.line(place(cut), fill=0, width=max(2, brush // 3))
    return canvas


def _scribble(corners: list[tuple[float, float]], brush: int, rng: np.random.Generator) -> Image.Image:
    """A shape painted with a wide brush: zigzag strokes across it, a little wider than the brush apart."""
    xs, ys = zip(*corners)
    strokes = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(strokes)
    gap = brush * rng.uniform(0.8, 1.2)
    y, step = min(ys), 0
    path = []
    while y <= max(ys) + gap:
        path += [(min(xs), y), (max(xs), y + gap / 2)] if step % 2 == 0 else [(max(xs), y), (min(xs), y + gap / 2)]
        y, step = y + gap, step + 1
    draw.line(path, fill=255, width=brush, joint="curve")
    inside = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(inside).polygon(corners, fill=255)
    inside = inside.filter(ImageFilter.MaxFilter(5))  # a brush overshoots the outline a little
    return Image.fromarray(np.minimum(np.asarray(strokes), np.asarray(inside)))


def drawn_set(count_per_class: int, styles: tuple[str, ...] = STYLES, seed: int = 0) -> list[tuple[Image.Image, int, str]]:
    """``count_per_class`` drawings of every class in each style: (picture, label, style)."""
    rng = np.random.default_rng(seed)
    return [(drawn_garment(label, style, rng), label, style)
            for style in styles for label in SHAPES for _ in range(count_per_class)]


def digit(rng: np.random.Generator) -> Image.Image:
    """A digit in a bold font, light on black, at a random size and angle: MNIST-like."""
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    font = ImageFont.truetype(FONT, int(rng.uniform(120, 220)))
    ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), str(rng.integers(10)), fill=255, font=font, anchor="mm")
    return canvas.rotate(rng.uniform(-15, 15))


def edge_outline(image28: np.ndarray) -> Image.Image:
    """A real garment reduced to its edges (an edge filter at 28×28, thresholded), enlarged as a drawing would be."""
    edges = np.asarray(Image.fromarray(image28).filter(ImageFilter.FIND_EDGES))
    return Image.fromarray(np.where(edges > 80, 255, 0).astype(np.uint8)).resize((CANVAS, CANVAS))


def noise(rng: np.random.Generator) -> Image.Image:
    """Uniform grey noise, coarse or fine."""
    side = int(rng.choice([14, 28, 70, 280]))
    return Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).resize((CANVAS, CANVAS))


def dot(rng: np.random.Generator) -> Image.Image:
    """A blank canvas with one dot somewhere on it."""
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    x, y, r = rng.uniform(20, CANVAS - 20), rng.uniform(20, CANVAS - 20), rng.uniform(4, 15)
    ImageDraw.Draw(canvas).ellipse((x - r, y - r, x + r, y + r), fill=255)
    return canvas


def photo_like(image28: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A real test garment as a phone photo of a print: dark on white, enlarged, off-centre, saved as a JPEG."""
    side = int(rng.uniform(150, 400))
    garment = Image.fromarray(255 - image28).resize((side, side), Image.Resampling.BICUBIC)
    photo = Image.new("L", (side * 3 // 2, side * 3 // 2), 255)
    photo.paste(garment, (int(rng.uniform(0, side / 2)), int(rng.uniform(0, side / 2))))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=int(rng.uniform(60, 90)))
    return Image.open(buffer)


def foreign_sets(count: int, test_images: np.ndarray, seed: int = 0) -> dict[str, list[Image.Image]]:
    """``count`` pictures of each kind no garment network has seen: digits, edge outlines, noise, a dot."""
    rng = np.random.default_rng(seed)
    makers: dict[str, Callable[[], Image.Image]] = {
        "digits": lambda: digit(rng),
        "edge outlines": lambda: edge_outline(test_images[rng.integers(len(test_images))]),
        "noise": lambda: noise(rng),
        "dot": lambda: dot(rng)}
    return {name: [make() for _ in range(count)] for name, make in makers.items()}
