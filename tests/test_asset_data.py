"""Game-art datasets built from the real Debian packages (crawl-tiles-data, wesnoth-1.16-data), and atlas cutting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.data import DATASETS
from ganvas.data.atlas import centred, cut_sprites, grid_cells
from ganvas.data.dataset import builtin_root, load_dataset


def built(name: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """The card, images and labels of a built-in dataset (built on first use, then reused by the session)."""
    ds = load_dataset(name, DATASETS.get(name).native_size, progress=False)
    card = json.loads((builtin_root(name) / "card.json").read_text())
    return card, ds.arrays["x"], ds.arrays["y"]


def counts(card: dict) -> dict[str, int]:
    return dict(zip(card["labels"]["names"], card["labels"]["counts"], strict=True))


def assert_distinct(images: np.ndarray) -> None:
    digests = {hashlib.sha256(im.tobytes()).digest() for im in images}
    assert len(digests) == len(images), "a dataset kept an exact duplicate"


# --- cutting atlases ---------------------------------------------------------------------------------


def test_touching_sprites_are_cut_apart_where_they_touch_and_fragments_dropped() -> None:
    atlas = np.zeros((40, 90, 4), dtype=np.uint8)
    atlas[2:30, 0:28] = (200, 0, 0, 255)            # a sprite with a thin arm to the right...
    atlas[10:12, 28:30] = (200, 0, 0, 255)
    atlas[10:12, 30:32] = (0, 200, 0, 255)          # ...touching its neighbour's arm: one component 56 wide
    atlas[4:28, 32:56] = (0, 200, 0, 255)
    atlas[35:38, 80:83] = (0, 0, 200, 255)          # a 3×3 speck
    sprites, fragments = cut_sprites(atlas, 32)
    assert fragments == 1 and len(sprites) == 2
    left, right = sorted(sprites, key=lambda s: s.x)
    assert left.x == 0 and 28 <= right.x <= 32      # cut across the arms, not through a body
    assert all(max(s.rgba.shape[:2]) <= 32 for s in sprites)
    kept = sum(int((s.rgba[..., 3] > 0).sum()) for s in sprites)
    assert kept == int((atlas[..., 3] > 0).sum()) - 9          # every pixel but the speck's, once
    tile = centred(right.rgba, 32)
    assert tile.shape == (32, 32, 4) and tile[..., 3].sum() == right.rgba[..., 3].sum()


def test_regions_keep_only_the_sprites_whose_corner_lies_in_them() -> None:
    atlas = np.zeros((32, 64, 4), dtype=np.uint8)
    atlas[0:20, 0:20] = 255
    atlas[0:20, 40:60] = 255
    sprites, _ = cut_sprites(atlas, 32, regions=((32, 0, 64, 32),))
    assert [(s.y, s.x) for s in sprites] == [(0, 40)]
    cells = list(grid_cells(np.arange(64 * 96 * 4, dtype=np.uint32).reshape(64, 96, 4), 32))
    assert [(r, c) for r, c, _ in cells] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]


# --- Dungeon Crawl ----------------------------------------------------------------------------------


def test_crawl_tiles_card_counts_and_licence() -> None:
    card, images, labels = built("crawl-tiles")
    n = counts(card)
    assert card["labels"]["names"] == ["floor", "item", "monster", "wall"]
    assert 850 <= n["floor"] <= 950 and 1150 <= n["wall"] <= 1250        # the distinct opaque grid cells
    assert 700 <= n["item"] <= 1000 and 900 <= n["monster"] <= 1200        # cut from the packed atlases
    assert card["count"] == len(images) == sum(n.values()) and images.shape[1:] == (32, 32, 3)
    assert np.bincount(labels).tolist() == card["labels"]["counts"]
    assert "CC0" in card["licence"] and card["native_size"] == 32
    assert card["source"]["packages"]["crawl-tiles-data"]                  # the installed version
    assert card["source"]["copyright"] == {"crawl-tiles-data": "/usr/share/doc/crawl-tiles-data/copyright"}
    assert "/usr/share/crawl/dat/tiles/player.png" in card["source"]["paths"]
    skipped = card["skipped"]
    assert skipped["duplicate"] > 0 and skipped["empty cell"] > 0 and skipped["overlay (partly transparent)"] > 0
    assert_distinct(images)
    readme = (builtin_root("crawl-tiles") / "README.md").read_text()
    assert "| monster |" in readme and "/usr/share/doc/crawl-tiles-data/copyright" in readme


def test_crawl_floor_tiles_are_the_atlas_cells_unchanged() -> None:
    card, images, labels = built("crawl-tiles")
    floor = images[labels == card["labels"]["names"].index("floor")]
    atlas = np.asarray(Image.open("/usr/share/crawl/dat/tiles/floor.png").convert("RGBA"))
    cells = {hashlib.sha256(np.ascontiguousarray(c[..., :3]).tobytes()).digest()
             for _, _, c in grid_cells(atlas, 32) if (c[..., 3] == 255).all()}
    assert {hashlib.sha256(t.tobytes()).digest() for t in floor} == cells   # every opaque cell once, unscaled


def test_crawl_terrain_and_monsters_are_the_kinds_of_crawl_tiles() -> None:
    whole = counts(built("crawl-tiles")[0])
    terrain, monsters = built("crawl-terrain")[0], built("crawl-monsters")[0]
    assert counts(terrain) == {"floor": whole["floor"], "wall": whole["wall"]}
    assert counts(monsters) == {"monster": whole["monster"]}


# --- The Battle for Wesnoth ------------------------------------------------------------------------


def test_wesnoth_portraits_card() -> None:
    card, images, _ = built("wesnoth-portraits")
    n = counts(card)
    assert 200 <= card["count"] <= 260 and images.shape[1:] == (256, 256, 3)
    assert n["humans"] >= 50 and {"elves", "undead", "drakes", "orcs"} <= set(n)
    assert card["licence"].startswith("GPL-2+") and "ARTISTS" in card["licence"]
    assert card["source"]["copyright"] == {"wesnoth-1.16-data": "/usr/share/doc/wesnoth-1.16-data/copyright"}
    corners = images[:, [0, 0, -1], [0, -1, 0]]
    assert (corners == 255).all(axis=-1).mean() > 0.5          # transparent backgrounds composited on white
    assert_distinct(images)


def test_wesnoth_units_are_72px_frames_painted_in_a_team_colour() -> None:
    card, images, _ = built("wesnoth-units")
    n = counts(card)
    assert 4000 <= card["count"] <= 4800 and images.shape[1:] == (72, 72, 3)
    assert len(n) >= 20 and n["dwarves"] >= 500 and n["human-loyalists"] >= 300
    assert card["skipped"]["not 72×72 (larger animation frame)"] > 1000 and card["skipped"]["duplicate"] > 0
    assert "GPL-2+" in card["licence"]
    magenta = np.array([0xEC, 0x00, 0x8C])                       # the middle of Wesnoth's team-colour palette
    red = np.array([0xFF, 0x00, 0x00])                           # what its reference colour becomes for side 1
    assert not (images == magenta).all(axis=-1).any()
    assert (images == red).all(axis=-1).sum() > 1000
    assert_distinct(images)


def test_team_colour_map_follows_wesnoth() -> None:
    from ganvas.data.wesnoth import team_colour_map

    mapping = team_colour_map()
    assert len(mapping) == 19 and mapping[(0xF4, 0x9A, 0xC1)] == (255, 0, 0)   # the reference becomes the mid
    darkest = mapping[(0x3F, 0x00, 0x16)]
    assert darkest[1] == darkest[2] == 0 and darkest[0] < 128                  # darker shades go towards black


@pytest.mark.parametrize("name", ["crawl-tiles", "crawl-terrain", "crawl-monsters", "wesnoth-portraits",
                                  "wesnoth-units"])
def test_every_new_dataset_says_what_to_install_when_its_package_is_missing(name: str, monkeypatch) -> None:
    builder = DATASETS.get(name)()
    assert builder.missing() is None
    monkeypatch.setattr(Path, "exists", lambda self: False)
    assert f"sudo apt-get install -y {builder.packages[0]}" in builder.missing()
