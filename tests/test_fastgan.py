"""The `fastgan` model: shapes at every resolution, skip-layer excitation, D's reconstruction, exact resume."""

from __future__ import annotations

import pytest
import torch

from ganvas.app.training import resolve_config, train
from ganvas.cli import main
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.nets.fastgan import SkipLayerExcitation
from ganvas.objectives.fastgan import FastGANObjective, quarter, reconstruction_loss
from ganvas.train import checkpoint as ckpt

TINY = {"z_dim": 16, "g_channel_base": 128, "d_channel_base": 128, "channel_max": 16, "channel_min": 4,
        "decoder_channels": 4, "recon_side": 16}
RUN = {"model": "fastgan", "data": "emoji", "resolution": 32, "batch_size": 8, "sample_every": 100,
       "checkpoint_every": 100, "log_every": 1, "sample_count": 4, "loss": "rpgan", "r1_gamma": 0.2,
       "r2_gamma": 0.2, "r1_every": 2, "augment": "diffaugment", "ema_kimg": 0.01,
       **{f"model_args.{k}": v for k, v in TINY.items()}}


def build(res: int = 32, **opts):
    return MODELS.get("fastgan").build(DataSpec("image", (3, res, res)), {**TINY, **opts})


@pytest.mark.parametrize("res", [32, 64, 128])
def test_shapes_at_each_resolution(res: int) -> None:
    model = build(res)
    z = model.sample_latent(3, torch.Generator().manual_seed(0))
    x = model.generate(z)
    assert x.shape == (3, 3, res, res) and x.abs().max() <= 1
    logits, feats = model.D(x, True)
    assert logits.shape == (3,) and torch.equal(logits, model.D(x))        # one logit per image, either way
    assert feats[8].shape[-2:] == (8, 8) and feats[16].shape[-2:] == (16, 16)
    assert model.D.decode_whole(feats[8]).shape == (3, 3, 16, 16)          # recon_side
    assert model.D.decode_part(quarter(feats[16], 3)).shape == (3, 3, 16, 16)


def test_other_resolutions_and_bad_options_are_one_line_errors(capsys) -> None:
    for side in (16, 48, 512):
        with pytest.raises(GanvasError, match=f"supports resolution 32 | 64 | 128 | 256, got {side}"):
            build(side)
    with pytest.raises(GanvasError, match="unknown value for fastgan option 'sle_jump'"):
        build(64, sle_jump=3)
    assert main(["train", "--model", "fastgan", "--set", "model_args.recon_side=24", "--dry-run"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: unknown value for fastgan option 'recon_side' '24'; known: 128, 16, 32, 64"]


def test_skip_layer_excitation_gates_each_channel_from_the_low_resolution_map() -> None:
    torch.manual_seed(0)
    sle = SkipLayerExcitation(low_channels=8, high_channels=6)
    low, high = torch.randn(2, 8, 4, 4), torch.randn(2, 6, 32, 32)
    out = sle(low, high)
    assert out.shape == high.shape
    ratio = out / high                                                      # one gate per (image, channel)
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()                                # a sigmoid
    assert not torch.allclose(sle(torch.randn(2, 8, 4, 4), high), out)      # the gates follow the low map


@pytest.mark.parametrize("res, jump, pairs", [(32, 8, {32: 4}), (64, 8, {32: 4, 64: 8}), (64, 16, {64: 4}),
                                              (32, 16, {}), (128, 4, {16: 4, 32: 8, 64: 16, 128: 32})])
def test_which_maps_gate_which(res: int, jump: int, pairs: dict[int, int]) -> None:
    G = build(res, sle_jump=jump).G             # training mode: BatchNorm on batch statistics
    assert G.sle_pairs == pairs
    feats = G.features(torch.randn(2, 16))
    assert [f.shape[-1] for f in feats.values()] == [2 ** k for k in range(2, res.bit_length())]
    for hi, lo in pairs.items():                                            # each gated map, recomputed by hand
        ungated = G.blocks[str(hi)](feats[hi // 2])
        assert torch.allclose(feats[hi], G.sle[str(hi)](feats[lo], ungated), atol=1e-6)
        assert not torch.allclose(feats[hi], ungated)


def test_reconstruction_loss_by_hand() -> None:
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert reconstruction_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    # a flat grey guess: L1 is the mean distance, and SSIM stays near 0 (no structure in common)
    flat = torch.zeros_like(x)
    assert reconstruction_loss(flat, x).item() == pytest.approx(x.abs().mean().item() + 1, abs=0.05)
    img = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(quarter(img, 1), torch.tensor([[[[2.0, 3.0], [6.0, 7.0]]]]))   # top right


def test_d_learns_to_reconstruct_a_fixed_batch() -> None:
    """A few Adam steps on D's reconstruction loss alone: it falls well below where it started."""
    torch.manual_seed(0)
    model = build(32)
    obj = model.objective(TrainConfig(model="fastgan").validate(), torch.Generator().manual_seed(0))
    assert isinstance(obj, FastGANObjective)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    centres = torch.rand(8, 2) - 0.5                                      # soft discs on white
    discs = ((xx - centres[:, :1, None]) ** 2 + (yy - centres[:, 1:, None]) ** 2 < 0.25).float()
    real = (1 - 2 * discs[:, None] * torch.rand(8, 3, 1, 1)).contiguous()
    opt = torch.optim.Adam(model.D.parameters(), lr=3e-3)
    losses = []
    for step in range(30):
        _, feats = model.D(real, True)
        loss = obj.reconstruct(feats, real, q=step % 4)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4, losses          # measured: about 0.5


def test_d_loss_adds_the_weighted_reconstruction() -> None:
    cfg = TrainConfig(model="fastgan", loss="rpgan", augment="none", r1_gamma=0.0, r2_gamma=0.0).validate()
    real = {"x": torch.rand(4, 3, 32, 32) * 2 - 1}
    results = []
    for weight in (0.0, 2.0):
        torch.manual_seed(0)
        model = build(32, recon_weight=weight)
        loss, stats = model.objective(cfg, torch.Generator().manual_seed(0)).d_loss(real)
        results.append((loss.item(), stats))
    (plain, s0), (weighted, s2) = results
    assert "D/recon" not in s0 and s2["D/recon"].item() > 0
    assert s0["loss/D"].item() == pytest.approx(s2["loss/D"].item(), rel=1e-6)      # the same game
    assert weighted == pytest.approx(plain + 2.0 * s2["D/recon"].item(), rel=1e-5)


def test_the_model_brings_the_small_data_recipe_and_the_preset_sets_it() -> None:
    cfg = resolve_config(None, {"model": "fastgan"})
    assert (cfg.loss, cfg.augment, cfg.resolution) == ("rpgan", "diffaugment", 64)
    assert cfg.r1_gamma > 0 and cfg.r2_gamma > 0
    assert resolve_config(None, {"model": "fastgan", "loss": "hinge"}).loss == "hinge"     # options override
    preset = resolve_config("emoji-fastgan-64", {})
    assert (preset.model, preset.resolution, preset.loss, preset.augment) == ("fastgan", 64, "rpgan", "none")
    assert preset.r1_gamma > 0 and preset.r2_gamma > 0 and preset.minutes == 10


def test_interrupted_fastgan_run_resumes_bit_for_bit(tmp_path, emoji_built) -> None:
    """rpgan with lazy R1 + R2, DiffAugment, D's random quarters, BatchNorm, EMA: all continue exactly."""
    whole = train(None, RUN, tmp_path / "whole", progress=False, max_steps=5)
    part = train(None, RUN, tmp_path / "part", progress=False, max_steps=3)
    rest = train(None, {}, part.run_dir, resume=True, progress=False, max_steps=5)
    a, b = ckpt.load(whole.run_dir), ckpt.load(rest.run_dir)
    assert a.meta["objective"] == b.meta["objective"] == {"d_steps": 5, "augment": {}}
    different = [f"{n}/{k}" for n in a.nets for k in a.nets[n] if not torch.equal(a.nets[n][k], b.nets[n][k])]
    assert not different, different[:5]
    assert all(torch.equal(a.optim[k], b.optim[k]) for k in a.optim)
    assert (whole.run_dir / "final.png").read_bytes() == (rest.run_dir / "final.png").read_bytes()
    g, g_ema = a.nets["G"], a.nets["G_ema"]                               # the average trails the live weights
    assert g.keys() == g_ema.keys() and not torch.equal(g["to_rgb.0.weight"], g_ema["to_rgb.0.weight"])
    rows = (whole.run_dir / "metrics.jsonl").read_text().splitlines()
    assert all('"D/recon"' in r for r in rows) and sum('"D/r2"' in r for r in rows) == 3    # steps 1, 3, 5
