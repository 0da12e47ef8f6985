"""Opting out with --exclude FILE: by content hash or by name, in image, text and translation sets, at build
time and per run; what is removed is counted and recorded, what matches nothing is said, bad files are one line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.cli import main
from ganvas.data import DATASETS
from ganvas.data.dataset import load_dataset
from ganvas.data.exclude import apply, read_exclude_file, row_digest
from ganvas.data.phash import phash, to_hex
from ganvas.data.split import holdout_indices, training_part
from ganvas.errors import GanvasError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """12 distinct random pictures, two of them in a sub-folder."""
    root = tmp_path / "pics"
    (root / "sub").mkdir(parents=True)
    rng = np.random.default_rng(3)
    for i in range(12):
        where = root / "sub" if i >= 10 else root
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(where / f"p{i:02d}.png")
    return root


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return path


def test_exclude_by_hash_and_by_name(folder: Path, tmp_path: Path, capsys) -> None:
    full = load_dataset(str(folder), 32, progress=False)
    rows = {k: i for i, k in enumerate(full.index["x"].keys)}
    stored = full.arrays["x"][rows["p05.png"]]
    source_hash = hashlib.sha256((folder / "p02.png").read_bytes()).hexdigest()
    capsys.readouterr()
    ex = write(tmp_path / "ex.txt", "# people who asked", "", "p00.png", "sub/p11.png",
               f"sha256:{source_hash}", f"SHA256:{row_digest(stored).upper()}", "nobody.png", f"sha256:{'0' * 64}")
    ds = load_dataset(str(folder), 32, progress=False, exclude=ex)
    err = capsys.readouterr().err
    assert len(ds) == 8 and "excluded 4 item(s)" in err
    assert "2 entries of exclude file" in err and "line 7 'nobody.png'" in err and "line 8 'sha256:000" in err
    assert ds.fingerprint != full.fingerprint and ds.card["count"] == 8
    removed = {"p00.png", "sub/p11.png", "p02.png", "p05.png"}
    records = ds.summary()["excluded"]
    assert {r["key"] for r in records} == removed
    for r in records:
        row = full.arrays["x"][rows[r["key"]]]
        assert r["sha256"] == "sha256:" + row_digest(row)
        assert r["phash"] == to_hex(phash(row[None])[0]) and len(r["phash"]) == 16
    left = {row_digest(x) for x in ds.arrays["x"]}
    assert not left & {r["sha256"][7:] for r in records}
    assert ds.index["x"].keys == [k for k in full.index["x"].keys if k not in removed]


def test_excluded_items_leave_the_training_set_and_the_held_out_split(folder: Path, tmp_path: Path) -> None:
    full = load_dataset(str(folder), 32, progress=False)
    _, held = holdout_indices(full, 0.25)
    gone = [full.index["x"].keys[i] for i in held[:2]]          # two held-out items asked out
    ds = apply(full, read_exclude_file(write(tmp_path / "ex.txt", *gone)), report=False)
    train, held_after = holdout_indices(ds, 0.25)
    digests = {row_digest(full.arrays["x"][i]) for i in held[:2]}
    for part in (train, held_after):
        assert not digests & {row_digest(ds.arrays["x"][i]) for i in part}
    assert len(training_part(ds, 0.25)) + len(held_after) == len(full) - 2


def test_labels_follow_their_images(tmp_path: Path) -> None:
    root = tmp_path / "labelled"
    for label, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (root / label).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (20, 20), tuple(c // (i + 1) for c in colour)).save(root / label / f"{label}{i}.png")
    full = load_dataset(str(root), 16, progress=False)
    ds = apply(full, read_exclude_file(write(tmp_path / "ex.txt", "red0.png", "red1.png")), report=False)
    assert len(ds) == 6 and len(ds.arrays["y"]) == 6
    assert np.bincount(ds.arrays["y"]).tolist() == [4, 2]       # blue 4, red 2 (names sorted)


def test_text_items_by_file_name_have_no_phash(tmp_path: Path) -> None:
    root = tmp_path / "texts"
    root.mkdir()
    (root / "keep.txt").write_text("a first line here\nanother kept line\n", encoding="utf-8")
    (root / "drop.txt").write_text("please leave me out\nand me too\n", encoding="utf-8")
    full = load_dataset(str(root), 0, domain="text", progress=False)
    ds = apply(full, read_exclude_file(write(tmp_path / "ex.txt", "drop.txt")), report=False)
    assert len(ds) == len(full) - 2 and len(ds.card["excluded"]) == 2
    assert all(r["key"].startswith("drop.txt") and "phash" not in r for r in ds.card["excluded"])


def test_a_pair_leaves_whole(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("GANVAS_HOME", str(tmp_path))
    DATASETS.get("cjk-fonts")().build(tmp_path / "datasets" / "cjk-fonts", progress=False, limit=30)
    full = load_dataset("cjk-fonts:sans:kai", 32, progress=False)
    char, held = full.index["a"].keys[1], full.index["a_test"].keys[0]
    b_row = full.arrays["b"][2]
    ex = write(tmp_path / "ex.txt", char, held, f"sha256:{row_digest(b_row)}")
    ds = apply(full, read_exclude_file(ex), report=False)
    assert len(ds.arrays["a"]) == len(ds.arrays["b"]) == len(full.arrays["a"]) - 2
    assert len(ds.arrays["a_test"]) == len(ds.arrays["b_test"]) == len(full.arrays["a_test"]) - 1
    assert ds.index["a"].keys == ds.index["b"].keys and char not in ds.index["b"].keys
    assert len(ds.card["excluded"]) == 6                       # three pairs, both sides recorded
    # at 32 px the rows are resized: a hash of the stored 128 px row still names the item
    stored = np.load(tmp_path / "datasets" / "cjk-fonts" / "kai.npy")[5]
    ds2 = apply(full, read_exclude_file(write(tmp_path / "ex2.txt", f"sha256:{row_digest(stored)}")), report=False)
    assert len(ds2.arrays["b"]) == len(full.arrays["b"]) - 1


def test_data_build_exclude_is_kept_with_the_set(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GANVAS_HOME", str(tmp_path))
    assert main(["data", "build", "openclipart", "--limit", "12"]) == 0
    root = tmp_path / "datasets" / "openclipart"
    keys = (root / "keys.txt").read_text(encoding="utf-8").split()
    source = Path("/usr/share/openclipart/png") / keys[4]
    ex = write(tmp_path / "ex.txt", keys[0], Path(keys[1]).name,
               "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest(), "not/there.png")
    capsys.readouterr()
    assert main(["data", "build", "openclipart", "--exclude", str(ex)]) == 0
    out, err = capsys.readouterr()
    assert "built openclipart: 9 images" in out and "3 excluded" in out
    assert "excluded 3 item(s)" in err and "line 4 'not/there.png'" in err
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    assert [r["key"] for r in card["excluded"]] == [keys[0], keys[1], keys[4]]
    assert all(len(r["phash"]) == 16 for r in card["excluded"])
    ds = load_dataset("openclipart", 32, progress=False)          # every later use leaves them out
    assert len(ds) == 9 and [r["key"] for r in ds.summary()["excluded"]] == [keys[0], keys[1], keys[4]]
    assert main(["data", "build", "openclipart", "--force", "--limit", "12"]) == 0   # a rebuild starts afresh
    assert len(load_dataset("openclipart", 32, progress=False)) == 12


@pytest.mark.parametrize(("content", "needle"), [
    (None, "does not exist"),
    ("dir", "is not a file"),
    (b"p01.png\nsha256:1234\n", "line 2: 'sha256:1234' is not a content hash"),
    (b"ok.png\n\xff\xfe bad\n", "line 2: not UTF-8"),
    (b"sha256:" + b"g" * 64 + b"\n", "line 1"),
])
def test_bad_exclude_files_are_one_line_errors(content, needle: str, tmp_path: Path, folder: Path, capsys) -> None:
    path = tmp_path / "ex.txt"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(GanvasError) as exc:
        read_exclude_file(path)
    message = str(exc.value)
    assert needle in message and str(path) in message and "\n" not in message
    assert main(["train", "--data", str(folder), "--resolution", "32", "--dry-run", "--out", str(tmp_path / "r"),
                 "--exclude", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {message}"
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_exclude_is_a_config_field(folder: Path) -> None:
    from ganvas.config import TrainConfig

    cfg = TrainConfig().with_overrides({"exclude": "some/file.txt"})
    assert cfg.to_dict()["exclude"] == "some/file.txt" and TrainConfig().exclude == ""
    assert dataclasses.replace(cfg, exclude="").exclude == ""


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_builtin_set_indexes_its_rows(name: str, tmp_path: Path) -> None:
    """Keys and (lazily) source files of a built set's rows, whatever its builder's paths are made of."""
    from ganvas.data.dataset import builtin_index

    (tmp_path / "keys.txt").write_text("first\tbar 1\nsecond\n", encoding="utf-8")
    index = builtin_index(name, tmp_path, "keys.txt", 2, None)["x"]
    assert index.keys == ["first\tbar 1", "second"]
    assert index.sources is None or index.sources() == [None, None]
    assert builtin_index(name, tmp_path, "keys.txt", 3, None) == {}      # not one key per row: no index


def test_a_built_text_sets_titles_follow_its_texts(tang_poems_built: Path, tmp_path: Path) -> None:
    """The evaluation page names each text by meta.json's row: rows left out must not shift the titles."""
    from types import SimpleNamespace

    from ganvas.eval.text_evaluate import split_texts

    meta = json.loads((tang_poems_built / "meta.json").read_text(encoding="utf-8"))
    first = (tang_poems_built / "keys.txt").read_text(encoding="utf-8").split("\n")[0]
    W = SimpleNamespace(meta={"config": {"data": "tang-poems", "holdout": 0.0,
                                         "exclude": str(write(tmp_path / "ex.txt", first))}})
    split = split_texts(W)
    assert len(split["meta"]) == len(meta) - 1 and split["meta"][0] == meta[1]
