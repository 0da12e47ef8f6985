"""The `stylegan` model: its design, the style space, its objective, and its run path end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_cli
from PIL import Image

import ganvas
from ganvas import style
from ganvas.app.training import train
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError, TrainingDiverged
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.nets.stylegan import truncate
from ganvas.nets.stylegan_layers import EqualLinear, ModulatedConv2d
from ganvas.train import checkpoint as ckpt

TINY = {"channel_base": 128, "channel_max": 16, "z_dim": 16, "w_dim": 16, "mapping_layers": 2}
RUN = {"model": "stylegan", "data": "emoji", "resolution": 32, "batch_size": 8, "sample_every": 100,
       "checkpoint_every": 100, "log_every": 1, "sample_count": 4, "lr_g": 2e-3, "lr_d": 2e-3,
       "betas_g": [0.0, 0.99], "betas_d": [0.0, 0.99], "r1_gamma": 0.1, "r1_every": 2,
       **{f"model_args.{k}": v for k, v in TINY.items()}}


def build(res: int = 32, **opts):
    return MODELS.get("stylegan").build(DataSpec("image", (3, res, res)), {**TINY, **opts})


@pytest.mark.parametrize("res", [16, 32, 64])
def test_shapes_and_style_layers(res: int) -> None:
    model = build(res)
    z = model.sample_latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 16)
    ws = model.G.mapping(z)
    steps = res.bit_length() - 3                                       # 4×4 → res, doubling
    assert model.num_ws == ws.shape[1] == 2 * steps + 2                # 1 + 2 per doubling convs, 1 RGB output
    assert torch.equal(ws[:, 0], ws[:, -1])                            # one w broadcast to every layer
    x = model.G.synthesis(ws)
    assert x.shape == (5, 3, res, res) and torch.isfinite(x).all()
    assert model.D(x).shape == (5,)
    model.G.eval()                                                      # fixed noise: repeatable outputs
    assert torch.allclose(model.generate(z), model.generate(ws), atol=1e-5)   # z or its ws: the same images


def test_the_stylegan2_design_is_there() -> None:
    model = MODELS.get("stylegan").build(DataSpec("image", (3, 32, 32)), {})
    G, D = model.G, model.D
    assert len(G.mapping.net) == 8                                      # 8 mapping layers by default
    assert all(layer.weight_gain == pytest.approx(0.01 / 256 ** 0.5) for layer in G.mapping.net)   # lr × 0.01
    assert G.synthesis.blocks[0].const.shape == (128, 4, 4)            # learned constant input
    layers = [m for m in G.modules() if hasattr(m, "noise_strength")]
    assert len(layers) == model.num_ws - 1 and all(m.noise_strength.item() == 0 for m in layers)
    torgb = [m for m in G.modules() if type(m).__name__ == "ToRGB"]
    assert len(torgb) == 4 and not any(m.conv.demodulate for m in torgb)   # skip outputs at every side
    assert G.mapping.w_avg.shape == (256,) and "mapping.w_avg" in G.state_dict()
    assert [type(m).__name__ for m in D.blocks] == ["DiscriminatorBlock"] * 3
    assert D.mbstd.group_size == 4 and D.conv.weight.shape[1] == 128 + 1   # minibatch-stddev feature


def test_minibatch_stddev_sees_the_batch() -> None:
    D = build().D
    x = torch.randn(4, 3, 32, 32)
    varied = D(x)[:2]
    same = D(torch.cat([x[:2], x[:2]]))[:2]                              # groups of identical pairs
    assert not torch.allclose(varied, same)


def test_demodulation_normalises_each_output_channel() -> None:
    torch.manual_seed(0)
    conv = ModulatedConv2d(64, 32, 3, w_dim=8)
    x = torch.randn(4, 64, 48, 48)
    w = torch.randn(4, 8) * 3                                          # styles far from 1
    y = conv(x, w)[:, :, 1:-1, 1:-1]                                     # away from the zero padding
    std = y.std(dim=(2, 3))
    assert (std - 1).abs().max() < 0.08, std
    conv.demodulate = False
    raw = conv(x, w)[:, :, 1:-1, 1:-1].std(dim=(2, 3))
    assert (raw - 1).abs().max() > 0.3                                 # without it the scale follows the styles


def test_equalised_learning_rate_scales_at_runtime() -> None:
    layer = EqualLinear(100, 10, lr_mult=0.01)
    assert layer.weight.std().item() == pytest.approx(100, rel=0.15)          # stored N(0, 1) / lr_mult
    out = layer(torch.randn(1000, 100))
    assert out.std().item() == pytest.approx(1.0, rel=0.15)                    # used at unit gain


def test_truncation_psi_zero_gives_the_w_average_image() -> None:
    model = build()
    model.G.mapping.w_avg.copy_(torch.randn(16))
    model.eval()
    latents = model.latents_for_seeds([1, 2, 3], truncation=0.0)
    assert latents.shape == (3, model.num_ws, 16)
    images = model.generate(latents)
    average = model.G.synthesis(model.G.mapping.w_avg.expand(1, model.num_ws, 16))
    assert all(torch.allclose(img, average[0], atol=1e-6) for img in images)
    ws = model.latents_for_seeds([1], truncation=1.0)
    half = model.latents_for_seeds([1], truncation=0.5)
    assert torch.allclose(half, model.G.mapping.w_avg.lerp(ws, 0.5))
    cut = truncate(ws, model.G.mapping.w_avg, 0.0, cutoff=3)
    assert torch.equal(cut[:, 3:], ws[:, 3:]) and torch.equal(cut[0, :3], model.G.mapping.w_avg.expand(3, 16))
    with pytest.raises(GanvasError, match=r"ψ must be in \[0, 1\]"):
        model.latents_for_seeds([1], truncation=-0.5)
    with pytest.raises(GanvasError, match="cutoff must be a number of style layers in 1..8"):
        truncate(ws, model.G.mapping.w_avg, 0.5, cutoff=9)


def test_training_styles_are_mixed_and_track_w_average() -> None:
    model = build()
    cfg = TrainConfig(model="stylegan").validate()
    obj = model.objective(cfg, torch.Generator().manual_seed(0))
    obj.mixing = 1.0
    ws = obj.styles(6, update_w_avg=True)
    switches = [int((ws[0, i] != ws[0, i + 1]).any()) for i in range(model.num_ws - 1)]
    assert sum(switches) == 1                                          # one cut between two latents
    assert model.G.mapping.w_avg.abs().sum() > 0                       # moved from 0 towards this batch
    obj.mixing = 0.0
    ws = obj.styles(6, update_w_avg=False)
    assert all(torch.equal(ws[:, 0], ws[:, i]) for i in range(model.num_ws))


def test_path_length_regularisation_is_applied_lazily() -> None:
    model = build(pl_weight=2.0, pl_every=2)
    cfg = TrainConfig(model="stylegan").validate()
    obj = model.objective(cfg, torch.Generator().manual_seed(0))
    batch = {"x": torch.zeros(4, 3, 32, 32)}
    model.D.requires_grad_(False)
    loss, stats = obj.g_loss(batch)
    assert "G/pl_penalty" in stats and obj.pl_mean > 0
    loss.backward()
    assert model.G.mapping.net[0].weight.grad.abs().sum() > 0
    _, stats = obj.g_loss(batch)
    assert "G/pl_penalty" not in stats                                 # every 2nd G step only
    state = json.loads(json.dumps(obj.state_dict()))
    assert state["pl_mean"] == obj.pl_mean and state["g_steps"] == 2


@pytest.fixture(scope="module")
def style_run(tmp_path_factory, emoji_built) -> Path:
    out = tmp_path_factory.mktemp("sg") / "run"
    train(None, {**RUN, "augment": "diffaugment", "model_args.pl_weight": 2.0}, out, progress=False, max_steps=4)
    return out


def test_the_weight_average_carries_w_avg_and_noise_buffers(style_run: Path) -> None:
    c = ckpt.load(style_run)
    assert c.nets["G"]["mapping.w_avg"].abs().sum() > 0
    assert torch.equal(c.nets["G_ema"]["mapping.w_avg"], c.nets["G"]["mapping.w_avg"])
    noise = [k for k in c.nets["G"] if k.endswith("noise_const")]
    assert noise and all(torch.equal(c.nets["G_ema"][k], c.nets["G"][k]) for k in noise)
    assert c.meta["objective"]["pl_mean"] > 0 and c.meta["objective"]["g_steps"] == 4


def test_sampling_api_and_style_space(style_run: Path, tmp_path: Path) -> None:
    G = ganvas.load(style_run)
    x = G.sample(4, seed=3)
    assert x.shape == (4, 3, 32, 32)
    assert torch.equal(G.sample(2, seed=3), x[:2])                      # output i is seed 3+i, whatever n
    assert torch.equal(G.sample(1, seed=5)[0], x[2])
    ws = G.ws(4, seed=3, truncation=0.6)
    assert ws.shape == (4, G.model.num_ws, 16)
    assert torch.equal(G.synthesize(ws), G.sample(4, seed=3, truncation=0.6))
    average = G.sample(3, seed=0, truncation=0.0)
    w_avg = G.model.G.mapping.w_avg
    assert torch.equal(average[0], average[2]) and torch.equal(average[0], G.synthesize(w_avg[None])[0])
    for name in ("w.safetensors", "w.npy"):
        style.save_ws(tmp_path / name, ws, G, seeds=range(3, 7))
        assert torch.equal(style.load_ws(tmp_path / name, G), ws)
    meta = json.loads(__import__("safetensors").safe_open(str(tmp_path / "w.safetensors"), "pt").metadata()["ganvas"])
    assert meta["seeds"] == [3, 4, 5, 6] and meta["num_ws"] == G.model.num_ws
    torch.save({"ws": ws}, tmp_path / "w.pt")
    with pytest.raises(GanvasError, match="must end in .safetensors or .npy"):
        style.load_ws(tmp_path / "w.pt", G)
    with pytest.raises(GanvasError, match=r"shape \(4, 3, 16\); this model takes \[n, 8, 16\]"):
        style.save_ws(tmp_path / "bad.safetensors", ws[:, :3])
        style.load_ws(tmp_path / "bad.safetensors", G)


def test_style_mixing_grid(style_run: Path) -> None:
    G = ganvas.load(style_run)
    images, nrow = style.mixing_grid(G, [1, 2], [10, 11, 12], layers="0-3")
    assert nrow == 4 and images.shape == (12, 3, 32, 32)
    assert torch.equal(images[0], torch.ones(3, 32, 32))                # blank corner
    cols, rows = G.ws(1, seed=10), G.ws(1, seed=2)
    assert torch.allclose(images[1], G.synthesize(cols)[0])            # top row: the column seeds
    assert torch.allclose(images[8], G.synthesize(rows)[0])            # left column: the row seeds
    mixed = torch.cat([cols[:, :4], rows[:, 4:]], dim=1)               # row 2 with layers 0-3 of seed 10
    assert torch.allclose(images[9], G.synthesize(mixed)[0])
    everything, _ = style.mixing_grid(G, [2], [10], layers="all")
    assert torch.allclose(everything[3], everything[1])                # all layers from 10: image of 10
    with pytest.raises(GanvasError, match="style layer 8 is outside this model's layers 0-7"):
        style.mixing_grid(G, [1], [2], layers="4-8")


def cli(capsys, *args: str) -> tuple[int, str]:
    """Run the `ganvas` command in this process (quicker than a subprocess); its code and stderr."""
    from ganvas.cli import main

    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def cli_error(capsys, *args: str) -> str:
    code, err = cli(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_style_mix_and_w_files_from_the_cli(style_run: Path, tmp_path: Path, capsys) -> None:
    assert cli(capsys, "sample", style_run, "--style-mix", "1,2", "10-12", "--layers", "0-3",
               "--grid", tmp_path / "mix.png")[0] == 0
    assert Image.open(tmp_path / "mix.png").size == (4 * 34 + 2, 3 * 34 + 2)
    assert cli(capsys, "sample", style_run, "--n", "3", "--seed", "7", "--truncation", "0.5", "--truncation-cutoff",
               "4", "--save-w", tmp_path / "w.safetensors", "--grid", tmp_path / "a.png", "--no-watermark")[0] == 0
    code, _ = cli(capsys, "sample", style_run, "--from-w", tmp_path / "w.safetensors", "--grid", tmp_path / "b.png",
                  "--no-watermark")                     # two recipes, one picture: compared without their marks
    assert code == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "b.png")))
    assert "style layer 8 is outside this model's layers 0-7" in cli_error(
        capsys, "sample", style_run, "--style-mix", "1", "2", "--layers", "0-9")
    assert "column seeds 'x' is not a list of whole numbers" in cli_error(
        capsys, "sample", style_run, "--style-mix", "1", "x")
    assert "cutoff must be a number of style layers in 1..8" in cli_error(
        capsys, "sample", style_run, "--truncation", "0.5", "--truncation-cutoff", "20")
    assert "give --style-mix" in cli_error(capsys, "sample", style_run, "--layers", "0-3")
    # and once as a person runs it, in its own process
    assert_one_line_error(run_cli("sample", str(style_run), "--truncation", "1.5"), "ψ must be in [0, 1]")


def test_old_or_foreign_checkpoints_are_one_line_errors(style_run: Path, tmp_path: Path, capsys) -> None:
    def forged(name: str, change) -> Path:
        copy = tmp_path / name
        shutil.copytree(style_run, copy)
        path = next(copy.glob("checkpoints/step-*/checkpoint.json"))
        meta = json.loads(path.read_text())
        change(meta)
        path.write_text(json.dumps(meta))
        return copy

    fewer = forged("layers", lambda m: m["model"]["options"].update(mapping_layers=3))
    line = cli_error(capsys, "sample", fewer)
    assert "network G_ema does not match this model" in line and "missing tensor 'mapping.net.2.bias'" in line
    renamed = forged("renamed", lambda m: m["model"]["options"].update(fmaps=3))
    line = cli_error(capsys, "sample", renamed)
    assert "cannot be rebuilt" in line and "unknown option of model 'stylegan' 'fmaps'" in line
    dcgan_run = tmp_path / "dcgan"
    train(None, {"model": "dcgan", "resolution": 32, "batch_size": 4, "model_args.ngf": 4, "model_args.ndf": 4,
                 "sample_count": 4}, dcgan_run, progress=False, max_steps=1)
    capsys.readouterr()
    assert "model 'dcgan' has no style space" in cli_error(capsys, "sample", dcgan_run, "--style-mix", "1", "2")
    assert "model 'dcgan' has no style space" in cli_error(capsys, "sample", dcgan_run, "--save-w", tmp_path / "w.npy")


def test_divergence_in_path_length_stops_and_keeps_the_last_checkpoint(tmp_path: Path, emoji_built) -> None:
    from ganvas.app.training import prepare

    p = prepare(None, {**RUN, "checkpoint_every": 2, "kimg": 1.0, "model_args.pl_weight": 2.0,
                       "model_args.pl_every": 1}, tmp_path, progress=False)
    trainer = p.trainer
    original = trainer.objective.path_length_penalty

    def poisoned(n):
        penalty, length = original(n)
        return (penalty * float("inf") if trainer.progress.step >= 2 else penalty), length

    trainer.objective.path_length_penalty = poisoned
    with pytest.raises(TrainingDiverged, match=r"diverged at step 3: G loss is (nan|inf).*step-0000002 is intact"):
        trainer.run()
    c = ckpt.load(tmp_path)
    assert c.step == 2
    assert all(torch.isfinite(t).all() for sd in c.nets.values() for t in sd.values())


def test_interrupted_stylegan_run_with_ada_resumes_bit_for_bit(tmp_path: Path, emoji_built) -> None:
    """Mixing, noise, lazy R1 and path length, ADA's p: all continue exactly after a resume."""
    run = {**RUN, "augment": "ada", "augment_p": 0.3, "ada_kimg": 0.1, "ada_interval": 2,
           "model_args.pl_weight": 2.0, "model_args.pl_every": 2}
    whole = train(None, run, tmp_path / "whole", progress=False, max_steps=5)
    part = train(None, run, tmp_path / "part", progress=False, max_steps=3)
    rest = train(None, {}, part.run_dir, resume=True, progress=False, max_steps=5)
    a, b = ckpt.load(whole.run_dir), ckpt.load(rest.run_dir)
    assert a.meta["objective"] == b.meta["objective"] and a.meta["objective"]["augment"]["p"] != 0.3
    different = [f"{n}/{k}" for n in a.nets for k in a.nets[n] if not torch.equal(a.nets[n][k], b.nets[n][k])]
    assert not different, different[:5]
    assert all(torch.equal(a.optim[k], b.optim[k]) for k in a.optim)
    assert (whole.run_dir / "final.png").read_bytes() == (rest.run_dir / "final.png").read_bytes()
