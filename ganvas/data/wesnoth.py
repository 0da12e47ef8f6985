"""`wesnoth-portraits` and `wesnoth-units`: The Battle for Wesnoth's art (Debian wesnoth-1.16-data, GPL-2+).

- Portraits: the painted busts of ``data/core/images/portraits`` (about 400–500 px, transparent
  background), centre-cropped to square and composited on white, labelled by race folder.
- Units: every 72×72 frame under ``data/core/images/units`` (standing, attacking, defending...),
  composited on white, labelled by faction folder. Larger frames (wide attacks, big monsters) are
  left out, so every sprite keeps the game's scale. Wesnoth paints the team colour of a unit in a
  fixed magenta palette and recolours it when drawing; the frames are recoloured here as side 1
  (red) is drawn, with the palette and colour range read from the package's ``team-colors.cfg``.

Exact duplicates are kept once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from ganvas.data.builder import DatasetBuilder, Item
from ganvas.data.imageprep import SkipFile, open_image

ROOT = Path("/usr/share/games/wesnoth/1.16/data/core")
PORTRAITS = ROOT / "images/portraits"
UNITS = ROOT / "images/units"
TEAM_COLORS = ROOT / "team-colors.cfg"
UNIT_SIDE = 72
WESNOTH_LICENCE = "GPL-2+ (The Battle for Wesnoth; see /usr/share/doc/wesnoth-1.16-data/copyright)"


def _hex_colours(text: str) -> list[tuple[int, int, int]]:
    return [tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in text.split(",") if h.strip()]


@lru_cache(maxsize=1)
def team_colour_map(path: Path = TEAM_COLORS, side: str = "red") -> dict[tuple[int, int, int], tuple[int, int, int]]:
    """Wesnoth's recolouring of its magenta team-colour palette to side `side` (its recolor_range)."""
    text = path.read_text(encoding="utf-8")
    palette = _hex_colours(re.search(r"^\s*magenta=([0-9A-Fa-f,]+)", text, re.M).group(1))
    block = re.search(r"id=" + re.escape(side) + r"\s*\n\s*rgb=([0-9A-Fa-f,]+)", text).group(1)
    mid, high, low = _hex_colours(block)[:3]
    ref = sum(palette[0]) // 3
    out = {}
    for colour in palette:
        avg = sum(colour) // 3
        if ref and avg <= ref:
            t = avg / ref
            new = tuple(int(t * m + (1 - t) * lo) for m, lo in zip(mid, low, strict=True))
        else:
            t = (255 - avg) / (255 - ref)
            new = tuple(int(t * m + (1 - t) * hi) for m, hi in zip(mid, high, strict=True))
        out[colour] = tuple(min(v, 255) for v in new)
    return out


def recolour(im: Image.Image) -> Image.Image:
    """`im` (RGBA) with its team-colour pixels painted as side 1 (red)."""
    a = np.array(im.convert("RGBA"))
    rgb = a[..., :3].astype(np.int64)
    key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    for (r, g, b), new in team_colour_map().items():
        a[key == ((r << 16) | (g << 8) | b), :3] = new
    return Image.fromarray(a, "RGBA")


def load_unit(path: Path) -> Image.Image:
    im = open_image(path)
    if im.size != (UNIT_SIDE, UNIT_SIDE):
        raise SkipFile(f"not {UNIT_SIDE}×{UNIT_SIDE} (larger animation frame)")
    return recolour(im)


class WesnothPortraitsBuilder(DatasetBuilder):
    name = "wesnoth-portraits"
    title = "The Battle for Wesnoth portraits"
    description = ("The painted character portraits of The Battle for Wesnoth 1.16 (data/core/images/portraits: "
                   "humans, elves, undead, monsters...), centre-cropped to square and composited on white, "
                   "labelled by race folder; exact duplicates kept once.")
    packages = ("wesnoth-1.16-data",)
    required_paths = (str(PORTRAITS),)
    licence = WESNOTH_LICENCE[:-1] + f"; the portraits' artists are named in {PORTRAITS / 'ARTISTS'})"
    spdx = ("GPL-2.0-or-later",)
    attribution = (f"Portraits from The Battle for Wesnoth 1.16, copyright 2003-2022 David White and the Wesnoth "
                   "contributors (the portraits' artists are named in "
                   f"{PORTRAITS / 'ARTISTS'}), licensed under the GNU General Public License version 2 or later "
                   "(full text: /usr/share/common-licenses/GPL-2; /usr/share/doc/wesnoth-1.16-data/copyright). "
                   "Works derived from them must be shared under the GPL-2.0-or-later with this notice.")
    native_size = 256
    fit = "crop"
    distinct = True

    def items(self) -> Iterator[Item]:
        for path in sorted(PORTRAITS.rglob("*.png")):
            rel = path.relative_to(PORTRAITS)
            if len(rel.parts) < 2:
                continue
            yield rel.as_posix(), rel.parts[0], (lambda p=path: open_image(p))


class WesnothUnitsBuilder(DatasetBuilder):
    name = "wesnoth-units"
    title = "The Battle for Wesnoth unit sprites"
    description = ("Every 72×72 unit sprite frame of The Battle for Wesnoth 1.16 (data/core/images/units: "
                   "standing, attacking, defending...), team colour painted red as side 1 is drawn, "
                   "composited on white, labelled by faction folder; larger frames left out, exact "
                   "duplicates kept once.")
    packages = ("wesnoth-1.16-data",)
    required_paths = (str(UNITS), str(TEAM_COLORS))
    licence = WESNOTH_LICENCE
    spdx = ("GPL-2.0-or-later",)
    attribution = ("Unit sprites from The Battle for Wesnoth 1.16, copyright 2003-2022 David White and the Wesnoth "
                   "contributors, licensed under the GNU General Public License version 2 or later "
                   "(full text: /usr/share/common-licenses/GPL-2; /usr/share/doc/wesnoth-1.16-data/copyright). "
                   "Works derived from them must be shared under the GPL-2.0-or-later with this notice.")
    native_size = UNIT_SIDE
    distinct = True

    def items(self) -> Iterator[Item]:
        for path in sorted(UNITS.rglob("*.png")):
            rel = path.relative_to(UNITS)
            if len(rel.parts) < 2:              # unknown-unit.png, random-dice.png: no faction
                continue
            yield rel.as_posix(), rel.parts[0], (lambda p=path: load_unit(p))
