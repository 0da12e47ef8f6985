"""Training throughput of ganvas's DCGAN against a reference loop written like pytorch/examples.

The reference is dcgan/main.py of pytorch/examples, the same architecture (ganvas's `dcgan` nets,
with the example's Sigmoid + BCELoss head), fed by a DataLoader (2 workers, as the example) that
decodes and resizes PNG files every epoch; no channels-last, no compile, default thread settings.
ganvas is its own training loop as shipped (cached uint8 arrays, channels-last, D frozen during
G's step, OMP_WAIT_POLICY=PASSIVE).

Each measurement runs in a fresh process (OpenMP settings are per process); the two are alternated
round by round so drift on the machine hits both, and the median per side is reported.

    .venv/bin/python bench/train_throughput.py            # both sizes, 2 rounds
    .venv/bin/python bench/train_throughput.py --rounds 3 --sizes 32
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
SIZES = {64: {"nf": 64, "iters": 8, "warmup": 2}, 32: {"nf": 32, "iters": 120, "warmup": 10}}
BATCH = 64


def export_pngs(folder: Path) -> None:
    """The emoji set as PNG files (the reference reads files, as torchvision's ImageFolder would)."""
    from PIL import Image

    from ganvas.data.dataset import load_dataset

    images = load_dataset("emoji", 128).arrays["x"]
    sub = folder / "emoji"
    sub.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(sub / f"{i:05d}.png")


def run_reference(res: int, nf: int, iters: int, warmup: int, png_dir: Path) -> float:
    from reference_dcgan import ReferenceDCGAN

    ref = ReferenceDCGAN(res, nf, seed=0, weights_init=False)
    loader = ref.loader(png_dir, BATCH)
    done, t0 = 0, None
    while True:
        for real, _ in loader:                                   # the example's loop, verbatim in spirit
            if done == warmup:
                t0 = time.perf_counter()
            if done == warmup + iters:
                return iters * BATCH / (time.perf_counter() - t0)
            ref.step(real)
            done += 1


def run_ganvas(res: int, nf: int, iters: int, warmup: int, extra: dict) -> float:
    from ganvas.app.training import prepare

    overrides = {"model": "dcgan", "data": "emoji", "resolution": res, "batch_size": BATCH,
                 "model_args.ngf": nf, "model_args.ndf": nf, **extra}
    with tempfile.TemporaryDirectory() as tmp:
        p = prepare(None, overrides, Path(tmp) / "run", progress=False)
        trainer = p.trainer
        for _ in range(warmup):
            trainer.train_step()
        t0 = time.perf_counter()
        for _ in range(iters):
            trainer.train_step()
        return iters * BATCH / (time.perf_counter() - t0)


def measure(side: str, res: int, png_dir: Path, extra: dict | None = None, env: dict | None = None) -> float:
    spec = SIZES[res]
    cmd = [sys.executable, __file__, "--worker", side, "--res", str(res), "--png-dir", str(png_dir),
           "--extra", json.dumps(extra or {})]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO,
                         env={**os.environ, **(env or {})})
    del spec
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 32], choices=sorted(SIZES))
    ap.add_argument("--ablation", action="store_true", help="also measure ganvas without each of its choices")
    ap.add_argument("--worker", choices=["ref", "ganvas"])
    ap.add_argument("--res", type=int)
    ap.add_argument("--png-dir", type=Path)
    ap.add_argument("--extra", default="{}")
    args = ap.parse_args()
    if args.worker:
        spec = SIZES[args.res]
        if args.worker == "ref":
            rate = run_reference(args.res, spec["nf"], spec["iters"], spec["warmup"], args.png_dir)
        else:
            rate = run_ganvas(args.res, spec["nf"], spec["iters"], spec["warmup"], json.loads(args.extra))
        print(rate)
        return

    import torch

    print(f"# training images/s, batch {BATCH}, torch {torch.__version__}, {os.cpu_count()} CPU cores")
    with tempfile.TemporaryDirectory() as tmp:
        png_dir = Path(tmp)
        export_pngs(png_dir)
        variants = {"ganvas": ({}, {"OMP_WAIT_POLICY": "PASSIVE"})}
        if args.ablation:
            variants.update({
                "ganvas, no channels-last": ({"channels_last": False}, {"OMP_WAIT_POLICY": "PASSIVE"}),
                "ganvas, OMP spin (ACTIVE)": ({}, {"OMP_WAIT_POLICY": "ACTIVE"}),
            })
        rows = []
        for res in args.sizes:
            results: dict[str, list[float]] = {"reference": [], **{k: [] for k in variants}}
            for _ in range(args.rounds):
                results["reference"].append(measure("ref", res, png_dir))
                for name, (extra, env) in variants.items():
                    results[name].append(measure("ganvas", res, png_dir, extra, env))
            ref = statistics.median(results["reference"])
            for name, values in results.items():
                med = statistics.median(values)
                rows.append((f"{res}x{res} nf{SIZES[res]['nf']}", name, med, med / ref,
                             " ".join(f"{v:.1f}" for v in values)))
    print(f"{'size':<12} {'loop':<28} {'img/s':>8} {'vs ref':>7}   runs")
    for size, name, med, ratio, runs in rows:
        print(f"{size:<12} {name:<28} {med:8.1f} {ratio:6.2f}x   {runs}")


if __name__ == "__main__":
    main()
