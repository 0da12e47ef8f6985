"""Training throughput as processes, threads and GPUs are added, and with mixed precision and compile.

CPU rows: the same `ganvas train` run (DCGAN, 32×32, batch 64 by default) as 1 process × 1 thread,
1 process × 2 threads and, under torchrun, 2 processes × 1 thread (gloo), each in fresh processes,
alternated round by round so drift on the machine hits every variant alike. The figure is the
median of the logged training rate (images/s over the log windows after the first 20% of the run;
sample grids and checkpoints excluded) and the ratio to 1 process × 2 threads.

GPU rows (only when torch sees a CUDA device, or forced with --device): images/s of a training step
(D step and G step, lazy regularisers included in proportion) for dcgan at 64×64 and stylegan at
64×64 and 256×256, each in fp32 and with `precision = auto` (bf16, or fp16 with loss scaling), with
and without `compile`, with the peak GPU memory allocated. StyleGAN runs with GPU-sized widths
(channel_base 16384, channel_max 512, 8 mapping layers, 512-wide z and w, R1 every 16 steps, path
length every 4, ADA), as StyleGAN2-ADA's configurations; 256×256 trains on a folder of the emoji set
upscaled to 256 px (the built-in sets are stored at 128 px; throughput does not depend on content).
With several GPUs, dcgan 64×64 is also run under torchrun on all of them, 64 images per GPU.

    .venv/bin/python bench/scaling.py                      # the full run (minutes): CPU rows, GPU rows if any
    .venv/bin/python bench/scaling.py --quick              # seconds: checks that every path runs
    .venv/bin/python bench/scaling.py --skip-cpu --device cuda     # GPU rows only
    python3 bench/scaling.py --skip-cpu --folder DIR     # GPU rows on a bare GPU machine (images from DIR)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPU_RUN = ["--preset", "emoji-dcgan-32", "--set", "sample_every=100000", "--set", "checkpoint_every=100000",
           "--set", "log_every=5"]
CPU_VARIANTS = {"1 process x 1 thread": (1, 1), "1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1)}
STYLEGAN_GPU = {"model_args.channel_base": 16384, "model_args.channel_max": 512, "model_args.mapping_layers": 8,
                "model_args.z_dim": 512, "model_args.w_dim": 512, "model_args.pl_weight": 2.0,
                "model_args.pl_every": 4, "r1_gamma": 1.0, "r1_every": 16, "augment": "ada",
                "lr_g": 0.0025, "lr_d": 0.0025, "betas_g": [0.0, 0.99], "betas_d": [0.0, 0.99]}
GPU_CONFIGS = {
    "dcgan 64": {"model": "dcgan", "data": "emoji", "resolution": 64, "batch_size": 64},
    "stylegan 64": {"model": "stylegan", "data": "emoji", "resolution": 64, "batch_size": 32, **STYLEGAN_GPU},
    "stylegan 256": {"model": "stylegan", "data": "@upscaled", "resolution": 256, "batch_size": 32, **STYLEGAN_GPU},
}
QUICK_GPU = {"dcgan 64": {"model_args.ngf": 8, "model_args.ndf": 8, "batch_size": 8},
             "stylegan 64": {"model_args.channel_base": 512, "model_args.channel_max": 32, "batch_size": 4},
             "stylegan 256": {"model_args.channel_base": 512, "model_args.channel_max": 16, "batch_size": 4}}


# --- CPU: processes against threads ----------------------------------------------------------------


def cpu_run(procs: int, threads: int, kimg: float, out: Path) -> float:
    """Median logged images/s of one `ganvas train` run with `procs` processes of `threads` threads."""
    args = ["train", *CPU_RUN, "--kimg", str(kimg), "--threads", str(threads), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    launcher = [sys.executable, "-m", "ganvas"] if procs == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", "-m", "ganvas"]
    done = subprocess.run([*launcher, *args], capture_output=True, text=True, cwd=REPO, env=env)
    if done.returncode:
        raise SystemExit(f"ganvas train failed ({procs} x {threads}):\n{done.stderr[-2000:]}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["images_per_s"] for r in rows if "images_per_s" in r]
    return statistics.median(rates[len(rates) // 5:] or rates)


def cpu_rows(rounds: int, kimg: float) -> None:
    import torch

    print(f"# CPU: DCGAN 32x32 (preset emoji-dcgan-32), {kimg} kimg per run, {rounds} rounds, "
          f"{os.cpu_count()} cores, torch {torch.__version__}")
    results: dict[str, list[float]] = {k: [] for k in CPU_VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, (procs, threads) in CPU_VARIANTS.items():
                results[name].append(cpu_run(procs, threads, kimg, Path(tmp) / f"{r}-{procs}x{threads}"))
    base = statistics.median(results["1 process x 2 threads"])
    print(f"{'variant':<26} {'img/s':>8} {'vs 1x2':>7}   runs")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:<26} {med:8.1f} {med / base:6.2f}x   {' '.join(f'{v:.1f}' for v in values)}")


# --- GPU: precision, compile, memory -----------------------------------------------------------------


def upscaled_folder(root: Path, count: int) -> Path:
    """`count` emoji at 256 px (Lanczos from the stored 128 px) as PNG files."""
    from PIL import Image

    from ganvas.data.dataset import load_dataset

    folder = root / "emoji-256"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for i, img in enumerate(load_dataset("emoji", 128).arrays["x"][:count]):
            Image.fromarray(img).resize((256, 256), Image.Resampling.LANCZOS).save(folder / f"{i:05d}.png")
    return folder


def gpu_worker(overrides: dict, steps: int, warmup: int) -> dict:
    """Images/s and peak memory of `steps` training steps after `warmup` (compilation happens there)."""
    import torch

    from ganvas.app.training import prepare

    with tempfile.TemporaryDirectory() as tmp:
        trainer = prepare(None, overrides, Path(tmp) / "run", progress=False).trainer
        cuda = trainer.device.type == "cuda"
        for _ in range(warmup):
            trainer.train_step()
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        trainer.check_finite()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        images = steps * trainer.cfg.batch_size * trainer.cfg.n_critic
        return {"img_s": images / seconds, "precision": trainer.precision.name,
                "mem_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None}


def gpu_rows(device: str, quick: bool, names: list[str], multi_gpu: bool, compile_modes: list[bool],
             folder: Path | None, steps: int, warmup: int, extra: dict) -> None:
    """One row per config × precision × compile; every eager row comes before the first compiled one."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    print(f"\n# {device}: {gpu}, torch {torch.__version__}" + (" (quick: tiny networks)" if quick else "")
          + (f", images from {folder}" if folder else ""))
    if quick:
        steps, warmup = 4, 2
    print(f"{'config':<14} {'precision':<10} {'compile':<8} {'img/s':>9} {'vs fp32':>8} {'peak GiB':>9}", flush=True)
    base: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for compiled in compile_modes:
            for name in names:
                for precision in ("fp32", "auto"):
                    cfg = {**GPU_CONFIGS[name], **(QUICK_GPU[name] if quick else {}), "device": device,
                           "precision": precision, "compile": compiled, "sample_every": 10**6,
                           "checkpoint_every": 10**6, "kimg": 10**4, **extra}
                    if folder is not None:
                        cfg["data"] = str(folder)
                    elif cfg["data"] == "@upscaled":
                        cfg["data"] = str(upscaled_folder(Path(tmp), 64 if quick else 2048))
                    cmd = [sys.executable, __file__, "--worker", json.dumps(cfg), "--steps", str(steps),
                           "--warmup", str(warmup)]
                    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
                    if done.returncode:
                        print(f"{name:<14} {precision:<10} {compiled!s:<8} failed: {done.stderr.strip()[-300:]}")
                        continue
                    r = json.loads(done.stdout.strip().splitlines()[-1])
                    base.setdefault(name, r["img_s"])
                    mem = f"{r['mem_gib']:.2f}" if r["mem_gib"] is not None else "n/a"
                    print(f"{name:<14} {r['precision']:<10} {compiled!s:<8} {r['img_s']:9.1f} "
                          f"{r['img_s'] / base[name]:7.2f}x {mem:>9}", flush=True)
    if multi_gpu:
        n = torch.cuda.device_count()
        with tempfile.TemporaryDirectory() as tmp:
            rates = {}
            for procs in (1, n):
                out = Path(tmp) / f"gpus-{procs}"
                args = ["train", "--model", "dcgan", "--data", "emoji", "--resolution", "64", "--device", "cuda",
                        "--batch-size", str(64 * procs), "--kimg", str(20 * procs), "--set", "log_every=10",
                        "--set", "sample_every=100000", "--set", "checkpoint_every=100000", "--out", str(out)]
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
                       "-m", "ganvas", *args]
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
                if done.returncode:
                    print(f"torchrun on {procs} GPUs failed: {done.stderr.strip()[-300:]}")
                    return
                rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
                rates[procs] = statistics.median([r["images_per_s"] for r in rows][len(rows) // 5:])
            print(f"\n# dcgan 64x64 under torchrun, 64 images per GPU: 1 GPU {rates[1]:.0f} img/s, {n} GPUs "
                  f"{rates[n]:.0f} img/s ({rates[n] / rates[1]:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="CPU: runs per variant (alternated)")
    ap.add_argument("--kimg", type=float, default=12.0, help="CPU: thousands of images per run")
    ap.add_argument("--quick", action="store_true", help="tiny runs: check that every path works, in seconds")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--device", choices=["cuda", "cpu"], help="GPU rows on this device (default: cuda if any)")
    ap.add_argument("--configs", nargs="+", default=list(GPU_CONFIGS), choices=list(GPU_CONFIGS))
    ap.add_argument("--compile", choices=["both", "off", "on"], default="both",
                    help="GPU: which compile settings to run (both: eager rows first)")
    ap.add_argument("--folder", type=Path,
                    help="GPU: train on this image folder instead of the built-in emoji set (a bare GPU machine)")
    ap.add_argument("--steps", type=int, default=64, help="GPU: timed steps (64: lazy regularisers in proportion)")
    ap.add_argument("--warmup", type=int, default=40, help="GPU: untimed steps first (compilation happens there)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="GPU: a config override for every row, as `ganvas train --set`")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(gpu_worker(json.loads(args.worker), args.steps, args.warmup)))
        return
    import torch

    from ganvas.config import parse_assignment

    if not args.skip_cpu:
        cpu_rows(1 if args.quick else args.rounds, 0.256 if args.quick else args.kimg)
    device = args.device or ("cuda" if torch.cuda.is_available() else None)
    if device is None:
        print("\n# GPU rows skipped: torch sees no CUDA device on this machine")
        return
    modes = {"both": [False, True], "off": [False], "on": [True]}[args.compile]
    gpu_rows(device, args.quick, args.configs, device == "cuda" and torch.cuda.device_count() > 1 and not args.quick,
             modes, args.folder, args.steps, args.warmup, dict(map(parse_assignment, args.set)))


if __name__ == "__main__":
    main()
