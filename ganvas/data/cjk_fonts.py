"""`cjk-fonts`: the 3,755 GB 2312 level-1 characters drawn in five Chinese fonts, as pairs.

The same character in two fonts is a pair, so any two fonts make a paired translation task, as in
zi2zi (Tian 2017): Ming (Song) print type → Kai brush calligraphy by default. About one character
in ten (by a hash of the character) is held out and never trained on, for judging how well the
style carries over to characters the model has not seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from ganvas.data.builder import Item
from ganvas.data.glyphs import FontFace, MissingGlyph, find_face, gb2312_level1, render_glyph
from ganvas.data.imageprep import SkipFile
from ganvas.data.translation import TranslationBuilder

# domain -> (family, file, Debian package, style)
FONTS: dict[str, tuple[str, str, str, str]] = {
    "kai": ("AR PL UKai CN", "/usr/share/fonts/truetype/arphic/ukai.ttc", "fonts-arphic-ukai",
            "Kai (regular script): brush calligraphy"),
    "ming": ("AR PL UMing CN", "/usr/share/fonts/truetype/arphic/uming.ttc", "fonts-arphic-uming",
             "Ming/Song: the print type of books"),
    "zenhei": ("WenQuanYi Zen Hei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei",
               "Hei: a sans-serif screen type"),
    "sans": ("Noto Sans CJK SC", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk",
             "Noto Sans (Source Han Sans): a modern sans-serif"),
    "serif": ("Noto Serif CJK SC", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "fonts-noto-cjk",
              "Noto Serif (Source Han Serif): a modern Song"),
}


def font_face(domain: str) -> FontFace:
    """The installed face of a `cjk-fonts` domain (kai, ming, zenhei, sans, serif)."""
    family, path, _, _ = FONTS[domain]
    return find_face(path, family)


def _draw(face: FontFace, char: str, canvas: int) -> Image.Image:
    try:
        return Image.fromarray(render_glyph(face, char, canvas)[..., 0])
    except MissingGlyph:
        raise SkipFile("not in the font", char) from None


class CJKFontsBuilder(TranslationBuilder):
    name = "cjk-fonts"
    title = "Chinese characters in five fonts"
    description = ("The 3,755 GB 2312 level-1 characters drawn black on white in five fonts (Kai, Ming, "
                   "Zen Hei, Noto Sans SC, Noto Serif SC), each centred on its ink's bounding box at a font "
                   "size of 0.8 × the canvas; the same character in two fonts is a pair.")
    packages = ("fonts-arphic-ukai", "fonts-arphic-uming", "fonts-wqy-zenhei", "fonts-noto-cjk")
    required_paths = tuple(dict.fromkeys(f[1] for f in FONTS.values()))
    licence = ("Arphic Public License (AR PL UKai, UMing); GPL-2 with font embedding exception (WenQuanYi Zen "
               "Hei); SIL Open Font License 1.1 (Noto CJK)")
    spdx = ("Arphic-1999", "GPL-2.0-only WITH Font-exception-2.0", "mplus", "OFL-1.1")
    attribution = ("Glyphs drawn from AR PL UKai and AR PL UMing (copyright 1999 Arphic Technology Co., Ltd., "
                   "modified by Arne Goetje; Arphic Public License: /usr/share/doc/fonts-arphic-ukai/copyright), "
                   "WenQuanYi Zen Hei (copyright 2007-2009 Qianqian Fang and The WenQuanYi Project; GNU GPL "
                   "version 2 with a font embedding exception, parts under the M+ FONTS License: "
                   "/usr/share/doc/fonts-wqy-zenhei/copyright, /usr/share/common-licenses/GPL-2) and Noto Sans / "
                   "Serif CJK (copyright 2010-2012 Google; SIL Open Font License 1.1: "
                   "/usr/share/doc/fonts-noto-cjk/copyright, https://openfontlicense.org). Publish the notice "
                   "of each font a model was trained on with its outputs.")
    domain_spdx = {"kai": ("Arphic-1999",), "ming": ("Arphic-1999",),
                   "zenhei": ("GPL-2.0-only WITH Font-exception-2.0", "mplus"),
                   "sans": ("OFL-1.1",), "serif": ("OFL-1.1",)}
    layout = "paired"
    domain_names = {d: f[0] for d, f in FONTS.items()}
    default_pair = ("ming", "kai")
    channels = 1
    holdout_every = 10

    def domain_items(self, domain: str) -> Iterator[Item]:
        face = font_face(domain)
        for char in gb2312_level1():
            yield char, "", (lambda c=char: _draw(face, c, self.native_size))

    def domain_info(self, domain: str) -> dict[str, Any]:
        family, path, package, style = FONTS[domain]
        return {"title": family, "style": style, "package": package,
                "font": {**font_face(domain).to_dict(), "canvas": self.native_size},
                "file": Path(path).name}
