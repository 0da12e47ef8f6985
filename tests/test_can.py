"""The creative adversarial network (config `can`): D's style head, G's style-ambiguity loss, its refusals."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_cli
from PIL import Image

import ganvas
from ganvas.app.training import train
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec

STYLES = ("dark", "bright", "red")
SPEC = DataSpec("image", (3, 32, 32), 3, {}, STYLES, STYLES)
SMALL = {"dcgan": {"ngf": 8, "ndf": 8}, "stylegan": {"z_dim": 32, "w_dim": 32, "channel_base": 256,
                                                     "channel_max": 32, "mapping_layers": 2},
         "fastgan": {"z_dim": 32, "g_channel_base": 128, "d_channel_base": 128, "channel_max": 32,
                     "decoder_channels": 8}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_each_image_family_gets_a_style_head_but_stays_unconditional(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS.get(name).build(SPEC, SMALL[name]).eval()
    assert model.num_classes == 0 and model.d_classes == 3 and "conditional" not in model.describe()
    assert DataSpec.from_dict(model.describe()["spec"]).style_classes == STYLES     # a checkpoint rebuilds it
    assert model.code_shape("z") == tuple(model.latent_shape)         # G's code has no class part
    with torch.no_grad():
        x = torch.randn(4, *SPEC.shape, generator=torch.Generator().manual_seed(1))
        logits = model.D(x)
        scores = model.class_scores()
    assert logits.shape == (4,) and scores.shape == (4, 3) and torch.isfinite(scores).all()
    plain = MODELS.get(name).build(DataSpec("image", (3, 32, 32), 3, {}, STYLES), SMALL[name])
    assert plain.class_scores() is None and plain.d_classes == 0      # no `can`: no head


def _run(out: Path, can: float, seed: int, kimg: float = 3.0) -> dict:
    train("emoji-dcgan-32", {"can": can, "kimg": kimg, "minutes": 0.0, "seed": seed, "batch_size": 32,
                             "sample_every": 10_000, "checkpoint_every": 10_000, "holdout": 0.0,
                             "model_args.ngf": 16, "model_args.ndf": 16}, out=out, progress=False)
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]


@pytest.fixture(scope="module")
def can_run(tmp_path_factory: pytest.TempPathFactory, emoji_built) -> Path:
    """A CAN run of 6 kimg on emoji (small nets): D's style head has learnt something of the groups."""
    out = tmp_path_factory.mktemp("can") / "run"
    last = _run(out, 1.0, 0, kimg=6.0)
    assert {"loss/D_style", "loss/G_ambiguity"} <= set(last)
    return out


def _ambiguity(model, z: torch.Tensor) -> float:
    """Style ambiguity of G's outputs for `z` by the model's own D: cross-entropy of its style posterior against
    the uniform distribution, minus log K (0: D cannot place them at all)."""
    with torch.no_grad():
        model.D(model.generate(z))
        scores = model.class_scores().double()
    return float(-torch.log_softmax(scores, 1).mean(1).mean() - math.log(scores.shape[1]))


def test_the_ambiguity_loss_moves_g_towards_outputs_d_cannot_place(can_run: Path) -> None:
    """The same G steps from the same weights against the same D, with and without the term: only with it
    do G's outputs leave D's style head less sure. (In a short run the head is still unsure of every fake, so
    the term is weighted up here to see its direction within a few steps; docs/creativity.md has full runs.)"""
    from ganvas.config import TrainConfig
    from ganvas.objectives.adversarial import AdversarialObjective

    base = ganvas.load(can_run).model
    z = torch.randn(256, *base.latent_shape, generator=torch.Generator().manual_seed(5))
    batch = {"x": torch.zeros(64, *base.spec.shape), "y": torch.zeros(64, dtype=torch.long)}
    after = {}
    for can in (0.0, 1000.0):
        torch.manual_seed(0)
        model = copy.deepcopy(base).train()
        model.G.requires_grad_(True)
        objective = AdversarialObjective(model, TrainConfig(can=can), torch.Generator().manual_seed(1))
        opt = torch.optim.Adam(model.G.parameters(), 1e-3, betas=(0.5, 0.999))
        before = _ambiguity(model, z)
        for _ in range(20):
            loss, stats = objective.g_loss(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert ("loss/G_ambiguity" in stats) == bool(can)
        after[can] = _ambiguity(model, z)
    assert after[1000.0] < min(before, after[0.0]) - 0.02, (before, after)


def test_the_style_head_learns_the_real_styles(can_run: Path) -> None:
    """D's style head on real emoji beats always guessing the largest group after a short run."""
    G = ganvas.load(can_run)
    from ganvas.data.dataset import load_dataset

    data = load_dataset("emoji", 32, progress=False)
    idx = np.random.default_rng(0).choice(len(data.arrays["y"]), 512, replace=False)
    with torch.no_grad():
        G.model.D(G.domain.to_tensor(data.arrays["x"][idx]))
        guess = G.model.class_scores().argmax(1).numpy()
    accuracy = float((guess == data.arrays["y"][idx]).mean())
    majority = float(np.bincount(data.arrays["y"]).max() / len(data.arrays["y"]))
    assert accuracy > majority + 0.03, (accuracy, majority)


def test_resume_keeps_the_style_head(tmp_path: Path, emoji_built) -> None:
    out = tmp_path / "run"
    _run(out, 1.0, 0, kimg=1.0)
    train(None, {"kimg": 2.0}, out=out, resume=True, progress=False)
    G = ganvas.load(out)
    assert G.model.spec.style_classes and G.model.class_scores() is None     # built; nothing judged yet
    assert G.meta["progress"]["kimg"] >= 2.0


def test_presets_dry_run(tmp_path: Path, emoji_built) -> None:
    proc = run_cli("train", "--preset", "emoji-dcgan-32-can", "--dry-run", "--out", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    assert len(ganvas.load(tmp_path / "run").model.spec.style_classes) == 9


def test_refusals(tmp_path: Path, emoji_built) -> None:
    proc = run_cli("train", "--preset", "emoji-dcgan-32-can", "--conditional", "--dry-run",
                   "--out", str(tmp_path / "a"))
    assert_one_line_error(proc, "'can'", "'conditional'")
    folder = tmp_path / "plain"
    folder.mkdir()
    for i in range(8):
        Image.new("RGB", (32, 32), (i * 30, 0, 0)).save(folder / f"{i}.png")
    proc = run_cli("train", "--data", str(folder), "--set", "can=1", "--resolution", "32", "--dry-run",
                   "--out", str(tmp_path / "b"))
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]     # (after a few-images warning)
    assert proc.returncode != 0 and len(errors) == 1 and "'can'" in errors[0] and "labelled data" in errors[0]
    proc = run_cli("train", "--preset", "chorales-musegan-hybrid", "--set", "can=1", "--dry-run",
                   "--out", str(tmp_path / "c"))
    assert_one_line_error(proc, "'can'")
