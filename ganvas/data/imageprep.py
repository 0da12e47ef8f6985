"""Decoding user images safely and fitting them to a square of a given size."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_PIXELS = 40_000_000          # larger images are refused before decoding (decompression bombs)
FITS = ("crop", "pad")


class SkipFile(Exception):
    """A file inside a dataset that cannot be used; `reason` is the summary bucket it is counted in."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def open_image(path: Path) -> Image.Image:
    """Decode an image file fully, or raise `SkipFile` saying why it cannot be used."""
    try:
        if path.stat().st_size == 0:
            raise SkipFile("zero-byte")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise SkipFile("too large", f"{w}×{h}")
                im.load()
                return ImageOps.exif_transpose(im) if im.format == "JPEG" else im.copy()
    except SkipFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkipFile("too large", str(exc).split(".")[0]) from None
    except UnidentifiedImageError:
        raise SkipFile("not an image") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise SkipFile("unreadable", str(exc)[:80]) from None


def to_rgb(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB with any transparency composited on `background` (clip art and icons are mostly alpha)."""
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La"):
        im = im.convert("RGBA")
        canvas = Image.new("RGBA", im.size, (*background, 255))
        canvas.alpha_composite(im)
        return canvas.convert("RGB")
    return im.convert("RGB")


def fit_square(im: Image.Image, size: int, fit: str = "crop",
               background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Make `im` a `size`×`size` RGB image: centre-crop or pad to square, then an antialiased resize."""
    im = to_rgb(im, background)
    w, h = im.size
    if w != h:
        if fit == "crop":
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            im = im.crop((left, top, left + side, top + side))
        else:
            side = max(w, h)
            canvas = Image.new("RGB", (side, side), background)
            canvas.paste(im, ((side - w) // 2, (side - h) // 2))
            im = canvas
    if im.size != (size, size):
        im = im.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return im
