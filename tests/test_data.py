"""Datasets: the built-in builders, the folder loader, and what happens to bad files."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.data import DATASETS
from ganvas.data.dataset import builtin_root, fingerprint_arrays, load_dataset
from ganvas.data.emoji import parse_emoji_test
from ganvas.data.folder import load_folder
from ganvas.data.imageprep import fit_square
from ganvas.errors import GanvasError


def huge_png(path: Path, side: int = 20000) -> None:
    """A real, valid side×side greyscale PNG (all black), compressed to a few hundred kB."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def make_folder(root: Path) -> Path:
    """Eight good images of several kinds and five bad files."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(root / f"rgb{i}.png")
    Image.fromarray(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8)).save(root / "photo.jpg", quality=90)
    Image.fromarray(rng.integers(0, 255, (30, 30, 3), dtype=np.uint8)).save(root / "pic.webp")
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (255, 0, 0, 255)                       # red square on transparent
    Image.fromarray(rgba, "RGBA").save(root / "alpha.png")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(root / "grey.png")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").convert("P").save(root / "pal.png")
    # the bad ones
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    (root / "fake.png").write_text("<html>this is not a png</html>")
    good = (root / "rgb0.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    huge_png(root / "huge.png")
    return root


def test_folder_loader_keeps_good_images_and_counts_bad_ones(tmp_path: Path, capsys) -> None:
    folder = make_folder(tmp_path / "imgs")
    ds = load_folder(folder, 32, progress=False)
    assert ds.arrays["x"].shape == (8, 32, 32, 3) and ds.arrays["x"].dtype == np.uint8
    assert ds.card["skipped"] == {"zero-byte": 1, "not an image": 2, "unreadable": 1, "too large": 1}
    err = capsys.readouterr().err
    assert "skipped 5 of 13 files" in err and "1 too large" in err

    from ganvas.data import data_home

    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]   # this folder's cache, not another test's
    listed = (data_home() / "folders" / key / "32-crop" / "skipped.txt").read_text()
    assert {line.split("\t")[0] for line in listed.splitlines()} == {
        "empty.png", "notes.txt", "fake.png", "truncated.png", "huge.png"}
    # transparency is composited on white: the corners of the red-square image are white
    alpha = fit_square(Image.open(folder / "alpha.png"), 20)
    assert alpha.getpixel((0, 0)) == (255, 255, 255) and alpha.getpixel((10, 10)) == (255, 0, 0)


def test_folder_cache_is_reused_and_invalidated(tmp_path: Path, monkeypatch) -> None:
    folder = make_folder(tmp_path / "imgs")
    first = load_folder(folder, 16, progress=False)
    import ganvas.data.folder as folder_mod

    def no_decoding(*a, **k):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(folder_mod, "open_image", no_decoding)
    again = load_folder(folder, 16, progress=False)                  # no decoding: served from the cache
    assert again.fingerprint == first.fingerprint
    monkeypatch.undo()
    Image.new("RGB", (8, 8), "blue").save(folder / "new.png")
    changed = load_folder(folder, 16, progress=False)
    assert len(changed) == len(first) + 1


def test_subfolders_become_labels(tmp_path: Path) -> None:
    for label, colour in (("cats", "orange"), ("dogs", "brown")):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.new("RGB", (10, 10), colour).save(tmp_path / label / f"{i}.png")
    ds = load_folder(tmp_path, 8, progress=False)
    assert ds.label_names == ["cats", "dogs"] and ds.arrays["y"].tolist() == [0, 0, 1, 1]


def test_empty_missing_and_all_bad_folders_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(GanvasError, match="does not exist"):
        load_folder(tmp_path / "nope", 32)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanvasError, match="holds no usable images"):
        load_folder(tmp_path / "empty", 32)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"")
    with pytest.raises(GanvasError, match=r"holds no usable images .*1 zero-byte"):
        load_folder(bad, 32)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(GanvasError, match="is a file; expected a folder"):
        load_folder(tmp_path / "file.png", 32)
    with pytest.raises(GanvasError, match="unknown dataset .*'emojj'.*did you mean 'emoji'"):
        load_dataset("emojj", 32)


def test_fit_crop_and_pad() -> None:
    wide = Image.new("RGB", (200, 100), "black")
    wide.paste(Image.new("RGB", (20, 100), "red"), (0, 0))          # a red band at the far left
    cropped = fit_square(wide, 50, "crop")
    padded = fit_square(wide, 50, "pad")
    assert cropped.size == padded.size == (50, 50)
    assert cropped.getpixel((0, 25)) == (0, 0, 0)                    # the band is cropped away
    assert padded.getpixel((25, 2)) == (255, 255, 255)               # white padding above
    assert padded.getpixel((1, 25))[0] > 200                         # the band survives padding


def test_emoji_builder(emoji_built: Path) -> None:
    card = json.loads((emoji_built / "card.json").read_text())
    assert card["count"] == 3655 == len(parse_emoji_test())
    assert len(card["labels"]["names"]) == 9 and "Smileys & Emotion" in card["labels"]["names"]
    assert sum(card["labels"]["counts"]) == 3655
    assert "Open Font License" in card["licence"]
    assert card["source"]["packages"]["fonts-noto-color-emoji"]            # version recorded
    images = np.load(emoji_built / "images.npy")
    assert images.shape == (3655, 128, 128, 3)
    assert fingerprint_arrays({"x": images, "y": np.load(emoji_built / "labels.npy")}) == card["fingerprint"]
    grinning = images[0].astype(int)                                   # 😀: yellow face on white
    assert (grinning[0, 0] == 255).all()
    centre = grinning[40:90, 40:90].reshape(-1, 3).mean(0)
    assert centre[0] > 180 and centre[1] > 120 and centre[2] < 120
    assert "| Smileys & Emotion |" in (emoji_built / "README.md").read_text()


def test_resolutions_derive_from_the_stored_images(emoji_built: Path) -> None:
    a = load_dataset("emoji", 32, progress=False)
    b = load_dataset("emoji", 32, progress=False)                      # from the cache
    assert a.arrays["x"].shape == (3655, 32, 32, 3) and a.fingerprint == b.fingerprint
    assert a.fingerprint != load_dataset("emoji", 64, progress=False).fingerprint
    with pytest.raises(GanvasError, match="stored at 128 px"):
        load_dataset("emoji", 256)


def test_openclipart_items_skip_stars_and_special(tmp_path: Path) -> None:
    builder = DATASETS.get("openclipart")()
    items = list(builder.items())
    keys = [k for k, _, _ in items]
    assert not [k for k in keys if k.startswith("shapes/stars/") or k.startswith("special/")]
    assert any(k.startswith("shapes/") for k in keys)
    labels = {label for _, label, _ in items}
    assert {"animals", "food", "people", "shapes"} <= labels and "special" not in labels
    builder.build(tmp_path / "oc", progress=False, limit=40)
    card = json.loads((tmp_path / "oc" / "card.json").read_text())
    assert card["count"] + sum(card["skipped"].values()) == 40 and card["available"] == len(items)
    assert "Public domain" in card["licence"]


def test_papirus_renders_each_distinct_svg_once(tmp_path: Path) -> None:
    builder = DATASETS.get("papirus")()
    items = list(builder.items())
    root = Path("/usr/share/icons/Papirus/64x64/apps")
    distinct = {p.resolve() for p in root.glob("*.svg") if p.resolve().is_file()}
    assert len(items) == len(distinct) > 1000
    builder.build(tmp_path / "pap", progress=False, limit=12)
    images = np.load(tmp_path / "pap" / "images.npy")
    assert images.shape[1:] == (128, 128, 3) and len(images) >= 10
    assert (images < 240).any(axis=(1, 2, 3)).all()                   # every icon has drawn pixels
    assert not (tmp_path / "pap" / "labels.npy").exists()


def test_missing_package_names_what_to_install(monkeypatch) -> None:
    builder = DATASETS.get("emoji")()
    monkeypatch.setattr(type(builder), "required_paths", ("/nonexistent/font.ttf",))
    assert "apt-get install -y fonts-noto-color-emoji unicode-data" in builder.missing()
    with pytest.raises(GanvasError, match="install them with"):
        builder.build(Path(os.devnull).parent / "never")


def test_builtin_root_is_under_ganvas_home(ganvas_home: Path) -> None:
    assert builtin_root("emoji") == ganvas_home / "datasets" / "emoji"
