"""`crawl-tiles`, `crawl-terrain`, `crawl-monsters`: Dungeon Crawl Stone Soup's 32×32 tiles (Debian crawl-tiles-data).

- floor and wall: every cell of the 32-pixel grids of ``floor.png`` and ``wall.png``. Only opaque
  cells are kept: empty cells are padding, and partly transparent ones are overlays drawn over
  another tile (blood, moss, wall decorations), not tiles of their own.
- item and monster: cut from the packed atlases ``main.png`` (items) and ``player.png`` (monsters)
  as connected components of opaque pixels (`ganvas.data.atlas`), centred unscaled on 32×32. The
  atlases also hold corpses, spell effects, the player doll's parts and tentacle segments; the bands
  of each atlas kept here (`ITEM_REGIONS`, `MONSTER_REGIONS`) were read off crawl 0.28's atlases, the
  version Debian 12 ships (the dataset card records the version used).

Exact duplicate tiles are kept once. Labels are the kind of tile: the atlases name nothing finer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

from ganvas.data.atlas import centred, cut_sprites, grid_cells
from ganvas.data.builder import DatasetBuilder, Item
from ganvas.data.imageprep import SkipFile

ROOT = Path("/usr/share/crawl/dat/tiles")
TILE = 32
ATLASES = {"floor": "floor.png", "wall": "wall.png", "item": "main.png", "monster": "player.png"}
# (left, top, right, bottom) bands of the packed atlases holding each kind (a sprite counts where its
# top-left corner lies). main.png: items, then corpses from the middle of the coins' row on.
# player.png: demon parts above y = 646, then monsters (tentacle segments from x = 586 of the band at
# y = 774 to x = 348 of the band at y = 998 left out), then from x = 879 at y = 1750 the player doll.
ITEM_REGIONS = ((0, 0, 1024, 689), (0, 689, 430, 721))
MONSTER_REGIONS = ((0, 646, 1024, 774), (0, 774, 586, 806), (348, 998, 1024, 1030), (0, 1030, 1024, 1750),
                   (0, 1750, 879, 1782))
CRAWL_LICENCE = ("CC0 / public domain (Debian's copyright file: \"Public Domain|CC0: most of tiles\"; the "
                 "game as a whole is GPL-2+: see /usr/share/doc/crawl-tiles-data/copyright)")


def _atlas(kind: str) -> np.ndarray:
    with Image.open(ROOT / ATLASES[kind]) as im:
        return np.asarray(im.convert("RGBA"))


def _rgba_loader(rgba: np.ndarray) -> Callable[[], Image.Image]:
    return lambda: Image.fromarray(rgba, "RGBA")


def _grid_loader(cell: np.ndarray) -> Callable[[], Image.Image]:
    """A grid cell as an image, or SkipFile for empty cells and partly transparent overlays."""
    def load() -> Image.Image:
        alpha = cell[..., 3]
        if not alpha.any():
            raise SkipFile("empty cell")
        if alpha.min() < 255:
            raise SkipFile("overlay (partly transparent)")
        return Image.fromarray(cell, "RGBA")
    return load


def crawl_items(kinds: tuple[str, ...], dropped: Counter[str]) -> Iterator[Item]:
    """(key, kind, loader) of every tile of `kinds`; fragments of the packed atlases are counted in `dropped`."""
    for kind in kinds:
        rgba = _atlas(kind)
        if kind in ("floor", "wall"):
            for r, c, cell in grid_cells(rgba, TILE):
                yield f"{kind}/r{r:02d}c{c:02d}", kind, _grid_loader(cell.copy())
        else:
            regions = ITEM_REGIONS if kind == "item" else MONSTER_REGIONS
            sprites, fragments = cut_sprites(rgba, TILE, regions=regions)
            dropped[f"{kind} fragment (too small to be a picture)"] += fragments
            for s in sprites:
                yield f"{kind}/y{s.y:04d}x{s.x:04d}", kind, _rgba_loader(centred(s.rgba, TILE))


class CrawlTilesBuilder(DatasetBuilder):
    name = "crawl-tiles"
    title = "Dungeon Crawl Stone Soup tiles"
    description = ("The 32×32 tiles of Dungeon Crawl Stone Soup (Debian crawl-tiles-data): the distinct opaque "
                   "floor and wall tiles of the grids floor.png and wall.png, and items and monsters cut from "
                   "the packed atlases main.png and player.png by connected components of opaque pixels, "
                   "centred unscaled and composited on white. Exact duplicates kept once; labelled by kind.")
    packages = ("crawl-tiles-data",)
    licence = CRAWL_LICENCE
    spdx = ("CC0-1.0", "GPL-2.0-or-later")
    attribution = ("Tiles from Dungeon Crawl Stone Soup, copyright 1997-2016 Linley Henzell, the dev team and the "
                   "contributors (artists credited in /usr/share/doc/crawl-tiles-data/CREDITS.txt.gz); most tiles "
                   "are public domain / CC0 (the rltiles project), the game as a whole is licensed under the GNU "
                   "General Public License version 2 or later (full text: /usr/share/common-licenses/GPL-2; "
                   "/usr/share/doc/crawl-tiles-data/copyright). Share derived works under the GPL-2.0-or-later "
                   "with this notice unless every tile used is known to be CC0.")
    native_size = TILE
    distinct = True
    kinds: ClassVar[tuple[str, ...]] = ("floor", "wall", "item", "monster")

    @property
    def required_paths(self) -> tuple[str, ...]:
        return tuple(str(ROOT / ATLASES[k]) for k in self.kinds)

    def items(self) -> Iterator[Item]:
        yield from crawl_items(self.kinds, self.dropped)


class CrawlTerrainBuilder(CrawlTilesBuilder):
    name = "crawl-terrain"
    title = "Dungeon Crawl Stone Soup floor and wall tiles"
    description = ("The distinct opaque 32×32 floor and wall tiles of Dungeon Crawl Stone Soup (Debian "
                   "crawl-tiles-data: the grids floor.png and wall.png), labelled floor or wall. Made to "
                   "tile: train with --tileable.")
    kinds = ("floor", "wall")


class CrawlMonstersBuilder(CrawlTilesBuilder):
    name = "crawl-monsters"
    title = "Dungeon Crawl Stone Soup monsters"
    description = ("The monsters of Dungeon Crawl Stone Soup (Debian crawl-tiles-data), cut from the packed "
                   "atlas player.png by connected components of opaque pixels, centred unscaled on 32×32 "
                   "and composited on white; exact duplicates kept once.")
    kinds = ("monster",)
