"""The training loop: the step schedule, weight averaging, determinism, and exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import toy
from safetensors.torch import load_file
from torch import nn

from ganvas.app.training import build_model, train
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError, TrainingDiverged
from ganvas.train import checkpoint as ckpt
from ganvas.train.ema import EMA, recalibrate_batchnorm
from ganvas.train.loop import Trainer
from ganvas.train.sampler import EpochSampler

SMALL = {"model": "dcgan", "data": "emoji", "resolution": 32, "batch_size": 16, "model_args.ngf": 8,
         "model_args.ndf": 8, "sample_every": 4, "checkpoint_every": 3, "log_every": 1, "sample_count": 9}


def toy_trainer(tmp_path: Path, **overrides) -> Trainer:
    dataset = toy.gaussian_dataset()
    values = {"model": "toy-mlp", "data": "gaussian", "channels_last": False, "batch_size": 32,
              "sample_every": 10**6, "checkpoint_every": 10**6, **overrides}
    cfg = TrainConfig().with_overrides(values).validate()
    model = build_model(cfg, dataset, torch.device("cpu"))
    return Trainer(cfg, model, dataset, tmp_path, torch.device("cpu"), progress_bar=False)


def test_n_critic_discriminator_steps_per_generator_step(tmp_path: Path) -> None:
    trainer = toy_trainer(tmp_path, n_critic=3)
    for _ in range(4):
        trainer.train_step()
    d_steps = {int(s["step"]) for s in trainer.opt_d.state_dict()["state"].values()}
    g_steps = {int(s["step"]) for s in trainer.opt_g.state_dict()["state"].values()}
    assert d_steps == {12} and g_steps == {4}
    assert trainer.progress.step == 4
    assert trainer.progress.nimg == 4 * 3 * 32          # kimg counts real images shown to D


def test_g_step_neither_changes_nor_differentiates_d_weights(tmp_path: Path) -> None:
    trainer = toy_trainer(tmp_path)
    seen = {}
    d_step, g_step = trainer.opt_d.step, trainer.opt_g.step

    def after_d(*a, **k):
        out = d_step(*a, **k)
        seen["d"] = [(p.detach().clone(), p.grad.clone()) for p in trainer.model.D.parameters()]
        return out

    def at_g(*a, **k):
        seen["g"] = [(p.detach().clone(), p.grad) for p in trainer.model.D.parameters()]
        return g_step(*a, **k)

    trainer.opt_d.step, trainer.opt_g.step = after_d, at_g
    trainer.train_step()
    for (w_d, grad_d), (w_g, grad_g) in zip(seen["d"], seen["g"], strict=True):
        assert torch.equal(w_d, w_g)                   # G's step does not move D
        assert torch.equal(grad_d, grad_g)             # nor spend time on D's weight gradients
    assert all(p.grad is not None for p in trainer.model.G.parameters())


def test_ema_half_life_and_rampup() -> None:
    net = nn.Linear(2, 2)
    ema = EMA({"G": net}, half_life_kimg=1.0, rampup=0.0)
    assert ema.beta(nimg=10**6, batch=1000) == pytest.approx(0.5)      # one half-life per 1000 images
    ramped = EMA({"G": net}, half_life_kimg=10.0, rampup=0.1)
    assert ramped.beta(nimg=2000, batch=100) == pytest.approx(0.5 ** (100 / 200))   # capped at 10% of nimg
    assert EMA({"G": net}, 0.0, 0.0).beta(10**6, 64) == 0.0


def test_ema_update_is_the_weighted_average() -> None:
    net = nn.Linear(3, 1)
    ema = EMA({"G": net}, half_life_kimg=1.0, rampup=0.0)
    old = [p.detach().clone() for p in ema.averaged["G"].parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    ema.update({"G": net}, nimg=10**6, batch=1000)                    # β = 0.5
    for avg, o, new in zip(ema.averaged["G"].parameters(), old, net.parameters(), strict=True):
        assert torch.allclose(avg, 0.5 * o + 0.5 * new)
    assert not any(p.requires_grad for p in ema.averaged["G"].parameters())


def test_batchnorm_recalibration_gives_the_exact_statistics() -> None:
    bn = nn.BatchNorm1d(3)
    inputs = [torch.randn(50, 3) * 2 + 5 for _ in range(4)]
    it = iter(inputs)
    recalibrate_batchnorm(bn, lambda: bn(next(it)), batches=4)
    allx = torch.cat(inputs)
    assert torch.allclose(bn.running_mean, allx.mean(0), atol=1e-5)
    # cumulative average of per-batch unbiased variances
    expected_var = torch.stack([x.var(0, unbiased=True) for x in inputs]).mean(0)
    assert torch.allclose(bn.running_var, expected_var, atol=1e-4)
    assert bn.momentum == 0.1                                           # restored


def test_sampler_epochs_are_permutations_and_resumable() -> None:
    s = EpochSampler(10, 4, seed=3)
    seen = [s.next() for _ in range(5)]                                 # 20 indices = 2 epochs
    flat = torch.as_tensor([i for b in seen for i in b])
    assert sorted(flat[:10].tolist()) == list(range(10)) and sorted(flat[10:20].tolist()) == list(range(10))
    state = s.state_dict()
    a = [s.next().tolist() for _ in range(3)]
    t = EpochSampler(10, 4, seed=3)
    t.load_state_dict(state)
    assert [t.next().tolist() for _ in range(3)] == a
    tiny = EpochSampler(3, 8, seed=0)                                   # dataset smaller than a batch
    assert len(tiny.next()) == 8


def nets_of(run: Path) -> dict[str, torch.Tensor]:
    c = ckpt.latest(run)
    return {**load_file(str(c / "nets.safetensors")), **load_file(str(c / "optim.safetensors"))}


def test_same_seed_same_run(tmp_path: Path, emoji_built) -> None:
    a = train(None, SMALL, tmp_path / "a", progress=False, max_steps=3)
    b = train(None, SMALL, tmp_path / "b", progress=False, max_steps=3)
    na, nb = nets_of(a.run_dir), nets_of(b.run_dir)
    assert na.keys() == nb.keys()
    assert all(torch.equal(na[k], nb[k]) for k in na)
    assert (a.run_dir / "final.png").read_bytes() == (b.run_dir / "final.png").read_bytes()


def test_interrupted_and_resumed_run_equals_uninterrupted_run(tmp_path: Path, emoji_built) -> None:
    """Stop after 3 of 7 steps, resume: same final step, bit-identical weights and optimiser state."""
    whole = train(None, SMALL, tmp_path / "whole", progress=False, max_steps=7)
    part = train(None, SMALL, tmp_path / "part", progress=False, max_steps=3)
    assert part.step == 3
    rest = train(None, {}, tmp_path / "part", resume=True, progress=False, max_steps=7)
    assert rest.step == whole.step == 7
    nw, nr = nets_of(whole.run_dir), nets_of(rest.run_dir)
    assert nw.keys() == nr.keys()
    different = [k for k in nw if not torch.equal(nw[k], nr[k])]
    assert not different, f"differ after resume: {different[:5]}"
    meta_w = json.loads((ckpt.latest(whole.run_dir) / "checkpoint.json").read_text())
    meta_r = json.loads((ckpt.latest(rest.run_dir) / "checkpoint.json").read_text())
    for key in ("progress", "sampler", "objective", "rng"):
        if key == "progress":
            meta_w[key].pop("elapsed_s"), meta_r[key].pop("elapsed_s")
        assert meta_w[key] == meta_r[key], key
    rows = [json.loads(line) for line in (rest.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 8))               # the loss curve continues, no seam
    whole_rows = [json.loads(line) for line in (whole.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["loss/D"] for r in rows] == [r["loss/D"] for r in whole_rows]


def test_resume_drops_log_rows_written_after_the_last_checkpoint(tmp_path: Path, emoji_built) -> None:
    run = train(None, {**SMALL, "checkpoint_every": 2}, tmp_path / "r", progress=False, max_steps=5)
    # the run ended with a checkpoint at 5; fake an interrupted run whose last checkpoint is step 4
    import shutil

    shutil.rmtree(run.run_dir / "checkpoints" / "step-0000005")
    resumed = train(None, {}, run.run_dir, resume=True, progress=False, max_steps=6)
    steps = [json.loads(line)["step"] for line in (resumed.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_resume_refuses_a_different_model_config(tmp_path: Path, emoji_built) -> None:
    train(None, SMALL, tmp_path / "r", progress=False, max_steps=2)
    with pytest.raises(GanvasError, match="resolution=32; it cannot resume with resolution=64"):
        train(None, {"resolution": 64}, tmp_path / "r", resume=True, progress=False)
    with pytest.raises(GanvasError, match="already holds a run"):
        train(None, SMALL, tmp_path / "r", progress=False, max_steps=2)


def test_divergence_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    trainer = toy_trainer(tmp_path, checkpoint_every=2, kimg=1.0)
    original = trainer.objective.d_loss

    def poisoned(batch):
        loss, stats = original(batch)
        return (loss * float("nan") if trainer.progress.step >= 4 else loss), stats

    trainer.objective.d_loss = poisoned
    with pytest.raises(TrainingDiverged, match=r"diverged at step 5: D loss is nan.*step-0000004 is intact"):
        trainer.run()
    c = ckpt.load(tmp_path)
    assert c.step == 4
    assert all(torch.isfinite(t).all() for sd in c.nets.values() for t in sd.values())


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path: Path, emoji_built) -> None:
    """SIGKILL a real `ganvas train` process mid-run, then `--resume`: it ends at the planned step.

    The process is killed right after its checkpoint of step 20 is in place (it pauses there and says
    so on stderr; the test reads stderr until that line), 40 steps before its planned end."""
    import subprocess

    from killing import PLANNED_STEPS, TRAIN, env, ganvas, kill_when_paused

    out = tmp_path / "run"
    args = ganvas("train", *TRAIN, "--out", str(out))
    paused = kill_when_paused(args, "20:written")
    assert paused == f"checkpoint paused: written step 20 at {out / 'checkpoints' / 'step-0000020'}"
    saved = ckpt.step_dirs(out)
    assert [s for s, _ in saved] == [10, 20], "killed after its second checkpoint, long before step 60"
    done = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300, env=env())
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} at step 20" in done.stderr
    final = ckpt.load(out)
    assert final.step == PLANNED_STEPS and final.meta["progress"]["nimg"] == 960      # 0.96 kimg / 16 per step
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, PLANNED_STEPS + 1))
