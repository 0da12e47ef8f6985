"""Drawing one character of a font as a centred grey glyph, and telling when a font lacks it.

Both the `cjk-fonts` dataset and ``ganvas translate --text`` draw through `render_glyph`, so a line
typed at translation time looks exactly like the training glyphs: same canvas, same font size, the
ink's bounding box centred. A font lacking a character draws its ".notdef" glyph (a box, or nothing)
instead; `render_glyph` recognises that by comparing with the .notdef drawing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganvas.errors import GanvasError

FONT_SCALE = 0.8          # font size as a fraction of the canvas: CJK glyphs fill ~90% of the em square
NOT_A_CHARACTER = "\U0010fffd"   # a private-use code point no CJK font maps: it draws .notdef


class MissingGlyph(Exception):
    """The font has no glyph for this character."""


@dataclass(frozen=True)
class FontFace:
    """One face of an installed font file (a .ttc collection holds several)."""

    family: str         # the face's family name, e.g. "AR PL UKai CN"
    path: str           # the font file
    index: int = 0      # the face within a collection

    def to_dict(self) -> dict[str, object]:
        return {"family": self.family, "path": self.path, "index": self.index}


def find_face(path: str | Path, family: str | None = None) -> FontFace:
    """The face of `path` named `family` (default: its first face), or a one-line error."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanvasError(f"font file '{path}' does not exist")
    names = []
    for index in range(64):
        try:
            font = ImageFont.truetype(str(path), 16, index=index)
        except OSError:
            if index == 0:
                raise GanvasError(f"'{path}' is not a font file FreeType can read (.ttf, .otf, .ttc)") from None
            break
        name = font.getname()[0]
        if family is None or name == family:
            return FontFace(name, str(path), index)
        names.append(name)
    raise GanvasError(f"font file '{path}' has no face '{family}'; it has: {', '.join(names)}")


@lru_cache(maxsize=16)
def _font(face: FontFace, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(face.path, size, index=face.index)


def _ink(face: FontFace, char: str, canvas: int) -> Image.Image | None:
    """The character's ink (255 = ink) cropped to its bounding box; None when nothing is drawn."""
    font = _font(face, round(canvas * FONT_SCALE))
    layer = Image.new("L", (canvas * 2, canvas * 2), 0)
    ImageDraw.Draw(layer).text((canvas // 2, canvas // 2), char, fill=255, font=font)
    box = layer.getbbox()
    return layer.crop(box) if box else None


@lru_cache(maxsize=16)
def _notdef(face: FontFace, canvas: int) -> bytes | None:
    ink = _ink(face, NOT_A_CHARACTER, canvas)
    return None if ink is None else ink.tobytes() + repr(ink.size).encode()


def render_glyph(face: FontFace, char: str, canvas: int) -> np.ndarray:
    """`char` in `face`, black on white, its ink centred on a `canvas`² grey square (H×W×1 uint8).

    Whitespace gives a blank square. Raises `MissingGlyph` when the font lacks the character.
    """
    out = Image.new("L", (canvas, canvas), 0)
    if not char.isspace():
        ink = _ink(face, char, canvas)
        if ink is None or ink.tobytes() + repr(ink.size).encode() == _notdef(face, canvas):
            raise MissingGlyph(char)
        room = canvas - 4
        if ink.width > room or ink.height > room:          # rare: a glyph wider than the em square
            ink.thumbnail((room, room), Image.Resampling.LANCZOS)
        out.paste(ink, ((canvas - ink.width) // 2, (canvas - ink.height) // 2))
    return (255 - np.asarray(out))[..., None]


def gb2312_level1() -> list[str]:
    """The 3,755 most common Chinese characters: GB 2312 level 1 (rows 16–55), in GB 2312 order."""
    codes = bytes(b for hi in range(0xB0, 0xD8) for lo in range(0xA1, 0xFF) for b in (hi, lo))
    # row 55 ends at 0xD7F9: the five unassigned codes after it decode to U+FFFD and are dropped
    return [c for c in codes.decode("gb2312", errors="replace") if c != "\ufffd"]
