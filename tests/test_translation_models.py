"""pix2pix and CycleGAN: network designs, their losses on hand-computed cases, the history pool,
training on the shared engine, and exact resume (history pools included)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganvas.app.training import resolve_config, train
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.nets.translation import PatchDiscriminator, patch_layers, receptive_field
from ganvas.objectives.cyclegan import CycleGANObjective, cycle_loss, identity_loss
from ganvas.objectives.pix2pix import Pix2PixObjective
from ganvas.objectives.pool import ImagePool
from ganvas.train import checkpoint as ckpt


class Shift(nn.Module):
    """x ↦ x + c: a generator whose every output is known."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c


class Zeros(nn.Module):
    """A discriminator that answers 0 for every patch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] * 0


@pytest.mark.parametrize("res", [32, 64, 128])
def test_pix2pix_unet_and_patchgan_shapes(res: int) -> None:
    model = MODELS.get("pix2pix").build(DataSpec("image", (1, res, res)), {"ngf": 8, "ndf": 8})
    x = torch.rand(2, 1, res, res) * 2 - 1
    y = model.G(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert len(model.G.down) == len(model.G.up) == int(math.log2(res))          # down to 1×1 and back
    assert model.D(torch.cat([x, y], 1)).shape[:2] == (2, 1)                     # a map of patch logits
    assert model.D.net[0].in_channels == 2                                       # conditional: input + output
    dropouts = [m for m in model.G.modules() if isinstance(m, nn.Dropout)]
    assert len(dropouts) == {32: 0, 64: 1, 128: 2}[res]                          # 3 at 256, as in the paper


def test_the_unet_skips_carry_the_input_through() -> None:
    """With the bottleneck cut, the output still depends on the input: only the skips can carry it."""
    model = MODELS.get("pix2pix").build(DataSpec("image", (1, 32, 32)), {"ngf": 8, "dropout": False}).eval()
    with torch.no_grad():
        model.G.down[-1][-1].weight.zero_()
        model.G.down[-1][-1].bias.zero_()
    x = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    model.G(x)[0, 0, 5, 5].backward()
    assert x.grad[0, 0, 4:7, 4:7].abs().sum() > 0                  # the pixel's own neighbourhood reaches it


@pytest.mark.parametrize(("n_layers", "side"), [(1, 64), (2, 96), (3, 160)])
def test_patchgan_sees_patches_of_its_receptive_field(n_layers: int, side: int) -> None:
    """The gradient of one central logit touches exactly a 16, 34 or 70 pixel square of the input."""
    assert receptive_field(n_layers) == {1: 16, 2: 34, 3: 70}[n_layers]
    D = PatchDiscriminator(1, 4, n_layers)
    for m in D.modules():                                     # no normalisation, so gradients stay local
        if isinstance(m, nn.InstanceNorm2d):
            m.forward = lambda t: t
    x = torch.randn(1, 1, side, side, requires_grad=True)
    out = D(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0, 0].abs() > 0, as_tuple=True)
    assert rows.max() - rows.min() + 1 == receptive_field(n_layers)
    assert cols.max() - cols.min() + 1 == receptive_field(n_layers)


def test_patch_size_scales_with_the_resolution_like_70_of_256() -> None:
    assert [patch_layers(s) for s in (32, 64, 128, 256)] == [1, 1, 2, 3]


def test_cyclegan_design() -> None:
    model = MODELS.get("cyclegan").build(DataSpec("image", (3, 64, 64)), {"ngf": 8, "ndf": 8})
    assert model.generator_names == ("G", "F") and model.discriminator_names == ("D_A", "D_B")
    blocks = [m for m in model.G.modules() if type(m).__name__ == "ResidualBlock"]
    assert len(blocks) == 6                                                     # the paper's 6 up to 128 px
    assert any(isinstance(m, nn.ReflectionPad2d) for m in model.G.modules())
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert model.G(x).shape == model.F(x).shape == x.shape
    big = MODELS.get("cyclegan").build(DataSpec("image", (3, 256, 256)), {"ngf": 4, "ndf": 4})
    assert len([m for m in big.G.modules() if type(m).__name__ == "ResidualBlock"]) == 9
    assert model.D_A.net[0].in_channels == 3                                    # unconditional
    with pytest.raises(GanvasError, match="supports resolution 32 | 64 | 128 | 256, got 48"):
        MODELS.get("cyclegan").build(DataSpec("image", (3, 48, 48)), {})
    with pytest.raises(GanvasError, match="has no latent space"):
        model.sample_latent(1, torch.Generator())


def test_cycle_and_identity_losses_on_hand_cases() -> None:
    a, b = torch.full((2, 3, 8, 8), 0.25), torch.full((2, 3, 8, 8), -0.5)
    there, back = Shift(0.5), Shift(-0.5)
    assert cycle_loss(there, back, a, b) == 0                   # F undoes G and G undoes F
    assert cycle_loss(there, nn.Identity(), a, b).item() == pytest.approx(1.0)   # 0.5 off each way
    assert identity_loss(nn.Identity(), nn.Identity(), a, b) == 0
    # G(b) = b + 0.5 is 0.5 off; F(a) = 0 is |0.25| off
    assert identity_loss(there, Shift(-0.25), a, b).item() == pytest.approx(0.5 + 0.25)


def objective_for(model_name: str, cfg: TrainConfig, G: nn.Module, F: nn.Module | None = None):
    model = MODELS.get(model_name).build(DataSpec("image", (3, 32, 32)), {"ngf": 2, "ndf": 2, "d_layers": 1})
    model.G = G
    if F is not None:
        model.F = F
        model.D_A = model.D_B = Zeros()
    else:
        model.D = Zeros()
    obj = model.objective(cfg, torch.Generator())
    return obj


def test_cyclegan_generator_loss_adds_its_terms_with_their_weights() -> None:
    cfg = TrainConfig(loss="lsgan", model="cyclegan")
    a, b = torch.full((2, 3, 16, 16), 0.25), torch.full((2, 3, 16, 16), -0.5)
    obj = objective_for("cyclegan", cfg, Shift(0.5), nn.Identity())
    assert isinstance(obj, CycleGANObjective)
    loss, stats = obj.g_loss({"a": a, "b": b})
    # lsgan G loss on logits 0: ½(0 − 1)² per D = 0.5 each; cycle = 1.0 (above); identity: G(b) 0.5 off, F(a) exact
    assert stats["G/adv"].item() == pytest.approx(1.0)
    assert stats["G/cycle"].item() == pytest.approx(1.0)
    assert stats["G/identity"].item() == pytest.approx(0.5)
    assert loss.item() == pytest.approx(1.0 + 10 * 1.0 + 10 * 0.5 * 0.5)      # λ = 10, λ_id = 0.5
    d_loss, d_stats = obj.d_loss({"a": a, "b": b})                             # lsgan D: ½·(½(0−1)² + ½·0²) each
    assert d_stats["loss/D_A"].item() == d_stats["loss/D_B"].item() == pytest.approx(0.25)


def test_pix2pix_generator_loss_is_adversarial_plus_weighted_l1() -> None:
    cfg = TrainConfig(loss="ns", model="pix2pix")
    a, b = torch.full((2, 3, 16, 16), 0.25), torch.full((2, 3, 16, 16), -0.5)
    obj = objective_for("pix2pix", cfg, Shift(0.5))
    assert isinstance(obj, Pix2PixObjective)
    loss, stats = obj.g_loss({"a": a, "b": b})
    assert stats["G/adv"].item() == pytest.approx(math.log(2))                   # −log σ(0)
    assert stats["G/L1"].item() == pytest.approx(1.25)                           # |0.75 − (−0.5)|
    assert loss.item() == pytest.approx(math.log(2) + 100 * 1.25)


def test_history_pool_fills_then_swaps_half_the_time() -> None:
    pool = ImagePool(4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)                 # filling: images pass straight through
    later = torch.arange(100.0, 164.0).view(64, 1, 1, 1)
    out = pool.query(later).flatten()
    from_history = (out < 100).sum().item() + sum(1 for v, w in zip(out, later.flatten(), strict=True)
                                                  if v >= 100 and v != w)
    assert 20 < from_history < 44                                # about half are earlier images
    assert sorted(set(out.tolist()) - set(later.flatten().tolist()))   # some of the first four came back
    none = ImagePool(0, seed=0)
    assert torch.equal(none.query(later), later)


def test_history_pool_state_round_trips_exactly() -> None:
    pool = ImagePool(5, seed=3)
    pool.query(torch.randn(7, 2, 3, 3))
    json_state = json.loads(json.dumps(pool.state_dict()))
    copy = ImagePool(5, seed=99)
    copy.load_state_dict(json_state)
    copy.load_tensor(pool.tensor().clone())
    batch = torch.randn(6, 2, 3, 3)
    assert torch.equal(pool.query(batch), copy.query(batch))
    assert torch.equal(pool.tensor(), copy.tensor())


def test_each_model_brings_its_papers_loss_and_options_override_it() -> None:
    assert resolve_config(None, {"model": "cyclegan"}).loss == "lsgan"
    assert resolve_config(None, {"model": "cyclegan", "loss": "hinge"}).loss == "hinge"
    assert resolve_config(None, {"model": "pix2pix"}).loss == "ns"
    assert resolve_config(None, {"model": "dcgan"}).batch_size == 64                 # untouched
    assert resolve_config("icons-papirus2numix-cyclegan", {}).loss == "lsgan"


SMALL = {"resolution": 32, "batch_size": 4, "model_args.ngf": 8, "model_args.ndf": 8, "sample_every": 3,
         "checkpoint_every": 2, "log_every": 1, "sample_count": 4}


def optim_and_nets(run: Path) -> dict[str, torch.Tensor]:
    c = ckpt.latest(run)
    return {**load_file(str(c / "nets.safetensors")), **load_file(str(c / "optim.safetensors"))}


@pytest.mark.parametrize(("model", "data"), [("cyclegan", "icons-papirus-numix"), ("pix2pix", "cjk-fonts")])
def test_interrupted_and_resumed_translation_run_equals_an_uninterrupted_one(
        model: str, data: str, tmp_path: Path, cjk_built, icons_built) -> None:
    cfg = {**SMALL, "model": model, "data": data}
    if model == "cyclegan":
        cfg["model_args.pool_size"] = 6                          # full after 2 steps: swapping happens
    whole = train(None, cfg, tmp_path / "whole", progress=False, max_steps=5)
    part = train(None, cfg, tmp_path / "part", progress=False, max_steps=2)
    rest = train(None, {}, tmp_path / "part", resume=True, progress=False, max_steps=5)
    assert part.step == 2 and rest.step == whole.step == 5
    nw, nr = optim_and_nets(whole.run_dir), optim_and_nets(rest.run_dir)
    assert nw.keys() == nr.keys()
    assert not [k for k in nw if not torch.equal(nw[k], nr[k])]
    if model == "cyclegan":
        assert nw["objective/pool_A"].shape == nw["objective/pool_B"].shape == (6, 3, 32, 32)
        meta = json.loads((ckpt.latest(rest.run_dir) / "checkpoint.json").read_text())
        assert set(meta["samplers"]) == {"a", "b"}                # one data order per domain
        assert set(meta["objective"]["pools"]) == {"A", "B"}
        assert {"G_ema", "F_ema", "D_A", "D_B"} <= set(ckpt.load(rest.run_dir).nets)
    rows = [json.loads(line) for line in (rest.run_dir / "metrics.jsonl").read_text().splitlines()]
    whole_rows = [json.loads(line) for line in (whole.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss/G"] for r in rows] == [r["loss/G"] for r in whole_rows]
