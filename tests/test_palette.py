"""Pixel-art outputs: palettes (median cut, a dataset's own), quantisation, pixel repetition, sprite sheets, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from ganvas.cli import main
from ganvas.data.dataset import load_dataset
from ganvas.data.palette import dataset_palette, median_cut, quantise
from ganvas.domains.pixelart import pixel_repeat, sheet_layout, sprite_sheet
from ganvas.errors import GanvasError

FIVE = np.array([[0, 0, 0], [255, 255, 255], [200, 30, 30], [30, 200, 30], [20, 40, 220]], dtype=np.uint8)


def colours_of(images: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in images.reshape(-1, images.shape[-1])}


def test_median_cut_keeps_colours_that_occur_and_never_more_than_asked() -> None:
    rng = np.random.default_rng(0)
    pixels = FIVE[rng.integers(0, 5, (40, 16, 16))]
    assert colours_of(median_cut(pixels, 8)) == colours_of(FIVE)          # fewer exist than asked: all of them
    three = median_cut(pixels, 3)
    assert len(three) == 3 and colours_of(three) <= colours_of(FIVE)      # real colours, not averages
    noise = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    assert len(median_cut(noise, 16)) == 16


def test_quantising_puts_every_pixel_on_its_nearest_palette_colour() -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)
    out = quantise(images, FIVE)
    assert out.shape == images.shape and colours_of(out) <= colours_of(FIVE)
    d = ((images[..., None, :].astype(int) - FIVE.astype(int)) ** 2).sum(-1)     # brute force: every distance
    nearest = d.min(-1)
    chosen = ((images.astype(int) - out.astype(int)) ** 2).sum(-1)
    assert np.array_equal(chosen, nearest)
    n_colours = median_cut(images, 6)
    assert len(colours_of(quantise(images, n_colours))) <= 6


def test_a_dataset_palette_is_its_own_colours_and_is_cached(tmp_path: Path) -> None:
    folder = tmp_path / "four"
    folder.mkdir()
    four = FIVE[1:]
    rng = np.random.default_rng(2)
    for i in range(6):
        Image.fromarray(four[rng.integers(0, 4, (16, 16))]).save(folder / f"{i}.png")
    ds = load_dataset(str(folder), 16, progress=False)
    cache = tmp_path / "palettes"
    palette = dataset_palette(ds.arrays["x"], ds.fingerprint, 8, cache)
    assert colours_of(palette) == colours_of(four)
    (path,) = cache.glob("palette-*-8.json")
    saved = json.loads(path.read_text())
    assert saved["fingerprint"] == ds.fingerprint and len(saved["hex"]) == 4
    saved["colours"] = [[1, 2, 3], [4, 5, 6]]               # what the cache says is what comes back
    path.write_text(json.dumps(saved))
    assert colours_of(dataset_palette(ds.arrays["x"], ds.fingerprint, 8, cache)) == {(1, 2, 3), (4, 5, 6)}


def test_pixel_repetition_makes_blocks_of_each_pixel() -> None:
    images = np.random.default_rng(3).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    big = pixel_repeat(images, 4)
    assert big.shape == (2, 20, 28, 3)
    assert np.array_equal(big[:, ::4, ::4], images)
    assert all(np.array_equal(big[:, dy::4, dx::4], images) for dy in range(4) for dx in range(4))
    with pytest.raises(GanvasError, match="pixel scale must be a whole number from 1 to 64, got 0"):
        pixel_repeat(images, 0)


@pytest.mark.parametrize("channels", [3, 4])
def test_sprite_sheet_frames_lie_where_the_json_says(channels: int) -> None:
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (5, 8, 6, channels), dtype=np.uint8)
    names = [f"f{i}" for i in range(5)]
    picture, desc = sprite_sheet(frames, names)
    sheet = np.asarray(picture)
    assert desc["meta"]["size"] == {"w": sheet.shape[1], "h": sheet.shape[0]} == {"w": 3 * 7 + 1, "h": 2 * 9 + 1}
    covered = np.zeros(sheet.shape[:2], dtype=int)
    for i, name in enumerate(names):
        box = desc["frames"][name]["frame"]
        assert np.array_equal(sheet[box["y"]:box["y"] + box["h"], box["x"]:box["x"] + box["w"]], frames[i])
        covered[box["y"]:box["y"] + box["h"], box["x"]:box["x"] + box["w"]] += 1
    assert covered.max() == 1                                   # no two frames overlap
    padding = sheet[covered == 0]
    if channels == 4:
        assert (padding[:, 3] == 0).all()                       # transparent between frames
    else:
        assert (padding == 255).all()                           # white between frames
    assert sheet_layout(5, 8, 6, columns=5)[:2] == (5 * 7 + 1, 9 + 1)


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "needles"), [
    (["--palette", "no-such-data"], ["--palette expects a built-in dataset", "'no-such-data'"]),
    (["--palette", "1"], ["--palette N (a number of colours) must be a whole number from 2 to 256, got 1"]),
    (["--palette", "emoji", "--colours", "300"], ["--colours must be a whole number from 2 to 256, got 300"]),
    (["--pixel-scale", "0"], ["--pixel-scale must be a whole number from 1 to 64, got 0"]),
    (["--sheet", "sheet.gif"], ["--sheet writes a PNG file", "sheet.gif"]),
    (["--style-mix", "1", "2", "--sheet", "s.png"], ["--style-mix draws its own grid"]),
])
def test_bad_asset_options_are_one_line_errors(args: list[str], needles: list[str], tmp_path: Path, capsys) -> None:
    assert main(["sample", str(tmp_path / "no-run"), *args]) == 1      # refused before any model is loaded
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: ")
    assert all(n in err[0] for n in needles), err[0]


def test_the_real_command_refuses_a_bad_palette_in_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("sample", str(tmp_path), "--palette", "0x10"), "--palette expects")


def test_sample_writes_a_quantised_upscaled_sheet_and_tilings(tileable_run: Path, tmp_path: Path, capsys) -> None:
    sheet, tiles = tmp_path / "sheet.png", tmp_path / "tiles"
    assert main(["sample", str(tileable_run), "--n", "6", "--palette", "5", "--pixel-scale", "3", "--sheet", str(sheet),
                 "--tile-preview", "--out-dir", str(tiles)]) == 0
    out = capsys.readouterr().out
    assert "palette: 5 colours fitted to the outputs" in out and "seam score" in out and "training images" in out
    desc = json.loads(sheet.with_suffix(".json").read_text())
    assert desc["meta"]["image"] == "sheet.png" and len(desc["frames"]) == 6
    picture = np.asarray(Image.open(sheet))
    frames = [picture[b["y"]:b["y"] + b["h"], b["x"]:b["x"] + b["w"]]
              for b in (f["frame"] for f in desc["frames"].values())]
    assert all(f.shape == (96, 96, 3) for f in frames)                      # 32 px × 3
    assert len(colours_of(np.stack(frames))) <= 5                           # every frame pixel in the palette
    assert all(np.array_equal(f, f[::3, ::3].repeat(3, 0).repeat(3, 1)) for f in frames)
    tiled = np.asarray(Image.open(tiles / "seed0000-3x3.png"))
    single = np.asarray(Image.open(tiles / "seed0000.png"))
    assert tiled.shape == (288, 288, 3) and np.array_equal(tiled[96:192, 192:288], single)


def test_a_dataset_palette_from_the_command_line(tileable_run: Path, tmp_path: Path, capsys) -> None:
    grid = tmp_path / "grid.png"
    assert main(["sample", str(tileable_run), "--n", "4", "--palette", "emoji", "--colours", "12", "--grid",
                 str(grid)]) == 0
    assert "palette: 12 colours of emoji" in capsys.readouterr().out
    from ganvas.data import data_home

    (cached,) = (data_home() / "palettes").glob("palette-*-12.json")
    palette = {tuple(c) for c in json.loads(cached.read_text())["colours"]}
    cells = np.asarray(Image.open(grid))
    assert colours_of(cells) <= palette | {(255, 255, 255)}                # grid padding is white
