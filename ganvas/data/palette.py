"""Colour palettes for pixel art: fitting one (median cut), a dataset's own (cached), quantising to it.

Pixel art is drawn with few colours, and a sprite meant for a game usually has to use the game's
palette. A generator's outputs have thousands of slightly different shades; quantising them to the
palette of the data it learnt from (or to N colours fitted to the outputs themselves) gives flat
areas and crisp outlines again.

Median cut (Heckbert 1982): start with one box holding every pixel colour, split the box with the
widest channel range at the median of that channel until there are k boxes. Each box is then
represented by its most frequent colour, so every palette colour is one that really occurs (a
dataset's palette is made of the dataset's own colours, not of averages between them). Counting
happens on distinct colours weighted by how often they occur, so a dataset of millions of pixels
costs a few distinct-colour tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganvas.errors import GanvasError
from ganvas.files import write_json

MIN_COLOURS, MAX_COLOURS = 2, 256
MAX_PIXELS = 1 << 22            # a dataset's palette is fitted to at most this many pixels (evenly spaced images)
CHUNK = 1 << 13                 # pixels per block when quantising: an 8192 × 256 distance table at most


def check_colours(k: int, what: str = "number of palette colours") -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_COLOURS <= k <= MAX_COLOURS:
        raise GanvasError(f"{what} must be a whole number from {MIN_COLOURS} to {MAX_COLOURS}, got {k!r}")
    return k


def _distinct(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct colours of …×C uint8 pixels (C <= 4) and how often each occurs."""
    c = pixels.shape[-1]
    flat = pixels.reshape(-1, c).astype(np.uint32)
    packed = np.zeros(len(flat), dtype=np.uint32)
    for i in range(c):                              # one 32-bit number per colour: a fast 1-D unique
        packed |= flat[:, i] << np.uint32(8 * (c - 1 - i))
    keys, counts = np.unique(packed, return_counts=True)
    colours = np.stack([(keys >> np.uint32(8 * (c - 1 - i))) & 0xFF for i in range(c)], axis=1)
    return colours.astype(np.int64), counts


def median_cut(pixels: np.ndarray, k: int) -> np.ndarray:
    """At most `k` colours (k×C uint8) representing `pixels` (…×C uint8), most used first."""
    check_colours(k)
    colours, counts = _distinct(pixels)
    boxes = [np.arange(len(colours))]
    while len(boxes) < k:
        spans = [np.ptp(colours[b], axis=0).max() if len(b) > 1 else -1 for b in boxes]
        i = int(np.argmax(spans))
        if spans[i] <= 0:
            break                                   # every box holds one colour: fewer than k exist
        box = boxes.pop(i)
        channel = int(np.argmax(np.ptp(colours[box], axis=0)))
        order = box[np.argsort(colours[box, channel], kind="stable")]
        weight = np.cumsum(counts[order])
        cut = int(np.searchsorted(weight, weight[-1] / 2))
        cut = min(max(cut, 1), len(order) - 1)      # both halves non-empty
        boxes += [order[:cut], order[cut:]]
    reps = [(int(counts[b].sum()), colours[b[np.argmax(counts[b])]]) for b in boxes]
    reps.sort(key=lambda r: (-r[0], tuple(int(v) for v in r[1])))
    return np.stack([c for _, c in reps]).astype(np.uint8)


def quantise(images: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Every pixel of `images` (…×C uint8) replaced by the nearest colour of `palette` (k×C), in RGB distance."""
    if palette.ndim != 2 or palette.shape[1] != images.shape[-1]:
        raise GanvasError(f"a palette of {palette.shape[-1]}-channel colours cannot quantise "
                          f"{images.shape[-1]}-channel images")
    flat = images.reshape(-1, images.shape[-1]).astype(np.int32)
    pal = palette.astype(np.int32)
    out = np.empty_like(flat)
    for start in range(0, len(flat), CHUNK):
        block = flat[start:start + CHUNK]
        d = (block[:, None, :] - pal[None, :, :]) ** 2
        out[start:start + CHUNK] = pal[d.sum(axis=2).argmin(axis=1)]
    return out.astype(np.uint8).reshape(images.shape)


def dataset_palette(images: np.ndarray, fingerprint: str, k: int, cache_dir: Path) -> np.ndarray:
    """The `k`-colour median-cut palette of a dataset's images, cached in `cache_dir` by its fingerprint."""
    check_colours(k)
    key = fingerprint.split(":")[-1][:24]
    path = Path(cache_dir) / f"palette-{key}-{k}.json"
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("fingerprint") == fingerprint:
                return np.asarray(saved["colours"], dtype=np.uint8)
        except (OSError, ValueError, KeyError):
            pass                                    # a damaged cache is recomputed
    per_image = int(np.prod(images.shape[1:-1]))
    if len(images) * per_image > MAX_PIXELS:
        images = images[np.linspace(0, len(images) - 1, max(1, MAX_PIXELS // per_image)).astype(int)]
    palette = median_cut(images, k)
    write_json(path, {"fingerprint": fingerprint, "colours": palette.tolist(),
                      "hex": ["#" + "".join(f"{v:02x}" for v in c) for c in palette.tolist()]})
    return palette
