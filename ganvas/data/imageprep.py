"""Decoding user images safely and fitting them to a square of a given size.

Every file is checked with ``stat`` before it is opened: opening a FIFO would block for ever, and a
folder or device named ``*.png`` is no image. What Pillow decodes is brought to 8 bits per channel
here, because its own conversion of 16-bit greyscale to RGB clips at 255 (a 16-bit photo turned white).
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_PIXELS = 40_000_000          # larger images are decoded at a reduced size (`reduction`), never in full
# beyond Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS, about 89 million pixels) an image is refused
# unopened, as before: its header alone says it would take gigabytes, and a hostile file can claim anything
FITS = ("crop", "pad")
SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")   # Pillow's modes for 16-bit greyscale PNGs
PLAIN_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX")
KINDS = {stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket", stat.S_IFCHR: "character device",
         stat.S_IFBLK: "block device"}


class SkipFile(Exception):
    """A file inside a dataset that cannot be used; `reason` is the summary bucket it is counted in."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def not_regular(mode: int) -> str:
    """The skip reason of a directory entry that is neither a regular file nor a folder."""
    return f"not a regular file ({KINDS.get(stat.S_IFMT(mode), 'special file')})"


def stat_failure(path: Path, exc: OSError) -> SkipFile:
    """Why `path` could not even be looked at: a symlink loop, a dangling symlink, no permission..."""
    if exc.errno == errno.ELOOP:
        return SkipFile("symlink loop", "the link leads back to itself")
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return SkipFile("broken symlink", f"points to {os.readlink(path)} which does not exist")
    return SkipFile("unreadable", exc.strerror or str(exc))


def regular_file(path: Path) -> os.stat_result:
    """`path`'s stat (following symlinks) if it is a regular file, else `SkipFile` saying what it is."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise stat_failure(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise SkipFile("is a folder")
    if not stat.S_ISREG(st.st_mode):
        raise SkipFile(not_regular(st.st_mode))
    return st


def open_image(path: Path, shrunk: list[str] | None = None) -> Image.Image:
    """Decode an image file, upright (EXIF orientation applied) and in a mode `to_rgb` handles, or raise
    `SkipFile` saying why it cannot be used.

    An image over `MAX_PIXELS` (a 50-megapixel photo) is decoded at a reduced size rather than skipped: a
    JPEG by its decoder's DCT scaling (Pillow's `draft`: 1/2, 1/4 or 1/8, so the full size is never held in
    memory), other formats decoded and then reduced by box averaging (`Image.reduce`). Training sides are
    at most a few hundred pixels, so nothing the model sees is lost. Each one is described in `shrunk`."""
    if regular_file(path).st_size == 0:
        raise SkipFile("zero-byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if reduction(w, h) > 1 and im.format == "JPEG":
                    k = reduction(w, h)
                    im.draft(None, (max(1, w // k), max(1, h // k)))
                im.load()
                out = im
                if reduction(*im.size) > 1:
                    out = shrink(im, reduction(*im.size))
                if out.size != (w, h) and shrunk is not None:
                    shrunk.append(f"{w}×{h} read at {out.size[0]}×{out.size[1]}")
                return eight_bit(upright(out))
    except SkipFile:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SkipFile("too large", str(exc).split(".")[0]) from None
    except UnidentifiedImageError:
        raise SkipFile("not an image") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise SkipFile("unreadable", str(exc)[:80]) from None


def reduction(w: int, h: int) -> int:
    """The smallest power of two k (at most 8: a JPEG decoder's coarsest scale; beyond it, more) with
    (w/k)·(h/k) at most `MAX_PIXELS`; 1 when the image may be decoded in full."""
    k = 1
    while (w // k) * (h // k) > MAX_PIXELS:
        k *= 2
    return k


def shrink(im: Image.Image, factor: int) -> Image.Image:
    """`im` reduced `factor` times by averaging factor×factor boxes, in a mode where averages mean colours
    (palette indices, 1-bit and 16-bit grey are converted first; a transparent colour becomes alpha)."""
    if im.mode in SIXTEEN_BIT:
        im = im.convert("I")
    elif im.mode in ("P", "PA", "1") or "transparency" in im.info:
        im = im.convert("L" if im.mode == "1" else "RGBA")
    elif im.mode not in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "F"):
        im = im.convert("RGB")
    return im.reduce(factor)


def upright(im: Image.Image) -> Image.Image:
    """`im` turned as its EXIF orientation says (JPEG, and also PNG and WebP, which can carry EXIF)."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 -- a malformed EXIF block: Pillow raises many kinds; keep the pixels
        return im.copy()


def eight_bit(im: Image.Image) -> Image.Image:
    """`im` in one of `PLAIN_MODES`: 16-bit grey scaled to 8 bits (a transparent grey level becomes
    alpha), CMYK and other colour spaces converted to RGB."""
    if im.mode in PLAIN_MODES:
        return im
    if im.mode in SIXTEEN_BIT:
        a = np.asarray(im).astype(np.int64)
        grey = Image.fromarray(np.clip((a + 128) // 257, 0, 255).astype(np.uint8))
        trns = im.info.get("transparency")
        if isinstance(trns, int):
            grey.putalpha(Image.fromarray(np.where(a == trns, 0, 255).astype(np.uint8)))
        return grey
    try:
        return im.convert("RGB")
    except ValueError:
        raise SkipFile("unreadable", f"colour mode {im.mode}") from None


def to_rgb(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB with any transparency composited on `background` (clip art and icons are mostly alpha).

    Transparency can be an alpha channel or one colour marked transparent (PNG's tRNS chunk, in
    palette, grey and RGB images alike)."""
    im = eight_bit(im)
    if "transparency" in im.info and im.mode in ("1", "L", "P", "RGB"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
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
