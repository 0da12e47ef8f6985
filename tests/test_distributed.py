"""Training on several processes (torchrun, gloo on the CPU), and the GPU-ready paths run on a CPU.

The multi-process tests start the real `ganvas` command under torchrun (`python -m torch.distributed.run`)
with two processes of one thread each; a run takes a few seconds, most of it starting Python and torch.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import toy
from conftest import REPO

from ganvas import accel, distributed
from ganvas.app.training import build_model, train
from ganvas.config import TrainConfig
from ganvas.errors import GanvasError
from ganvas.train import checkpoint as ckpt
from ganvas.train.loop import Trainer
from ganvas.train.sampler import EpochSampler

DCGAN = ["--model", "dcgan", "--data", "emoji", "--resolution", "32", "--batch-size", "16",
         "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--set", "log_every=1",
         "--set", "checkpoint_every=5", "--set", "sample_every=4", "--set", "sample_count=4"]
EVAL = ["--eval-every", "5", "--set", "eval_features=random", "--set", "eval_n=24"]


def torchrun(*args: str | Path, nproc: int = 2, console_script: bool = False,
             timeout: float = 240) -> subprocess.CompletedProcess:
    """`torchrun --standalone --nproc_per_node=N -m ganvas ARGS` (or the `ganvas` console script)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    target = ["--no-python", "ganvas"] if console_script else ["-m", "ganvas"]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           *target, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=timeout, env=env)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stderr


def steps_logged(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
            if "loss/D" in json.loads(line)]


def assert_ranks_identical(c: ckpt.Checkpoint, world: int) -> None:
    """Every rank's digest of its networks matches, and matches what rank 0 wrote."""
    d = c.meta["distributed"]
    assert d["world_size"] == world and d["backend"] == "gloo" and len(d["digests"]) == world
    assert all(x == d["digests"][0] for x in d["digests"]), d["digests"]
    assert distributed.digest(c.nets) == d["digests"][0]


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory, emoji_built) -> Path:
    """8 steps of a small DCGAN on two processes (global batch 16: 8 each), checkpointed and evaluated
    at step 5 and checkpointed at the end."""
    run = tmp_path_factory.mktemp("ddp") / "run"
    err = ok(torchrun("train", *DCGAN, *EVAL, "--kimg", "0.128", "--out", run))
    assert err.count("on 2 processes (gloo, 8 images each per step)") == 1      # rank 0 alone speaks
    return run


def interrupted_at_step_5(run: Path, copy: Path) -> Path:
    """A copy of `run` as if it had been killed after its checkpoint of step 5."""
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "checkpoints" / "step-0000008")
    return copy


# --- data order, batch, errors (in process) ----------------------------------------------------------


def test_data_order_does_not_depend_on_the_number_of_processes() -> None:
    one, two = EpochSampler(50, 12, seed=7), EpochSampler(50, 12, seed=7)
    for _ in range(9):                                     # crosses epochs
        whole, again = one.next(), two.next()
        shares = [distributed.shard(again, distributed.Context(rank=r, world=4)) for r in range(4)]
        assert all(len(s) == 3 for s in shares)
        assert np.array_equal(np.concatenate(shares), whole)
    assert distributed.shard(whole, distributed.Context()) is whole


def test_a_global_batch_that_does_not_divide_is_one_line() -> None:
    distributed.check_batch(16, 4)
    with pytest.raises(GanvasError, match=r"'batch_size' = 15 is the global batch .* 2 processes; use a multiple "
                                          r"of 2, e.g. 14"):
        distributed.check_batch(15, 2)


def test_one_process_is_rank_0_of_1_and_every_collective_is_a_no_op() -> None:
    ctx = distributed.current()
    assert (ctx.rank, ctx.world, ctx.enabled) == (0, 1, False)
    t = torch.tensor([1.0, 2.0])
    assert ctx.all_reduce_(t) is t and t.tolist() == [1.0, 2.0]
    assert ctx.gather("x") == ["x"] and ctx.broadcast(3) == 3 and ctx.mean_value(torch.tensor(2.5)) == 2.5
    with pytest.raises(GanvasError, match="boom"):
        ctx.everywhere(lambda: (_ for _ in ()).throw(GanvasError("boom")))


# --- several processes --------------------------------------------------------------------------------


def test_two_processes_keep_identical_weights_and_gather_evaluation_features(two_rank_run: Path) -> None:
    c = ckpt.load(two_rank_run)
    assert c.step == 8 and c.meta["progress"]["nimg"] == 128
    assert_ranks_identical(c, 2)
    assert_ranks_identical(ckpt.load(two_rank_run / "checkpoints" / "step-0000005"), 2)
    # each rank drew its own latents and augmentations from its own streams
    assert c.meta["ranks"][0]["rng"]["latent"] != c.meta["rng"]["latent"]
    assert c.meta["ranks"][0]["rng"]["torch"] != c.meta["rng"]["torch"]
    assert steps_logged(two_rank_run) == list(range(1, 9))
    assert (two_rank_run / "final.png").is_file() and (two_rank_run / "checkpoints" / "best").is_dir()
    # features of 12 seeds from each rank, gathered: the same figures one process computes
    from ganvas.eval.evaluate import evaluate_generator

    logged = [json.loads(line) for line in (two_rank_run / "metrics.jsonl").read_text().splitlines()
              if "eval/FD_random" in line][-1]
    alone = evaluate_generator(two_rank_run / "checkpoints" / "best", n=24, features="random")["metrics"]
    assert logged["eval/FD_random"] == pytest.approx(alone["FD_random"], rel=1e-4)
    assert logged["eval/coverage"] == pytest.approx(alone["coverage"], abs=1e-9)


def test_a_two_process_checkpoint_resumes_in_one_process_and_in_two(two_rank_run: Path, tmp_path: Path) -> None:
    one = interrupted_at_step_5(two_rank_run, tmp_path / "one")
    two = interrupted_at_step_5(two_rank_run, tmp_path / "two")
    alone = train(None, {}, one, resume=True, progress=False)                     # this process: world 1
    err = ok(torchrun("train", "--out", two, "--resume"))
    assert err.count("resuming") == 1 and err.count("on 2 processes") == 1
    first = [json.loads(r) for r in (two_rank_run / "metrics.jsonl").read_text().splitlines()]
    for run in (one, two):
        c = ckpt.load(run)
        assert c.step == 8 and c.meta["progress"]["nimg"] == 128
        assert steps_logged(run) == list(range(1, 9))                  # the loss curve continues, no seam
        rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
        assert [r for r in rows if r["step"] <= 5] == [r for r in first if r["step"] <= 5]
    assert alone.step == 8 and "distributed" not in ckpt.load(one).meta
    # two processes, interrupted at step 5 and resumed, end bit for bit where the uninterrupted run ended
    a, b = ckpt.load(two_rank_run), ckpt.load(two)
    assert_ranks_identical(b, 2)
    assert not [f"{n}/{k}" for n in a.nets for k in a.nets[n] if not torch.equal(a.nets[n][k], b.nets[n][k])]
    assert a.optim.keys() == b.optim.keys() and all(torch.equal(a.optim[k], b.optim[k]) for k in a.optim)
    assert a.meta["rng"] == b.meta["rng"] and a.meta["ranks"] == b.meta["ranks"]


def two_nodes(tmp_path: Path, *args: str) -> list[str]:
    """`ganvas ARGS` on two "machines" of one process each, joined by torchrun's multi-node rendezvous
    (--nnodes, --node_rank, --master_addr/--master_port), each in its own working directory."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    procs = []
    for node in (0, 1):
        cwd = tmp_path / f"node{node}"
        cwd.mkdir(exist_ok=True)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node_rank={node}",
               "--nproc_per_node=1", "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "ganvas", *args]
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    errs = [p.communicate(timeout=240)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(errs)
    return errs


def test_the_music_model_trains_on_two_machines_and_resumes_in_two_and_in_one(chorales_built, tmp_path: Path) -> None:
    """Node 1 cannot see node 0's run folder (a relative --out in another directory), as on machines
    without a shared file system: rank 0 sends it the checkpoint to resume."""
    args = ["train", "--preset", "chorales-musegan-hybrid", "--batch-size", "8", "--kimg", "0.096",
            "--set", "n_critic=2", "--set", "model_args.g_width=16", "--set", "model_args.d_width=8",
            "--set", "model_args.z_dim=8", "--set", "model_args.temporal_width=16", "--set", "log_every=1",
            "--set", "sample_count=4", "--out", "music"]
    two_nodes(tmp_path, *args)
    run = tmp_path / "node0" / "music"
    assert not (tmp_path / "node1" / "music").exists()                   # only rank 0 writes
    c = ckpt.load(run)
    assert c.step == 6 and c.meta["config"]["loss"] == "wgan-gp"        # 0.096 kimg / (8 × 2 critic steps)
    assert_ranks_identical(c, 2)
    one = tmp_path / "one"
    shutil.copytree(run, one)
    errs = two_nodes(tmp_path, "train", "--out", "music", "--resume", "--kimg", "0.128")
    assert "resuming music at step 6" in errs[0] and not ganvas_lines(errs[1])       # rank 1 keeps quiet
    assert ckpt.load(run).step == 8 and steps_logged(run) == list(range(1, 9))
    assert_ranks_identical(ckpt.load(run), 2)
    train(None, {"kimg": 0.128}, one, resume=True, progress=False)
    assert ckpt.load(one).step == 8 and steps_logged(one) == list(range(1, 9))


RANK0_ONLY = ("resuming ", "training ", "done: ", "warning: ", "error: ", "  checkpoint:")   # what ganvas says


def ganvas_lines(stderr: str) -> list[str]:
    """Lines of a torchrun node's stderr that ganvas printed. Not all of it: a node's agent may print
    torchrun's own c10d store warnings (and their traceback) when the other node's agent, which hosts
    the rendezvous store, exits first, a teardown race of torchrun's multi-node mode under load."""
    return [ln for ln in stderr.splitlines() if ln.startswith(RANK0_ONLY)]


def one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """The error is printed once (by rank 0) on one line, with no traceback of ganvas's; torchrun's
    own report of the failed workers follows it."""
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr
    assert all(n in lines[0] for n in needles), lines[0]
    assert f'File "{REPO / "ganvas"}' not in proc.stderr and "[rank" not in proc.stderr, proc.stderr


def test_bad_input_under_torchrun_is_one_line_printed_once(two_rank_run: Path, emoji_built) -> None:
    one_error_line(torchrun("train", *DCGAN, "--device", "cuda", "--kimg", "0.1", console_script=True),
                   "--device cuda was asked, but torch sees no CUDA device")
    one_error_line(torchrun("train", *DCGAN[:-2], "--batch-size", "15", "--kimg", "0.1"),
                   "'batch_size' = 15 is the global batch", "over the 2 processes")
    one_error_line(torchrun("train", "--out", two_rank_run, "--resume", "--set", "model_args.ngf=16"),
                   "was trained with model_args.ngf=8; it cannot resume with model_args.ngf=16")


# --- GPU paths, run on the CPU ----------------------------------------------------------------------------


def toy_trainer(tmp_path: Path, **overrides) -> Trainer:
    values = {"model": "toy-mlp", "data": "gaussian", "channels_last": False, "batch_size": 32,
              "sample_every": 10**6, "checkpoint_every": 10**6, **overrides}
    cfg = TrainConfig().with_overrides(values).validate()
    dataset = toy.gaussian_dataset()
    model = build_model(cfg, dataset, torch.device("cpu"))
    return Trainer(cfg, model, dataset, tmp_path, torch.device("cpu"), progress_bar=False)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_its_loss_scale_survives_a_resume(precision: str, tmp_path: Path) -> None:
    t = toy_trainer(tmp_path, precision=precision, r1_gamma=1.0, r1_every=2, kimg=0.128)
    seen = []
    original = t.objective.d_loss

    def spy(batch):
        loss, stats = original(batch)
        seen.append(stats["D/fake"].dtype if "D/fake" in stats else None)
        return loss, stats

    t.objective.d_loss = spy
    t.run()
    low = torch.bfloat16 if precision == "bf16" else torch.float16
    assert seen == [torch.float32, low] * 2     # D under autocast, but in float32 on R1 steps (0, 2): exact
    assert all(p.dtype == torch.float32 for p in t.model.parameters())   # weights stay float32
    c = ckpt.load(tmp_path)
    assert all(torch.isfinite(v).all() for sd in c.nets.values() for v in sd.values())
    if precision == "fp16":
        saved = c.meta["precision"]["scalers"]
        assert set(saved) == {"D", "G"}
        resumed = toy_trainer(tmp_path / "again", precision=precision)
        resumed.restore(c)
        assert resumed.precision.scalers["D"].get_scale() == saved["D"]["scale"]
    else:
        assert c.meta["precision"] == {"precision": "bf16", "scalers": {}}
    assert toy_trainer(tmp_path / "auto", precision="auto").precision.name == "fp32"   # auto: off on a CPU


def test_compiled_networks_train_like_eager_ones_and_keep_their_checkpoint_keys(tmp_path: Path, monkeypatch) -> None:
    """Graph capture and AOT autograd as in a real compile; the aot_eager backend skips inductor's C++
    code generation, which takes tens of seconds on a CPU (bench/scaling.py compiles for real)."""
    from torch._dynamo.utils import counters

    monkeypatch.setattr(accel, "COMPILE_BACKEND", "aot_eager")
    graphs = counters["stats"]["unique_graphs"]
    eager = toy_trainer(tmp_path / "eager", r1_gamma=1.0, r1_every=2)
    compiled = toy_trainer(tmp_path / "compiled", r1_gamma=1.0, r1_every=2, compile=True)
    for _ in range(4):                       # steps 0 and 2 differentiate D twice: those passes run eagerly
        eager.train_step()
        compiled.train_step()
    for a, b in zip(eager.model.parameters(), compiled.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-4)
    assert counters["stats"]["unique_graphs"] >= graphs + 2          # G and D really were compiled
    assert compiled.model.G.state_dict().keys() == eager.model.G.state_dict().keys()


def test_stylegan_with_every_regulariser_trains_in_bfloat16(tmp_path: Path, emoji_built) -> None:
    """Mixing, ADA, lazy R1 and path length under autocast (the tracked average of w stays float32)."""
    from ganvas.app.training import prepare

    p = prepare(None, {"model": "stylegan", "data": "emoji", "resolution": 32, "batch_size": 4, "precision": "bf16",
                       "model_args.channel_base": 256, "model_args.channel_max": 16, "model_args.pl_weight": 2.0,
                       "model_args.pl_every": 2, "r1_gamma": 1.0, "r1_every": 2, "augment": "ada",
                       "augment_p": 0.3, "sample_count": 4}, tmp_path, progress=False)
    stats = [p.trainer.train_step() for _ in range(3)]
    assert all(torch.isfinite(v).all() for s in stats for v in s.values())
    assert "G/pl_penalty" in stats[0] and "D/r1" in stats[0]
    assert p.trainer.model.G.mapping.w_avg.dtype == torch.float32 and p.trainer.model.G.mapping.w_avg.abs().sum() > 0


def test_the_verse_model_trains_by_likelihood_on_two_processes(tang_poems_built, tmp_path: Path) -> None:
    """The likelihood path (G steps without D steps) under torchrun: ranks agree on the weights and on the
    held-out NLL the early-stopping hook logs, and the run resumes in one process."""
    run = tmp_path / "poems"
    args = ["train", "--preset", "tang-poems-ctrl", "--kimg", "0.32", "--minutes", "0", "--eval-every", "5",
            "--set", "model_args.hidden=32", "--set", "model_args.embed=16", "--set", "model_args.layers=1",
            "--set", "sample_every=100", "--set", "checkpoint_every=5", "--out", run]
    ok(torchrun(*args))
    c = ckpt.load(run)
    assert c.step == 10 and c.meta["progress"]["nimg"] == 320
    assert_ranks_identical(c, 2)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/nll" in r] == [5, 10] and not any("loss/D" in r for r in rows)
    from ganvas.app.training import train

    assert train(None, {"kimg": 0.48}, out=run, resume=True, progress=False).step == 15
