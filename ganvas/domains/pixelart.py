"""Outputs as game assets: pixel art upscaled by repetition, sprite sheets with their frame boxes.

Pixel art is scaled up by repeating pixels (nearest neighbour), never by interpolation, which would
blur its hard edges. A sprite sheet is every frame in one PNG on a grid, with a JSON file saying
where each frame lies, in the "JSON (hash)" layout of TexturePacker that game engines such as
Phaser and PixiJS read (``frames`` by name, each with its ``frame`` box; ``meta`` with the image's
name and size). Frames are separated by padding: transparent when the pictures have alpha, else
white, the background ganvas's datasets are composited on.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from ganvas.errors import GanvasError
from ganvas.files import save_image, write_json
from ganvas.version import __version__

MAX_SCALE = 64


def pixel_repeat(images: np.ndarray, k: int) -> np.ndarray:
    """N×H×W×C images with each pixel repeated into a `k`×`k` block."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SCALE:
        raise GanvasError(f"pixel scale must be a whole number from 1 to {MAX_SCALE}, got {k!r}")
    return images if k == 1 else images.repeat(k, axis=1).repeat(k, axis=2)


def sheet_layout(n: int, h: int, w: int, columns: int | None = None, pad: int = 1
                 ) -> tuple[int, int, list[tuple[int, int]]]:
    """(sheet width, sheet height, top-left (x, y) of each of `n` frames) of a grid as square as possible."""
    if n < 1:
        raise GanvasError("a sprite sheet needs at least one frame")
    cols = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    boxes = [(pad + (i % cols) * (w + pad), pad + (i // cols) * (h + pad)) for i in range(n)]
    return cols * (w + pad) + pad, rows * (h + pad) + pad, boxes


def sprite_sheet(images: np.ndarray, names: list[str], columns: int | None = None, pad: int = 1
                 ) -> tuple[Image.Image, dict]:
    """The sheet picture of N×H×W×C uint8 frames and its TexturePacker-style description (meta.image unset)."""
    n, h, w, c = images.shape
    if len(names) != n:
        raise GanvasError(f"a sprite sheet of {n} frames needs {n} names, got {len(names)}")
    width, height, boxes = sheet_layout(n, h, w, columns, pad)
    alpha = c in (2, 4)
    canvas = np.zeros((height, width, c), dtype=np.uint8) if alpha else np.full((height, width, c), 255, np.uint8)
    frames = {}
    for image, name, (x, y) in zip(images, names, boxes, strict=True):
        canvas[y:y + h, x:x + w] = image
        frames[name] = {"frame": {"x": x, "y": y, "w": w, "h": h}, "rotated": False, "trimmed": False,
                        "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h}, "sourceSize": {"w": w, "h": h}}
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[c]
    picture = Image.fromarray(canvas[..., 0] if c == 1 else canvas, mode)
    meta = {"app": "ganvas", "version": __version__, "image": "", "format": {"L": "L8", "LA": "LA88",
            "RGB": "RGB888", "RGBA": "RGBA8888"}[mode], "size": {"w": width, "h": height}, "scale": "1"}
    return picture, {"frames": frames, "meta": meta}


def save_sprite_sheet(path: str | Path, images: np.ndarray, names: list[str], columns: int | None = None,
                      pad: int = 1) -> Path:
    """Write the sheet PNG at `path` and its frame boxes beside it (same name, .json); returns the JSON's path."""
    path = Path(path)
    picture, description = sprite_sheet(images, names, columns, pad)
    description["meta"]["image"] = path.name
    save_image(path, picture)
    json_path = path.with_suffix(".json")
    write_json(json_path, description)
    return json_path
