"""The memorization guard: copies of training items (exact, re-encoded, shifted, brightened) are flagged with
the right neighbour; held-out and unrelated pictures are not; opted-out items count as matches; the index
is cached by fingerprint; music bars and copied text lines are caught."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import ganvas
from ganvas.cli import main
from ganvas.data.phash import phash, to_hex
from ganvas.publish import guard as G


def shapes(rng: np.random.Generator, side: int = 32) -> Image.Image:
    im = Image.new("RGB", (side, side), tuple(int(c) for c in rng.integers(150, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(3):
        x0, y0 = rng.integers(0, side - 8, 2)
        x1, y1 = x0 + rng.integers(5, 20), y0 + rng.integers(5, 20)
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)((int(x0), int(y0), int(x1), int(y1)), fill=colour)
    return im


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny dcgan on a folder of 120 pictures of coloured shapes (seconds)."""
    root = tmp_path_factory.mktemp("guard")
    folder = root / "shapes"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(120):
        shapes(rng).save(folder / f"shape{i:03d}.png")
    out = root / "run"
    assert main(["train", "--model", "dcgan", "--data", str(folder), "--resolution", "32", "--kimg", "0.03",
                 "--batch-size", "16", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                 "--set", "sample_count=4", "--minutes", "0", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model(shapes_run: Path):
    return ganvas.load(shapes_run)


@pytest.fixture(scope="module")
def guard(model, tmp_path_factory: pytest.TempPathFactory) -> G.Guard:
    return G.guard_for(model, cache_dir=tmp_path_factory.mktemp("guard-cache"))


def as_outputs(model, arrays: np.ndarray) -> torch.Tensor:
    return model.domain.to_tensor(np.ascontiguousarray(arrays))


def jpeg(a: np.ndarray, q: int = 90) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_copies_of_training_items_are_flagged_with_their_neighbour(model, guard) -> None:
    items = guard.data["items"]
    pick = [int(i) for i in guard.data["train"][[3, 40, 77, 101]]]
    exact = guard.check(as_outputs(model, items[pick]))
    assert all(v.checked and v.flagged for v in exact)
    assert [v.neighbour for v in exact] == pick
    a, b, c, d = (items[i] for i in pick)
    altered = np.stack([jpeg(a), np.roll(b, 1, axis=1), np.clip(c.astype(int) + 5, 0, 255).astype(np.uint8),
                        jpeg(d, 75)])
    verdicts = guard.check(as_outputs(model, altered))
    assert sum(v.flagged for v in verdicts) >= 3, [v.describe() for v in verdicts]
    assert all(v.neighbour == p for v, p in zip(verdicts, pick, strict=True) if v.flagged)
    assert exact[0].describe().startswith(f"near-copy of training item {pick[0]}")
    record = exact[0].to_record()
    assert json.loads(json.dumps(record)) == record and record["method"] == "phash+features"


def test_new_pictures_and_held_out_items_are_not_flagged(model, guard) -> None:
    cal = guard.calibration()
    assert cal["heldout_flag_rate"] <= 0.1 and cal["n_heldout"] >= 10
    rng = np.random.default_rng(99)
    fresh = np.stack([np.asarray(shapes(rng)) for _ in range(20)])
    noise = rng.integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    verdicts = guard.check(as_outputs(model, np.concatenate([fresh, noise])))
    assert sum(v.flagged for v in verdicts) <= 2, [v.describe() for v in verdicts if v.flagged]
    picture = guard.neighbour_picture(as_outputs(model, fresh[:1]), verdicts[0])
    assert picture.size[0] > picture.size[1] >= 32                      # the output and its neighbour


def test_an_opted_out_item_is_a_match_though_it_left_the_data(model, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    gone = np.asarray(shapes(rng))
    meta = json.loads(json.dumps(model.meta))
    meta["dataset"]["excluded"] = [{"key": "mine.png", "sha256": "sha256:00", "phash": to_hex(phash(gone[None])[0])}]
    other = type("M", (), {"meta": meta, "domain": model.domain})()
    g = G.guard_for(other, cache_dir=tmp_path)
    (v,) = g.check(as_outputs(model, jpeg(gone)[None]))
    assert v.flagged and v.excluded and "mine.png" in v.describe()


def test_the_index_is_cached_by_fingerprint_and_reused(model, tmp_path: Path, monkeypatch) -> None:
    first = G.guard_for(model, cache_dir=tmp_path)
    first.calibration()
    (folder,) = list(tmp_path.iterdir())
    assert (folder / "calibration.json").exists() and folder.name in first.data["fingerprint"]

    def boom(*_a, **_k):
        raise AssertionError("rebuilt instead of read from the cache")

    monkeypatch.setattr(G, "_build_index", boom)
    again = G.guard_for(model, cache_dir=tmp_path)
    assert again.calibration() == first.calibration()


def test_missing_training_data_is_said_not_fatal(shapes_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(shapes_run, run)
    m = ganvas.load(run)
    m.meta["config"]["data"] = str(tmp_path / "gone")
    (v,) = G.guard_for(m, cache_dir=tmp_path / "c").check(m.sample(1, seed=0))
    assert not v.checked and not v.flagged and "not at hand" in v.describe()


def test_music_bars_copied_from_training_phrases_are_flagged(studio_runs: Path, tmp_path: Path) -> None:
    m = ganvas.load(studio_runs / "chorales-musegan")
    g = G.guard_for(m, cache_dir=tmp_path)
    items = g.data["items"]
    copied = g.check(m.domain.to_tensor(items[g.data["train"][:3]]))
    assert all(v.flagged and v.method == "bars" for v in copied)
    rng = np.random.default_rng(1)
    noise = (rng.random((3, *items.shape[1:])) < 0.05).astype(np.uint8)
    assert not any(v.flagged for v in g.check(m.domain.to_tensor(noise)))


def test_text_lines_copied_from_training_poems_are_flagged(text_run: Path, tmp_path: Path) -> None:
    W = ganvas.load(text_run)
    g = G.guard_for(W, cache_dir=tmp_path)
    poem = g.data["texts"][g.data["train"][0]]
    texts = [poem, "春风又绿江南岸，明月何时照我还。"]
    points = np.zeros((2, max(map(len, texts))), np.int32)
    for i, t in enumerate(texts):
        points[i, :len(t)] = [ord(c) for c in t]
    ids = W.domain.to_tensor(points)
    copied, fresh = g.check(ids)
    assert copied.flagged and copied.method == "lines"
    assert not fresh.flagged or "copied" in fresh.reason


def test_strict_mode_withholds_near_copies_and_flag_mode_records_them(model, guard, tmp_path: Path,
                                                                      monkeypatch) -> None:
    from ganvas.errors import GanvasError
    from ganvas.publish.publisher import Publisher, report

    items = guard.data["items"][guard.data["indexed"][:2]]
    outputs = torch.cat([as_outputs(model, items), model.sample(1, seed=0)])
    recipes = [{"seed": i} for i in range(3)]
    for mode in ("flag", "strict"):
        pub = Publisher(model, guard=mode)
        pub._guard = guard
        done = pub.save(outputs, tmp_path / mode, ["a", "b", "c"], None, recipes)
        assert [d.flagged for d in done][:2] == [True, True]
        assert [bool(d.paths) for d in done][:2] == ([True, True] if mode == "flag" else [False, False])
        assert "near-copies of training items" in report(done, tmp_path / mode)
    flagged = json.loads(Image.open(tmp_path / "flag" / "a.png").text["ganvas:manifest"])["claim"]["provenance"]
    assert flagged["guard"]["flagged"] and flagged["guard"]["neighbour"] == int(guard.data["indexed"][0])
    pub = Publisher(model, guard="strict")
    pub._guard = guard
    with pytest.raises(GanvasError, match="withheld"):
        pub.save_picture(tmp_path / "grid.png", model.domain.preview(outputs), {"grid": recipes}, outputs)
    with pytest.raises(GanvasError, match="ending in .png"):
        pub.save_picture(tmp_path / "grid.jpg", model.domain.preview(outputs), {"grid": recipes})
