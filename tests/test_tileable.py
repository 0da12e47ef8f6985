"""Tileable generators: circular layers in G, wrapped crops for D, the seam score, reloading from a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganvas
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError
from ganvas.eval.seams import seam_score, seam_score_hwc, tile_3x3
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.nets.tileable import WrappingConvTranspose2d, make_tileable
from ganvas.objectives.augment import build_augment
from ganvas.objectives.wrap import WrapShift, random_wrap

SMALL = {"dcgan": {"ngf": 16, "ndf": 16}, "stylegan": {"channel_max": 32, "z_dim": 32, "w_dim": 32},
         "fastgan": {"channel_max": 64}}
SIDE = {"dcgan": 64, "stylegan": 32, "fastgan": 32}   # dcgan at 64: its zero-padded edges stand out more than at 32


def build(name: str, tileable: bool, seed: int = 0):
    torch.manual_seed(seed)
    side = SIDE[name]
    return MODELS.get(name).build(DataSpec("image", (3, side, side)), SMALL[name], tileable=tileable).eval()


@torch.no_grad()
def outputs(model, n: int = 8) -> torch.Tensor:
    z = torch.randn(n, *model.latent_shape, generator=torch.Generator().manual_seed(5))
    return model.generate(z)


@pytest.mark.parametrize(("k", "s", "p", "op"), [(4, 2, 1, 0), (3, 2, 1, 1), (5, 3, 1, 0), (6, 2, 2, 0)])
def test_a_wrapping_transposed_convolution_is_the_transposed_convolution_of_the_periodic_input(
        k: int, s: int, p: int, op: int) -> None:
    torch.manual_seed(0)                            # (6, 2, 2): the folding path; the others: circular padding
    conv = torch.nn.ConvTranspose2d(3, 5, k, s, p, output_padding=op, bias=True)
    x = torch.randn(2, 3, 6, 6)
    side = 6 * s
    periodic = conv(x.repeat(1, 1, 3, 3))[..., side:2 * side, side:2 * side]   # the middle copy of a 3×3 tiling
    conv.__class__ = WrappingConvTranspose2d
    assert conv(x).shape == (2, 5, side, side)
    assert torch.allclose(conv(x), periodic, atol=1e-5)


def test_making_g_tileable_keeps_every_parameter_name_and_value() -> None:
    plain, tiled = build("dcgan", False), build("dcgan", True)
    assert plain.state_dict().keys() == tiled.state_dict().keys()
    assert all(torch.equal(plain.state_dict()[k], v) for k, v in tiled.state_dict().items())
    assert plain.describe().get("tileable") is None and tiled.describe()["tileable"] is True


@pytest.mark.parametrize("name", ["dcgan", "stylegan", "fastgan"])
def test_an_untrained_tileable_g_jumps_across_its_wrap_edges_as_it_does_inside(name: str) -> None:
    for seed in (0, 1):
        tiled, plain = seam_score(outputs(build(name, True, seed))), seam_score(outputs(build(name, False, seed)))
        assert 0.5 <= tiled <= 2.0, (seed, tiled)
        if name != "fastgan":       # an untrained plain fastgan's edges do not stand out yet (1.59 measured)
            assert not 0.5 <= plain <= 2.0, (seed, plain)     # zero padding: dim (dcgan) or jumping (stylegan) edges


def _rolled_start(model, name: str):
    """Outputs of one code, and of the same code with G's 4×4 starting map rolled by one cell each way."""
    z = torch.randn(2, *model.latent_shape, generator=torch.Generator().manual_seed(3))
    if name == "dcgan":
        with torch.no_grad():
            plain = model.generate(z)
            hook = model.G.net[2].register_forward_hook(lambda m, i, out: out.roll((1, 1), (2, 3)))
            rolled = model.generate(z)
            hook.remove()
        return plain, rolled
    with torch.no_grad():
        ws = model.G.mapping(z)
        plain = model.G.synthesis(ws, "none")
        const = model.G.synthesis.blocks[0].const
        const.copy_(const.roll((1, 1), (1, 2)))
        return plain, model.G.synthesis(ws, "none")


@pytest.mark.parametrize("name", ["dcgan", "stylegan"])
def test_a_tileable_g_is_exactly_periodic(name: str) -> None:
    """Rolling G's 4×4 start by one cell rolls the output by side/4 pixels exactly: no layer knows the edges."""
    step = SIDE[name] // 4

    def mismatch(plain: torch.Tensor, rolled: torch.Tensor) -> float:      # relative to the outputs' scale
        return float((rolled - plain.roll((step, step), (2, 3))).abs().max() / plain.abs().max())

    assert mismatch(*_rolled_start(build(name, True), name)) < 1e-4
    assert mismatch(*_rolled_start(build(name, False), name)) > 0.05


def test_models_that_do_not_draw_pictures_from_noise_refuse_tileable() -> None:
    with pytest.raises(GanvasError, match="config field 'tileable' needs an image model .* 'pix2pix'"):
        MODELS.get("pix2pix").build(DataSpec("image", (3, 32, 32)), {}, tileable=True)
    with pytest.raises(GanvasError, match="layer 'bad' of G cannot be made tileable"):
        make_tileable(_net_with_bad_layer())


def _net_with_bad_layer() -> torch.nn.Module:
    net = torch.nn.Module()
    net.bad = torch.nn.ConvTranspose2d(1, 1, 3, 2, 1)     # 2H − 1 pixels: not a multiple of its input
    return net


# --- what D sees ----------------------------------------------------------------------------------


def test_wrapped_crops_are_circular_shifts_that_differ_per_image_and_pass_gradients() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 3, 8, 8, requires_grad=True)
    y = random_wrap(x)
    shifts = []
    for i in range(16):
        found = [(dy, dx) for dy in range(8) for dx in range(8) if torch.equal(y[i], x[i].roll((dy, dx), (1, 2)))]
        assert found, f"image {i} is not a circular shift of its input"
        shifts.append(found[0])
    assert len(set(shifts)) > 4
    y.square().sum().backward()
    assert torch.allclose(x.grad, 2 * x.detach())          # a permutation of pixels: every pixel's gradient kept


def test_tileable_runs_give_d_wrapped_crops_before_their_augmentation() -> None:
    plain = build_augment(TrainConfig(augment="ada"), "image")
    wrapped = build_augment(TrainConfig(augment="ada", tileable=True), "image")
    assert not isinstance(plain, WrapShift) and isinstance(wrapped, WrapShift)
    state = wrapped.state_dict()
    assert state == plain.state_dict() and "p" in json.dumps(state)     # ADA's state passes through
    wrapped.observe(torch.ones(8))
    assert wrapped.inner.stats().keys() == wrapped.stats().keys()
    for name in ("dcgan", "stylegan", "fastgan"):   # the objective a model trains with uses them
        cfg = TrainConfig(model=name, tileable=True)
        assert isinstance(build(name, True).objective(cfg, torch.Generator()).augment, WrapShift)


# --- the seam score and the tiling ----------------------------------------------------------------


def test_seam_score_of_noise_and_of_a_ramp() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)   # no edge is special
    periodic = noise
    assert 0.8 < seam_score_hwc(periodic) < 1.25
    ramp = np.broadcast_to(np.arange(0, 256, 8, dtype=np.uint8)[None, None, :, None], (1, 32, 32, 3))
    assert seam_score_hwc(ramp) > 3                                 # dark on the left, light on the right
    tiled = tile_3x3(periodic[0])
    assert tiled.shape == (96, 96, 3) and np.array_equal(tiled[32:64, 64:96], periodic[0])


# --- a tileable run, end to end --------------------------------------------------------------------


def test_a_tileable_checkpoint_reloads_as_the_network_it_trained(tileable_run: Path) -> None:
    G = ganvas.load(tileable_run)
    assert G.model.tileable and G.meta["config"]["tileable"] and G.meta["model"]["tileable"]
    grid = np.asarray(G.domain.preview(G.sample(4, seed=0)))
    assert np.array_equal(grid, np.asarray(Image.open(tileable_run / "final.png")))   # the run's own last grid
    assert 0.5 <= seam_score(G.sample(16, seed=0)) <= 2.0


def test_a_damaged_tileable_field_is_a_one_line_error(tileable_run: Path, tmp_path: Path) -> None:
    import shutil

    ckpt = next((tileable_run / "checkpoints").glob("step-*"))
    copy = tmp_path / ckpt.name
    shutil.copytree(ckpt, copy)
    meta = json.loads((copy / "checkpoint.json").read_text())
    meta["model"]["tileable"] = "yes"
    (copy / "checkpoint.json").write_text(json.dumps(meta))
    with pytest.raises(GanvasError, match="field 'model.tileable'.*true or false"):
        ganvas.load(copy)
