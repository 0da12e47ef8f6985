"""Labels on the data side: the built-in sets' labels (from the real packages), the chorales' modes,
a user folder's labels file, and merging rare classes."""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.data import DATASETS
from ganvas.data.dataset import ArrayDataset, builtin_root, fingerprint_arrays, is_built, load_dataset, load_stored
from ganvas.data.emoji import parse_emoji_test
from ganvas.data.folder import load_folder
from ganvas.data.labels import class_counts, merge_rare_classes, rare_classes
from ganvas.errors import GanvasError


def label_table(card: dict) -> dict[str, int]:
    return dict(zip(card["labels"]["names"], card["labels"]["counts"], strict=True))


def assert_consistent(ds: ArrayDataset) -> None:
    """The labelling contract the model side relies on."""
    y = ds.arrays["y"]
    names = ds.label_names
    assert y.dtype == np.int64 and y.shape == (len(ds),)
    assert names == ds.card["labels"]["names"] and len(set(names)) == len(names)
    assert np.bincount(y, minlength=len(names)).tolist() == ds.card["labels"]["counts"]
    assert sum(ds.card["labels"]["counts"]) == ds.card["count"] == len(ds)


# --- built-in labelled sets, from the real packages ---------------------------------------------------


def test_emoji_has_the_nine_unicode_groups_with_counts(emoji_built: Path) -> None:
    ds = load_dataset("emoji", 32, progress=False)
    assert_consistent(ds)
    expected = collections.Counter(group for _, _, group in parse_emoji_test())
    assert len(expected) == 9 and label_table(ds.card) == dict(expected)
    assert ds.label_names == sorted(expected) and "Component" not in ds.label_names   # skin tones are not emoji
    readme = (emoji_built / "README.md").read_text()
    assert f"| Flags | {expected['Flags']} |" in readme and f"| People & Body | {expected['People & Body']} |" in readme


@pytest.mark.parametrize(("name", "kinds"), [("crawl-tiles", ["floor", "item", "monster", "wall"]),
                                             ("crawl-terrain", ["floor", "wall"])])
def test_crawl_sets_are_labelled_by_kind(name: str, kinds: list[str]) -> None:
    ds = load_dataset(name, 32, progress=False)
    assert_consistent(ds)
    assert ds.label_names == kinds and min(ds.card["labels"]["counts"]) > 500
    readme = (builtin_root(name) / "README.md").read_text()
    for kind, count in label_table(ds.card).items():
        assert f"| {kind} | {count} |" in readme


def test_openclipart_is_labelled_by_top_folder(tmp_path: Path) -> None:
    builder = DATASETS.get("openclipart")()
    per_folder = collections.Counter(label for _, label, _ in builder.items())    # the whole set, listed only
    tops = {p.name for p in Path("/usr/share/openclipart/png").iterdir() if p.is_dir()} - {"special"}
    assert set(per_folder) == tops and len(tops) >= 15
    assert per_folder["animals"] > 200 and per_folder["food"] > 200 and min(per_folder.values()) >= 1
    root = builder.build(tmp_path / "oc", progress=False, limit=60)               # a quick, evenly spaced build
    ds = load_stored(root, "openclipart", 32)
    assert_consistent(ds)
    assert set(ds.label_names) <= tops and ds.label_names == sorted(ds.label_names) and len(ds.label_names) >= 8
    assert "| animals |" in (root / "README.md").read_text()


# --- chorales: the mode of each chorale -------------------------------------------------------------------


def test_chorales_are_labelled_major_or_minor(chorales_built: Path) -> None:
    ds = load_dataset("chorales", 0)
    assert_consistent(ds)
    labels = ds.card["labels"]
    assert labels["names"] == ["major", "minor"] and min(labels["counts"]) > 0          # both modes present
    assert sum(labels["pieces"]) == ds.card["pieces"]["used"] and min(labels["pieces"]) > 0
    assert ds.card["format"] == 2
    assert ds.fingerprint == fingerprint_arrays({"x": ds.arrays["x"], "y": ds.arrays["y"]})   # labels are data
    # each phrase's label is the mode its chorale was transposed by (recorded in keys.txt)
    keys = (chorales_built / "keys.txt").read_text().splitlines()
    modes = [line.split("\t")[2].split(",")[0].split()[1] for line in keys]
    assert [labels["names"][i] for i in ds.arrays["y"]] == modes
    readme = (chorales_built / "README.md").read_text()
    assert "| label | phrases | pieces |" in readme and f"| major | {labels['counts'][0]} |" in readme


def test_a_music_set_built_in_the_old_format_is_rebuilt(tmp_path: Path) -> None:
    root = builtin_root("chorales", tmp_path)
    root.mkdir(parents=True)
    (root / "card.json").write_text(json.dumps({"domain": "music"}))                  # format 1: no labels
    assert not is_built("chorales", tmp_path)
    (root / "card.json").write_text(json.dumps({"domain": "music", "format": 2}))
    assert is_built("chorales", tmp_path) and not is_built("chorales-original", tmp_path)
    emoji = builtin_root("emoji", tmp_path)                                           # image sets: format 1
    emoji.mkdir(parents=True)
    (emoji / "card.json").write_text(json.dumps({"domain": "image"}))
    assert is_built("emoji", tmp_path)


def test_a_chorale_gets_its_mode_in_either_builder() -> None:
    from ganvas.data.chorales import corpus_paths, read_chorale

    path = next(p for p in corpus_paths() if p.name == "bwv265.mxl")                  # D minor
    assert read_chorale(path, True).label == read_chorale(path, False).label == "minor"
    path = next(p for p in corpus_paths() if p.name == "bwv3.6.mxl")                  # E major
    assert read_chorale(path, False).label == "major"


# --- a user folder's labels file ----------------------------------------------------------------------------


def pictures(root: Path, names: list[str]) -> Path:
    rng = np.random.default_rng(len(names))
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).save(root / name)
    return root


FILES = ["a.png", "b.png", "c.png", "sub/d.png"]


def test_labels_csv_labels_the_images_and_beats_subfolders(tmp_path: Path) -> None:
    folder = pictures(tmp_path / "f", FILES)
    (folder / "labels.csv").write_text("file,label\na.png,cat\n b.png , dog\n\nc.png,cat\nsub/d.png,dog\n")
    ds = load_folder(folder, 8, progress=False)
    assert_consistent(ds)
    assert ds.label_names == ["cat", "dog"] and ds.arrays["y"].tolist() == [0, 1, 0, 1]
    assert ds.card["labels"]["source"] == "labels.csv" and ds.card["skipped"] == {}    # not counted as a bad image
    # the same folder with sub-folders only: the sub-folder labels
    sub = pictures(tmp_path / "g", ["x/1.png", "y/2.png"])
    assert load_folder(sub, 8, progress=False).card["labels"]["source"] == "sub-folders"


def test_labels_json_without_a_header_or_sub_folders(tmp_path: Path) -> None:
    folder = pictures(tmp_path / "f", FILES)
    (folder / "labels.json").write_text(json.dumps({"a.png": "x", "b.png": "y", "c.png": "z", "sub/d.png": "x"}))
    ds = load_folder(folder, 8, progress=False)
    assert_consistent(ds)
    assert ds.label_names == ["x", "y", "z"] and ds.arrays["y"].tolist() == [0, 1, 2, 0]
    (folder / "labels.json").unlink()
    (folder / "labels.csv").write_text("a.png,x\nb.png,y\nc.png,z\nsub/d.png,x\n")       # CSV without a header
    assert load_folder(folder, 8, progress=False).arrays["y"].tolist() == [0, 1, 2, 0]


def test_an_edited_labels_file_rebuilds_the_cache_even_with_the_same_size_and_time(tmp_path: Path) -> None:
    folder = pictures(tmp_path / "f", FILES)
    csv = folder / "labels.csv"
    csv.write_text("a.png,p\nb.png,q\nc.png,p\nsub/d.png,q\n")
    stamp = os.stat(csv).st_mtime_ns
    first = load_folder(folder, 8, progress=False)
    csv.write_text("a.png,q\nb.png,p\nc.png,p\nsub/d.png,q\n")                          # same size
    os.utime(csv, ns=(stamp, stamp))                                                    # same time
    second = load_folder(folder, 8, progress=False)
    assert first.arrays["y"].tolist() == [0, 1, 0, 1] and second.arrays["y"].tolist() == [1, 0, 0, 1]
    assert first.fingerprint != second.fingerprint


BAD_CSV = [
    ("a.png,cat\nb.png,dog,extra\n", r"labels\.csv' line 2: expected two columns \(file,label\), got 3"),
    ("a.png,cat\nb.png\n", r"line 2: expected two columns \(file,label\), got 1"),
    ("a.png,cat\nb.png,\n", r"line 2: empty label for 'b.png'; expected a label name"),
    ("a.png,cat\n,dog\n", r"line 2: empty file name"),
    ("a.png,cat\nb.png,dog\na.png,dog\n", r"line 3: 'a.png' is labelled again \(first on line 1\)"),
    ("a.png,cat\n../b.png,dog\n", r"line 2: '\.\./b\.png' is not inside the folder"),
    ("a.png,cat\nb.png,dog\nc.png,cat\nsub/d.png,dog\nghost.png,cat\n",
     r"names 'ghost\.png', which is not an image file in the folder"),
    ("a.png,cat\nc.png,cat\n", r"gives no label to 2 of 4 images: b\.png, sub/d\.png; label every image"),
]


BAD_JSON = [
    ('{"a.png": "cat",', r"labels\.json' is not valid JSON \(line 1, column \d+: .*\); expected an object"),
    ('["a.png", "cat"]', r"expected an object .*, got a list"),
    ('{"a.png": 3}', r"key 'a\.png': expected a label \(a string\), got 3"),
    ('{"a.png": " "}', r"key 'a\.png': empty label for 'a\.png'"),
    ('{"a.png": "x", "a.png": "y"}', r"key 'a\.png': given twice"),
    ('{"a.png": "x", "b.png": "x", "c.png": "x", "sub/d.png": "x", "sub/e.png": "y"}',
     r"names 'sub/e\.png', which is not an image file"),
]


@pytest.mark.parametrize(("file", "text", "message"), [("labels.csv", *bad) for bad in BAD_CSV] +
                         [("labels.json", *bad) for bad in BAD_JSON])
def test_a_bad_labels_file_is_a_one_line_error_naming_the_file_and_line_or_key(tmp_path: Path, file: str, text: str,
                                                                              message: str) -> None:
    folder = pictures(tmp_path / "f", FILES)
    (folder / file).write_text(text)
    with pytest.raises(GanvasError, match=message) as exc:
        load_folder(folder, 8, progress=False)
    assert "\n" not in str(exc.value) and str(folder / file) in str(exc.value)


def test_labels_file_odd_cases_are_one_line_errors(tmp_path: Path) -> None:
    folder = pictures(tmp_path / "f", [f"{i:02d}.png" for i in range(9)])
    (folder / "labels.csv").write_text("00.png,a\n")
    with pytest.raises(GanvasError, match=r"gives no label to 8 of 9 images: 01\.png, 02\.png, 03\.png, 04\.png, "
                                          r"05\.png, … \(3 more\)"):
        load_folder(folder, 8, progress=False)
    (folder / "labels.json").write_text("{}")
    with pytest.raises(GanvasError, match="holds both labels.csv and labels.json; keep one"):
        load_folder(folder, 8, progress=False)
    (folder / "labels.json").unlink()
    (folder / "labels.csv").write_bytes(b"00.png,caf\xe9\n")
    with pytest.raises(GanvasError, match=r"labels\.csv' is not UTF-8 text"):
        load_folder(folder, 8, progress=False)


# --- rare classes -------------------------------------------------------------------------------------------


def toy(counts: dict[str, int]) -> ArrayDataset:
    names = list(counts)
    y = np.concatenate([np.full(c, i, dtype=np.int64) for i, c in enumerate(counts.values())])
    x = np.arange(len(y), dtype=np.uint8).reshape(-1, 1, 1, 1).repeat(2, axis=1)
    card = {"count": len(y), "labels": {"names": names, "counts": list(counts.values())}, "fingerprint": "src"}
    return ArrayDataset("toy", "image", {"x": x, "y": y}, card, "fp")


def test_rare_classes_warning_names_them_smallest_first() -> None:
    ds = toy({"faces": 50, "flags": 12, "food": 19, "tools": 3, "zoo": 20})
    report = rare_classes(ds, 20)
    assert report.rare == [("tools", 3), ("flags", 12), ("food", 19)] and report.classes == 5
    assert report.warning() == ("3 classes have fewer than 20 examples: tools (3), flags (12), food (19); "
                                "merge them with --set min_class_count=20")
    assert rare_classes(ds, 3).warning() is None and not rare_classes(ds, 3)
    assert rare_classes(ds, 4).warning().startswith("1 class has fewer than 4 examples: tools (3);")
    many = toy({f"c{i}": i + 1 for i in range(8)} | {"big": 100})
    assert "… (3 more)" in rare_classes(many, 50).warning()


def test_rare_classes_are_merged_into_other() -> None:
    ds = toy({"faces": 50, "flags": 12, "food": 19, "tools": 3, "zoo": 20})
    merged, report = merge_rare_classes(ds, 20)
    assert_consistent(merged)
    assert merged.label_names == ["faces", "zoo", "other"] and merged.card["labels"]["counts"] == [50, 20, 34]
    assert report.merged == ["flags", "food", "tools"] and report.dropped == []
    assert report.mapping == {"faces": "faces", "flags": "other", "food": "other", "tools": "other", "zoo": "zoo"}
    assert "merged 3 classes with fewer than 20 examples into 'other' (34 examples)" in report.summary()
    assert np.array_equal(merged.arrays["x"], ds.arrays["x"])                       # every example kept, in order
    old = np.asarray(ds.label_names)[ds.arrays["y"]]
    new = np.asarray(merged.label_names)[merged.arrays["y"]]
    assert ((new == old) | ((new == "other") & np.isin(old, ["flags", "food", "tools"]))).all()
    assert ds.label_names == ["faces", "flags", "food", "tools", "zoo"] and ds.card["labels"]["counts"][1] == 12
    assert merged.fingerprint != ds.fingerprint and merged.card["fingerprint"] == "src"   # the split's seed kept
    assert merged.card["labels"]["merged"] == ["flags", "food", "tools"] and merged.card["labels"]["min_count"] == 20


def test_rare_classes_too_few_even_together_are_dropped() -> None:
    ds = toy({"a": 30, "b": 4, "c": 25, "d": 5})
    merged, report = merge_rare_classes(ds, 10)                                      # 4 + 5 < 10: no 'other'
    assert_consistent(merged)
    assert merged.label_names == ["a", "c"] and merged.card["labels"]["counts"] == [30, 25]
    assert report.dropped == ["b", "d"] and report.dropped_examples == 9 and report.merged == []
    assert len(merged.arrays["x"]) == 55 and "dropped 2 classes" in report.summary()
    kept = np.isin(ds.arrays["y"], [0, 2])
    assert np.array_equal(merged.arrays["x"], ds.arrays["x"][kept])


def test_an_existing_other_class_absorbs_the_rare_ones_and_nothing_rare_is_a_no_op() -> None:
    ds = toy({"a": 30, "other": 20, "z": 2, "y": 9})
    merged, report = merge_rare_classes(ds, 10)
    assert merged.label_names == ["a", "other"] and merged.card["labels"]["counts"] == [30, 31]
    same, report = merge_rare_classes(ds, 2)
    assert same is ds and not report.changed and "none merged" in report.summary()


def test_merging_errors_are_one_line() -> None:
    with pytest.raises(GanvasError, match=r"min_class_count=40 leaves 1 class .*a conditional model needs at least 2"):
        merge_rare_classes(toy({"a": 50, "b": 3, "c": 4}), 40)
    with pytest.raises(GanvasError, match="min_count must be a whole number >= 1, got 0"):
        merge_rare_classes(toy({"a": 5, "b": 5}), 0)
    unlabelled = ArrayDataset("plain", "image", {"x": np.zeros((3, 2, 2, 3), np.uint8)})
    with pytest.raises(GanvasError, match="dataset 'plain' has no labels"):
        rare_classes(unlabelled, 5)


def test_rare_emoji_groups_on_the_real_set(emoji_built: Path) -> None:
    ds = load_dataset("emoji", 32, progress=False)
    counts = dict(class_counts(ds))
    small = sorted(counts, key=counts.get)[:2]                                       # Activities, Food & Drink
    threshold = counts[small[1]] + 1
    assert rare_classes(ds, threshold).rare == [(n, counts[n]) for n in small]
    merged, report = merge_rare_classes(ds, threshold)
    assert_consistent(merged)
    assert len(merged.label_names) == 8 and merged.label_names[-1] == "other" and len(merged) == len(ds)
    assert merged.card["labels"]["counts"][-1] == counts[small[0]] + counts[small[1]]
