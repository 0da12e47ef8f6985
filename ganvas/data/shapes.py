"""`shapes`: rendered shapes whose factors of variation are known, to check what ganvas says a model learned.

Every item is one filled shape (circle, square or triangle: the label) on white, and four numbers drawn
independently and uniformly set the rest: its hue, its size and its centre's x and y. Nothing else varies
(full saturation and value, no rotation, no texture), so a tool that claims to find what a generator's
latent directions or units control (GANSpace names, dissection) can be checked against the truth: each
factor must come out as something. Made by ganvas itself from a fixed seed, so it needs no package and
is the same on every machine (the factors of item i are `factors(i)`).
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw

from ganvas.data.builder import DatasetBuilder, Item

SHAPES = ("circle", "square", "triangle")
COUNT = 3000                # items: 1,000 of each shape
SEED = 20170613             # the factors' random stream (fixed: the set is the same everywhere)
SIZE_RANGE = (0.30, 0.62)   # the shape's width as a share of the side
SUPERSAMPLE = 4             # drawn at 4× and shrunk: smooth edges


def factors(index: int) -> dict[str, float | str]:
    """The known factors of item `index`: shape, hue (0–1), size (share of the side), x and y of the centre
    (0–1, left/top to right/bottom). Drawn per item from (SEED, index), so any item's truth is at hand."""
    rng = np.random.default_rng([SEED, index])
    size = float(rng.uniform(*SIZE_RANGE))
    half = size / 2
    return {"shape": SHAPES[index % len(SHAPES)], "hue": float(rng.uniform()), "size": size,
            "x": float(rng.uniform(half, 1 - half)), "y": float(rng.uniform(half, 1 - half))}


def render(f: dict[str, float | str], side: int) -> Image.Image:
    """The picture of factors `f` at `side` pixels (RGB, white background)."""
    big = side * SUPERSAMPLE
    image = Image.new("RGB", (big, big), (255, 255, 255))
    r, g, b = colorsys.hsv_to_rgb(float(f["hue"]), 1.0, 0.9)
    colour = (round(r * 255), round(g * 255), round(b * 255))
    cx, cy, half = float(f["x"]) * big, float(f["y"]) * big, float(f["size"]) * big / 2
    draw = ImageDraw.Draw(image)
    if f["shape"] == "circle":
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), fill=colour)
    elif f["shape"] == "square":
        side_half = half * 0.89             # same area as the circle's: size is not a proxy for shape
        draw.rectangle((cx - side_half, cy - side_half, cx + side_half, cy + side_half), fill=colour)
    else:
        draw.polygon([(cx, cy - half), (cx + half, cy + half * 0.8), (cx - half, cy + half * 0.8)], fill=colour)
    return image.resize((side, side), Image.Resampling.LANCZOS)


class ShapesBuilder(DatasetBuilder):
    name = "shapes"
    title = "Synthetic shapes with known factors"
    description = ("3,000 filled circles, squares and triangles on white, rendered by ganvas from a fixed seed; "
                   "hue, size and the centre's x and y drawn uniformly and independently per item "
                   "(ganvas.data.shapes.factors gives each item's truth). For checking what a model's "
                   "directions and units control, not for art.")
    packages = ()
    required_paths = ()
    licence = "CC0 1.0 (made by ganvas from a seed; no source material)"
    spdx = ("CC0-1.0",)
    attribution = "Synthetic shapes rendered by ganvas (CC0 1.0): no attribution required."
    native_size = 64
    fit = "pad"

    def items(self) -> Iterator[Item]:
        for i in range(COUNT):
            f = factors(i)
            key = (f"{i:04d}-{f['shape']}-h{f['hue']:.3f}-s{f['size']:.3f}-x{f['x']:.3f}-y{f['y']:.3f}")
            yield key, str(f["shape"]), (lambda f=f: render(f, self.native_size))
