"""Sketch-to-image sets: each picture of an image dataset paired with a line drawing made from it.

A `SketchBuilder` is a paired translation set (`ganvas.data.translation`) of two domains,
``sketch`` (A, the drawing) and ``image`` (B, the picture), both drawn from the items of a source
dataset: the picture as that dataset stores it, and the drawing made from the same picture by
`ganvas.data.sketch.line_drawing` after it has been squared to the stored size, so row i of both
domains is a pixel-aligned pair. The held-out split is the translation sets' own (a hash of each
item's key), so the same items are held out on every machine. The licence is the source's: a
drawing made by a program from a picture is that picture's derivative.

- ``emoji-sketch``: Noto Color Emoji (the `emoji` set), Canny edges of R, G and B → the emoji.
- ``kai-sketch``: the Kai (AR PL UKai) glyphs of `cjk-fonts`, the stroke skeleton → the glyph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from ganvas.data.builder import DatasetBuilder, Item
from ganvas.data.cjk_fonts import FONTS, CJKFontsBuilder
from ganvas.data.emoji import EmojiBuilder
from ganvas.data.imageprep import fit_square
from ganvas.data.sketch import line_drawing
from ganvas.data.translation import TranslationBuilder

PEN = 2              # line width at the stored 128 px: about one pixel at 64 px


class SketchBuilder(TranslationBuilder):
    """(line drawing → picture) pairs made from the items of another built-in dataset."""

    layout = "paired"
    domain_names = {"sketch": "line drawing", "image": "picture"}
    default_pair = ("sketch", "image")
    source: ClassVar[type[DatasetBuilder]]          # the dataset the pictures come from
    source_domain: ClassVar[str | None] = None      # for a translation source: which of its domains
    method: ClassVar[str] = "canny"                 # how drawings are made (ganvas.data.sketch.METHODS)

    @property
    def packages(self) -> tuple[str, ...]:          # type: ignore[override]
        return self.source.packages

    @property
    def required_paths(self) -> tuple[str, ...]:    # type: ignore[override]
        return self.source.required_paths

    def _source_items(self) -> Iterator[Item]:
        src = self.source()
        return src.domain_items(self.source_domain) if self.source_domain else src.items()

    def _picture(self, load: Callable[[], Image.Image]) -> Image.Image:
        """The source item squared as the stored picture is (so both domains line up pixel for pixel)."""
        im = fit_square(load(), self.native_size, self.fit)
        return im.convert("L") if self.channels == 1 else im

    def _drawing(self, load: Callable[[], Image.Image]) -> Image.Image:
        lines = line_drawing(self._picture(load), self.method, pen=PEN)
        return Image.fromarray(lines if self.channels == 1 else np.repeat(lines[..., None], 3, axis=2))

    def domain_items(self, domain: str) -> Iterator[Item]:
        make = self._drawing if domain == "sketch" else self._picture
        for key, _, load in self._source_items():
            yield key, "", (lambda ld=load: make(ld))

    def domain_info(self, domain: str) -> dict[str, Any]:
        info: dict[str, Any] = {"title": self.domain_names[domain], "source": self.source.name}
        if domain == "sketch":
            info["lines"] = {"method": self.method, "pen": PEN, "at": self.native_size}
        return info


class EmojiSketchBuilder(SketchBuilder):
    source = EmojiBuilder
    name = "emoji-sketch"
    title = "Emoji drawn as lines → Noto Color Emoji"
    description = ("Each of the 3,655 fully-qualified emoji of Noto Color Emoji (the `emoji` set, on white, "
                   "padded to 128×128) paired with a line drawing made from it: Canny edges (σ = 1.5, "
                   "thresholds 0.08/0.2) of its R, G and B channels joined, drawn as black lines 2 px wide on "
                   "white.")
    licence = "SIL Open Font License 1.1 (Noto Color Emoji); the drawings are derived from the emoji"
    spdx = EmojiBuilder.spdx
    attribution = EmojiBuilder.attribution + " The line drawings are derived from the emoji pictures by ganvas."
    channels = 3
    method = "canny"


class KaiSketchBuilder(SketchBuilder):
    source = CJKFontsBuilder
    name = "kai-sketch"
    title = "Chinese characters as stroke skeletons → Kai calligraphy"
    description = ("The 3,755 GB 2312 level-1 characters in AR PL UKai (the `kai` domain of `cjk-fonts`, "
                   "128×128 grey) paired with their stroke skeletons: the ink thinned to its one-pixel "
                   "medial axis (scikit-image's skeletonize), redrawn 2 px wide, as if written with a thin pen.")
    licence = "Arphic Public License (AR PL UKai); the skeletons are derived from the glyphs"
    spdx = ("Arphic-1999",)
    attribution = ("Glyphs drawn from AR PL UKai (copyright 1999 Arphic Technology Co., Ltd., modified by Arne "
                   "Goetje), licensed under the Arphic Public License (full text: "
                   "/usr/share/doc/fonts-arphic-ukai/copyright); the skeletons are derived from the glyphs by "
                   "ganvas. Works derived from the font must keep this licence and notice.")
    source_domain = "kai"
    packages = (FONTS["kai"][2],)            # the Kai font alone, not all five of cjk-fonts
    required_paths = (FONTS["kai"][1],)
    channels = 1
    method = "skeleton"
