"""`emoji`: every fully-qualified emoji of Noto Color Emoji, labelled by its Unicode group."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganvas.data.builder import DatasetBuilder, Item

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
STRIKE = 109           # the font's only bitmap strike: Pillow renders it at this size alone
CANVAS = 136           # the strike's glyphs are at most 136 px wide


def parse_emoji_test(path: Path = EMOJI_TEST) -> list[tuple[str, str, str]]:
    """(code points, emoji, group) for each fully-qualified line of Unicode's emoji-test.txt."""
    out, group = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif "; fully-qualified" in line and not line.startswith("#"):
            cps = line.split(";", 1)[0].split()
            out.append(("-".join(cps).lower(), "".join(chr(int(c, 16)) for c in cps), group))
    return out


@lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size=STRIKE)


def render_emoji(text: str) -> Image.Image:
    """The emoji as RGBA, centred on its bounding box in a square canvas."""
    layer = Image.new("RGBA", (CANVAS + 40, CANVAS + 40), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((20, 20), text, font=_font(), embedded_color=True)
    box = layer.getbbox()
    out = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    if box:
        glyph = layer.crop(box)
        if max(glyph.size) > CANVAS:
            glyph.thumbnail((CANVAS, CANVAS), Image.Resampling.LANCZOS)
        out.paste(glyph, ((CANVAS - glyph.width) // 2, (CANVAS - glyph.height) // 2))
    return out


class EmojiBuilder(DatasetBuilder):
    name = "emoji"
    title = "Noto Color Emoji"
    description = ("The 3,655 fully-qualified emoji of Unicode 15 drawn with Google's Noto Color Emoji, "
                   "composited on white, each labelled with its Unicode group (emoji-test.txt).")
    packages = ("fonts-noto-color-emoji", "unicode-data")
    required_paths = (str(FONT), str(EMOJI_TEST))
    licence = "SIL Open Font License 1.1 (Noto Color Emoji); Unicode License (emoji-test.txt)"
    spdx = ("OFL-1.1", "Unicode-DFS-2016")
    attribution = ("Emoji pictures from Noto Color Emoji, copyright 2013-2017 Google Inc. and Arjen Nienhuis, "
                   "licensed under the SIL Open Font License 1.1 (full text: "
                   "/usr/share/doc/fonts-noto-color-emoji/copyright, https://openfontlicense.org); emoji names "
                   "from Unicode's emoji-test.txt, copyright Unicode, Inc., under the Unicode License "
                   "(/usr/share/doc/unicode-data/copyright).")

    def items(self) -> Iterator[Item]:
        for key, text, group in parse_emoji_test():
            yield key, group, (lambda t=text: render_emoji(t))
