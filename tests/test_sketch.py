"""Sketch to image: line drawings of real pictures, the paired sets made from them, stroke augmentation,
edge agreement, and the held-out evaluation of a tiny sketch model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganvas.data.sketch import line_drawing


def _emoji(text: str) -> Image.Image:
    from ganvas.data.emoji import render_emoji
    from ganvas.data.imageprep import fit_square

    return fit_square(render_emoji(text), 128, "pad")


def test_canny_lines_lie_on_a_real_emojis_outline() -> None:
    from scipy.ndimage import binary_erosion, distance_transform_edt

    from ganvas.data.emoji import render_emoji

    rgba = render_emoji("\U0001F600")                                  # grinning face
    alpha = np.asarray(rgba.resize((128, 128)).getchannel("A")) > 128   # CANVAS is 136: same box, resized
    picture = np.asarray(_emoji("\U0001F600").convert("RGB"))
    drawing = line_drawing(picture, "canny", pen=1)
    ink = drawing == 0
    assert drawing.dtype == np.uint8 and set(np.unique(drawing)) <= {0, 255}
    outline = alpha & ~binary_erosion(alpha, iterations=1)
    near_line = distance_transform_edt(~ink) <= 3
    assert near_line[outline].mean() > 0.9                              # the face's outline is drawn
    far_outside = distance_transform_edt(~alpha) > 4
    assert not ink[far_outside].any()                                   # nothing on the empty paper around it
    inside = binary_erosion(alpha, iterations=6)
    assert ink[inside].sum() > 50                                       # eyes and mouth are drawn too
    assert 0.02 < ink.mean() < 0.25                                     # lines, not fills


def test_skeleton_of_a_glyph_is_a_thin_path_inside_its_ink() -> None:
    from ganvas.data.cjk_fonts import _draw, font_face

    glyph = np.asarray(_draw(font_face("kai"), "永", 128))
    ink = glyph < 128
    lines = line_drawing(glyph, "skeleton", pen=1) == 0
    assert lines.any() and ink[lines].all()
    assert lines.sum() < 0.45 * ink.sum()                              # thinned: a pen's centre line
    wide = line_drawing(glyph, "skeleton", pen=2) == 0
    assert lines.sum() < wide.sum() <= 4 * lines.sum()


def test_sketch_set_pairs_are_aligned_and_carry_the_source(sketch_built: Path) -> None:
    card = json.loads((sketch_built / "card.json").read_text())
    assert card["layout"] == "paired" and card["default_pair"] == ["sketch", "image"]
    assert "Noto Color Emoji" in card["licence"] and "fonts-noto-color-emoji" in card["source"]["packages"]
    assert card["domains"]["sketch"]["lines"] == {"method": "canny", "pen": 2, "at": 128}
    assert "Canny" in (sketch_built / "README.md").read_text()
    for split in ("", ".test"):
        a, b = np.load(sketch_built / f"sketch{split}.npy"), np.load(sketch_built / f"image{split}.npy")
        keys_a = (sketch_built / f"sketch{split}.keys.txt").read_text().split()
        assert keys_a == (sketch_built / f"image{split}.keys.txt").read_text().split()
        assert len(a) == len(b) == len(keys_a) and a.shape == b.shape and a.shape[1:] == (128, 128, 3)
        for i in range(len(a)):                                        # row i is the drawing of picture i
            assert np.array_equal(a[i][..., 0], line_drawing(b[i], "canny", pen=2))
    n = card["domains"]["sketch"]["count"] + card["domains"]["sketch"]["held_out"]
    assert n == 48 and card["domains"]["sketch"]["held_out"] >= 1


def _drawings(n: int = 12, side: int = 64) -> torch.Tensor:
    rng = np.random.default_rng(1)
    out = np.full((n, side, side), 255, np.uint8)
    for i in range(n):
        from PIL import ImageDraw

        im = Image.fromarray(out[i])
        x0, y0 = (int(v) for v in rng.integers(4, side // 3, 2))
        ImageDraw.Draw(im).ellipse((x0, y0, side - 8, side - 6), outline=0, width=1)
        ImageDraw.Draw(im).line((x0, side // 2, side - 4, side // 2), fill=0, width=1)
        out[i] = np.asarray(im)
    return torch.from_numpy(np.repeat(out[:, None], 3, 1)).float() / 127.5 - 1


def test_stroke_augmentation_is_seeded_changes_strokes_and_keeps_the_size() -> None:
    from ganvas.objectives.strokes import StrokeAugment

    x = _drawings()
    a1, a2, b = StrokeAugment(seed=5)(x), StrokeAugment(seed=5)(x), StrokeAugment(seed=6)(x)
    assert a1.shape == x.shape and a1.dtype == x.dtype
    assert torch.equal(a1, a2) and not torch.equal(a1, b)              # seeded
    assert float(a1.min()) >= -1 and float(a1.max()) <= 1
    assert torch.equal(a1[:, 0], a1[:, 2])                            # grey in every channel
    changed = [(a1[i] - x[i]).abs().amax() > 0.5 for i in range(len(x))]
    assert sum(changed) >= len(x) // 2                                 # most strokes moved, thickened or broken
    ink_before, ink_after = ((1 - x) / 2).sum((1, 2, 3)), ((1 - a1) / 2).sum((1, 2, 3))
    ratio = (ink_after / ink_before).median()
    assert 0.4 < float(ratio) < 2.5                                    # still a drawing: neither erased nor filled
    aug = StrokeAugment(seed=5)
    state = aug.state_dict()
    first = aug(x)
    aug.load_state_dict(state)                                         # a resumed run draws the same again
    assert torch.equal(aug(x), first)


def test_edge_agreement_is_perfect_for_the_same_lines_and_grows_with_a_shift() -> None:
    from ganvas.eval.sketch import agreement

    lines = np.zeros((1, 64, 64), bool)
    lines[0, 10:50, 20] = True
    lines[0, 30, 10:50] = True
    chamfer, f = agreement(lines, lines, 2.0)
    assert chamfer[0] == 0 and f[0] == 1
    shifted = np.roll(lines, 4, axis=2)
    chamfer, f = agreement(lines, shifted, 2.0)
    assert 1.0 < chamfer[0] <= 4.0 and f[0] < 0.7
    chamfer, f = agreement(lines, np.zeros_like(lines), 2.0)
    assert f[0] == 0 and chamfer[0] == pytest.approx(np.hypot(64, 64))


def test_held_out_evaluation_scores_edges_against_the_copy_baseline(sketch_runs: Path) -> None:
    import ganvas
    from ganvas.eval.translation import evaluate, held_out_data

    T = ganvas.load(sketch_runs / "emoji-sketch")
    dataset, same = held_out_data(T)
    assert same
    e = evaluate(T, dataset, sheet_count=4).metrics["directions"]["AtoB"]
    assert set(e["l1"]) == {"model", "input_unchanged"} and set(e["ssim"]) == {"model", "input_unchanged"}
    edges = e["edges"]
    assert edges["method"] == "canny" and edges["tolerance_px"] == 1.0
    for side in ("model", "target"):
        assert 0 <= edges[side]["f_score"] <= 1 and edges[side]["chamfer_px"] >= 0
    assert edges["target"]["f_score"] > 0.5                            # the true picture follows its own drawing
    assert "Edge agreement" in evaluate(T, dataset, sheet_count=4).html


def test_a_resumed_sketch_run_augments_as_an_uninterrupted_one(sketch_built: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from ganvas.app.training import train
    from ganvas.train import checkpoint as ckpt

    cfg = {"model": "pix2pix", "data": "emoji-sketch", "resolution": 32, "batch_size": 4, "model_args.ngf": 8,
           "model_args.ndf": 8, "model_args.input_augment": "strokes", "checkpoint_every": 2, "log_every": 1,
           "sample_every": 100, "sample_count": 4}
    whole = train(None, cfg, tmp_path / "whole", progress=False, max_steps=4)
    train(None, cfg, tmp_path / "part", progress=False, max_steps=2)
    rest = train(None, {}, tmp_path / "part", resume=True, progress=False, max_steps=4)
    meta = json.loads((ckpt.latest(rest.run_dir) / "checkpoint.json").read_text())
    assert "rng" in meta["objective"]["input_augment"]                 # the stream is checkpointed
    nets = [load_file(str(ckpt.latest(r.run_dir) / "nets.safetensors")) for r in (whole, rest)]
    assert nets[0].keys() == nets[1].keys() and all(torch.equal(nets[0][k], nets[1][k]) for k in nets[0])
