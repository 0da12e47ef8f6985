"""Translation data: the font and icon sets, pairing a user's folders, and which model gets which layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import shape_pair
from PIL import Image

from ganvas.data.dataset import load_dataset
from ganvas.data.glyphs import MissingGlyph, find_face, gb2312_level1, render_glyph
from ganvas.data.translation import held_out
from ganvas.data.translation_folder import load_translation_folder
from ganvas.errors import GanvasError


def test_gb2312_level1_is_the_3755_common_characters() -> None:
    chars = gb2312_level1()
    assert len(chars) == len(set(chars)) == 3755
    assert chars[0] == "啊" and chars[-1] == "座"             # GB 2312 0xB0A1 and 0xD7F9
    assert "春" in chars and "晓" in chars


def test_glyphs_are_centred_on_their_ink_and_missing_ones_are_recognised() -> None:
    from ganvas.data.cjk_fonts import font_face

    face = font_face("kai")
    one = render_glyph(face, "一", 128)[..., 0]                 # a single horizontal stroke
    assert one.shape == (128, 128) and one.dtype == np.uint8
    ys, xs = np.nonzero(one < 128)
    assert abs((ys.min() + ys.max()) / 2 - 63.5) <= 1 and abs((xs.min() + xs.max()) / 2 - 63.5) <= 1
    assert ys.max() - ys.min() < 20 < xs.max() - xs.min()      # wide and flat: drawn at the font's size
    assert (render_glyph(face, " ", 128) == 255).all()          # whitespace is a blank square
    for absent in ("𠀀", "😀"):                                  # CJK extension B, an emoji: not in the font
        with pytest.raises(MissingGlyph):
            render_glyph(face, absent, 128)
    with pytest.raises(GanvasError, match="has no face 'Nope'; it has: AR PL UKai CN"):
        find_face(face.path, "Nope")


def test_held_out_split_depends_on_the_key_alone() -> None:
    chars = gb2312_level1()
    chosen = [c for c in chars if held_out(c, 10)]
    assert 300 < len(chosen) < 450                                  # about one in ten
    assert chosen == [c for c in reversed(chars) if held_out(c, 10)][::-1]


def test_cjk_fonts_pairs_share_characters_and_hold_some_out(cjk_built: Path) -> None:
    card = json.loads((cjk_built / "card.json").read_text())
    assert card["layout"] == "paired" and card["default_pair"] == ["ming", "kai"]
    assert set(card["domains"]) == {"kai", "ming", "zenhei", "sans", "serif"}
    assert card["source"]["packages"]["fonts-arphic-ukai"]                  # version recorded
    keys = {d: (cjk_built / f"{d}.keys.txt").read_text().split() for d in card["domains"]}
    test_keys = {d: (cjk_built / f"{d}.test.keys.txt").read_text().split() for d in card["domains"]}
    assert all(k == keys["kai"] for k in keys.values()) and all(k == test_keys["kai"] for k in test_keys.values())
    assert not set(keys["kai"]) & set(test_keys["kai"])
    assert all(held_out(c, 10) for c in test_keys["kai"]) and not any(held_out(c, 10) for c in keys["kai"])
    ds = load_dataset("cjk-fonts", 32, progress=False)
    assert ds.layout == "paired" and ds.streams == {"pair": ["a", "b"]}
    assert ds.arrays["a"].shape == (len(keys["ming"]), 32, 32, 1)          # one grey channel
    ming = np.load(cjk_built / "ming.npy")
    assert (ming[:, 0, 0, 0] == 255).all() and (ming < 128).any(axis=(1, 2, 3)).all()   # black ink on white
    summary = ds.summary()["translation"]
    assert summary["a"]["name"] == "ming" and summary["b"]["font"]["family"] == "AR PL UKai CN"
    other = load_dataset("cjk-fonts:sans:kai", 32, progress=False)
    assert other.fingerprint != ds.fingerprint and np.array_equal(other.arrays["b"], ds.arrays["b"])
    assert "| kai | AR PL UKai CN |" in (cjk_built / "README.md").read_text()


@pytest.mark.parametrize(("spec", "message"), [
    ("cjk-fonts:ming", "expected cjk-fonts:A:B with two of its domains"),
    ("cjk-fonts:ming:kia", "unknown domain of dataset 'cjk-fonts' 'kia' (did you mean 'kai'?)"),
    ("cjk-fonts:kai:kai", "A and B are both 'kai'"),
])
def test_bad_variants_are_one_line_errors(spec: str, message: str, cjk_built) -> None:
    with pytest.raises(GanvasError, match=re.escape(message)):
        load_dataset(spec, 32)


def test_a_single_image_set_has_no_variants(emoji_built) -> None:
    with pytest.raises(GanvasError, match="'emoji' is a set of single images and has no variants"):
        load_dataset("emoji:a:b", 32)


def test_icon_themes_are_unpaired(icons_built: Path) -> None:
    card = json.loads((icons_built / "card.json").read_text())
    assert card["layout"] == "unpaired" and card["domains"]["numix"]["title"] == "Numix-Circle"
    ds = load_dataset("icons-papirus-numix", 32, progress=False)
    assert ds.streams == {"a": ["a"], "b": ["b"]} and ds.arrays["a"].shape[1:] == (32, 32, 3)
    assert len(ds.arrays["a"]) + len(ds.arrays["a_test"]) + card["domains"]["papirus"]["skipped"].get(
        "unreadable", 0) == 40


def test_the_flat_and_lemon_themes_are_found() -> None:
    from ganvas.data import DATASETS

    builder = DATASETS.get("icons-flat-lemon")()
    flat, lemon = list(builder.domain_items("flat")), list(builder.domain_items("lemon"))
    assert len(flat) > 500 and len(lemon) > 300                   # distinct pictures: themes repeat files
    assert len({k for k, _, _ in flat}) == len(flat)


def test_layouts_are_matched_to_models(cjk_built, icons_built, emoji_built) -> None:
    paired = load_dataset("cjk-fonts", 32, progress=False)
    assert paired.for_layout("paired", "pix2pix") is paired
    unpaired = paired.for_layout("unpaired", "cyclegan")           # pairs serve CycleGAN, each side on its own
    assert unpaired.streams == {"a": ["a"], "b": ["b"]} and unpaired.fingerprint == paired.fingerprint
    with pytest.raises(GanvasError, match="model 'pix2pix' trains on pairs of images .* holds two unpaired"):
        load_dataset("icons-papirus-numix", 32).for_layout("paired", "pix2pix")
    with pytest.raises(GanvasError, match="model 'cyclegan' trains on two unpaired .* holds single images"):
        load_dataset("emoji", 32).for_layout("unpaired", "cyclegan")
    with pytest.raises(GanvasError, match="model 'dcgan' trains on single images, but the data 'cjk-fonts'"):
        paired.for_layout("single", "dcgan")


# --- the user's folders ------------------------------------------------------------------------------


def make_pairs(root: Path, n: int = 6) -> Path:
    rng = np.random.default_rng(1)
    for side in "AB":
        (root / side).mkdir(parents=True)
    for i in range(n):
        a, b = shape_pair(rng)
        a.save(root / "A" / f"p{i}.png")
        b.save(root / "B" / f"p{i}.jpg", quality=95)               # partners match by name, any format
    return root


def test_pairs_match_by_name_and_the_bad_ones_are_skipped_and_counted(tmp_path: Path, capsys) -> None:
    root = make_pairs(tmp_path / "pairs")
    Image.new("RGB", (40, 40), "red").save(root / "A" / "lonely.png")          # no partner in B
    Image.new("RGB", (40, 40), "blue").save(root / "B" / "orphan.png")         # no partner in A
    Image.new("RGB", (50, 40), "red").save(root / "A" / "wide.png")            # sizes differ in the pair
    Image.new("RGB", (40, 40), "red").save(root / "B" / "wide.png")
    Image.new("RGB", (40, 40), "red").save(root / "A" / "twice.png")           # two files for one name
    Image.new("RGB", (40, 40), "red").save(root / "A" / "twice.webp")
    Image.new("RGB", (40, 40), "red").save(root / "B" / "twice.png")
    (root / "B" / "p0.txt").write_text("notes")                               # not an image
    (root / "A" / "p1.png").write_bytes(b"")                                  # broken: its partner goes too
    ds = load_translation_folder(root, 32, "paired", progress=False)
    assert len(ds.arrays["a"]) == len(ds.arrays["b"]) == 5                     # p0, p2..p5
    assert ds.card["skipped"] == {"no partner in B/": 1, "no partner in A/": 1, "pair of different sizes": 1,
                                  "ambiguous name": 3, "not an image": 1, "zero-byte": 1}
    err = capsys.readouterr().err
    told = [line for line in err.splitlines() if not line.startswith("warning: ")]    # 5 pairs: a warning too
    assert "skipped 8 files" in err and "1 pair of different sizes" in err and len(told) == 1
    # pair i of A and of B show the same shape: the outline of A lies on B's drawn pixels
    a, b = ds.arrays["a"].astype(int), ds.arrays["b"].astype(int)
    ink = a.min(axis=3) < 100
    assert (b.min(axis=3)[ink] < 200).mean() > 0.9
    assert len(ds.arrays["a_test"]) == 0
    assert ds.skipped_list is not None and ds.skipped_list.parent.name == "32-crop-paired"   # this folder's cache,
    listed = ds.skipped_list.read_text().splitlines()                                 # not another test's
    assert len(listed) == 8 and "A/wide.png\tpair of different sizes: 50×40 in A, 40×40 in B" in listed


def test_the_same_folder_serves_unpaired_models(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "two")
    Image.new("RGB", (30, 30), "red").save(root / "B" / "extra.png")
    ds = load_translation_folder(root, 32, "unpaired", progress=False)
    assert (len(ds.arrays["a"]), len(ds.arrays["b"])) == (6, 7)               # two collections, own lengths
    assert ds.streams == {"a": ["a"], "b": ["b"]} and ds.card["skipped"] == {}


def test_side_by_side_pairs_and_held_out_folders(tmp_path: Path) -> None:
    root = tmp_path / "facades"
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for i in range(3):
            ab = Image.new("RGB", (80, 40), "white")
            ab.paste(Image.new("RGB", (40, 40), "black"), (0, 0))               # A: black left half
            ab.paste(Image.new("RGB", (40, 40), (0, 0, 255)), (40, 0))          # B: blue right half
            ab.save(root / split / f"{i}.png")
    Image.new("RGB", (40, 40)).save(root / "train" / "square.png")             # not two side by side
    ds = load_translation_folder(root, 16, "paired", progress=False)
    assert [len(ds.arrays[k]) for k in ("a", "b", "a_test", "b_test")] == [3, 3, 3, 3]
    assert (ds.arrays["a"] == 0).all() and (ds.arrays["b"][..., 2] == 255).all()
    assert ds.card["skipped"] == {"not side by side": 1}
    with pytest.raises(GanvasError, match="not translation data: expected sub-folders A/ and B/"):
        load_translation_folder(root, 16, "unpaired")


def test_folder_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(GanvasError, match="does not exist"):
        load_translation_folder(tmp_path / "nope", 32, "paired")
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(GanvasError, match="'.*flat' is not translation data: expected sub-folders A/ and B/"):
        load_translation_folder(tmp_path / "flat", 32, "unpaired")
    root = tmp_path / "nopairs"
    for side, name in (("A", "x"), ("B", "y")):
        (root / side).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / side / f"{name}.png")
    with pytest.raises(GanvasError, match=r"holds no usable pairs \(skipped 1 no partner in B/, 1 no partner in A/\)"):
        load_translation_folder(root, 32, "paired")
    (root / "testA").mkdir()
    with pytest.raises(GanvasError, match="has testA/ but no testB/"):
        load_translation_folder(root, 32, "unpaired")


def test_folder_cache_is_reused_until_a_file_changes(tmp_path: Path, monkeypatch) -> None:
    root = make_pairs(tmp_path / "c")
    first = load_translation_folder(root, 16, "paired", progress=False)
    import ganvas.data.translation_folder as tf

    monkeypatch.setattr(tf, "open_image", lambda p: (_ for _ in ()).throw(AssertionError("cache not used")))
    assert load_translation_folder(root, 16, "paired", progress=False).fingerprint == first.fingerprint
    monkeypatch.undo()
    a, b = shape_pair(np.random.default_rng(9))
    a.save(root / "A" / "new.png")
    b.save(root / "B" / "new.png")
    assert len(load_translation_folder(root, 16, "paired", progress=False).arrays["a"]) == 7
