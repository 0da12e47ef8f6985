"""Image quality per CPU minute: a reference DCGAN, ganvas's DCGAN preset, and StyleGAN with augmentation.

For one wall-clock budget (default 10 minutes each), the same data and the same seed, this trains
  (a) the reference: pytorch/examples' dcgan/main.py design and loop (ganvas's `dcgan` nets with the
      example's Sigmoid + BCELoss head, Adam 2e-4 / β1 0.5, a DataLoader with 2 workers decoding
      PNG files every epoch), as bench/train_throughput.py does, sized like the ganvas preset;
  (b) ganvas's DCGAN preset for the data and size (default emoji-dcgan-32);
  (c) ganvas's StyleGAN preset for the data and size (default emoji-stylegan-32, with ADA),
one after the other, each in a fresh process; then it scores every generator with ganvas's
evaluation module (`make_scorer` below: the Fréchet distance in the domain feature space,
FD_domain, which is not FID; every metric goes to bench-scores.json in each run folder) and prints
the figures side by side with ratios to (a), and training images/s.
The goal of issue 4: (c) reaches at most half of (a)'s distance.

    .venv/bin/python bench/quality_per_minute.py                          # 3 × 10 minutes, then scores
    .venv/bin/python bench/quality_per_minute.py --docs docs              # also the grids and table in docs/
    .venv/bin/python bench/quality_per_minute.py --minutes 0.1 --no-score   # check the training side
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID_SEEDS = 64          # every grid shows seeds seed … seed+63
Generate = Callable[[int, int], "object"]   # (n, seed) → n images as a float tensor in [-1, 1], NCHW


# --- scoring: the one place that talks to the evaluation module ------------------------------------


NO_EVAL = ("error: scoring needs ganvas.eval (issue 3, the evaluation module), which this checkout lacks; "
           "run with --no-score to train and time only")


def make_scorer(data: str, resolution: int, n: int | None, seed: int) -> Callable[[Generate], dict[str, float]]:
    """A function giving the metrics of a generator's images against the training set, from ganvas.eval.

    The real side (dataset features in the domain feature space, the seeded choice of reference
    reals) is prepared once and shared by the three contenders, so their figures compare like with
    like. The domain extractor is ganvas's own, not Inception: its distance is FD_domain, never FID.
    """
    try:
        from ganvas.eval.evaluate import Reference
    except ImportError:
        raise SystemExit(NO_EVAL) from None
    from ganvas.data.dataset import load_dataset
    from ganvas.domains import get_domain

    ref = Reference.build(load_dataset(data, resolution), "domain", n, seed=seed)
    to_array = get_domain("image").to_array

    def score(generate: Generate) -> dict[str, float]:
        values, _, _ = ref.evaluate(to_array(generate(ref.n, seed)))
        return values

    return score


# --- (a) the reference loop ---------------------------------------------------------------------


def train_reference(res: int, nf: int, minutes: float, seed: int, png_dir: Path, out: Path) -> None:
    """pytorch/examples dcgan/main.py's loop for `minutes`; saves G's weights and what it did."""
    from reference_dcgan import ReferenceDCGAN
    from safetensors.torch import save_file

    ref = ReferenceDCGAN(res, nf, seed)
    netG = ref.netG
    loader = ref.loader(png_dir, 64, seed)
    images, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < minutes * 60:
        for real, _ in loader:
            if time.perf_counter() - t0 >= minutes * 60:
                break
            b = real.size(0)
            ref.step(real)
            images += b
    seconds = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in netG.state_dict().items()}, str(out / "generator.safetensors"))
    (out / "result.json").write_text(json.dumps({"images": images, "seconds": seconds, "nf": nf, "res": res}))


def reference_generator(out: Path) -> Generate:
    """Samples of the reference G as the example shows them: BatchNorm in training mode, batches of 64."""
    import torch
    from safetensors.torch import load_file

    from ganvas.nets.dcgan import Generator

    info = json.loads((out / "result.json").read_text())
    netG = Generator(100, info["nf"], info["res"])
    netG.load_state_dict(load_file(str(out / "generator.safetensors")))

    @torch.no_grad()
    def generate(n: int, seed: int) -> torch.Tensor:
        z = torch.cat([torch.randn(1, 100, generator=torch.Generator().manual_seed(s)) for s in range(seed, seed + n)])
        return torch.cat([netG(z[i:i + 64]) for i in range(0, n, 64)])

    return generate


def ganvas_generator(run: Path) -> Generate:
    import torch

    import ganvas

    G = ganvas.load(run)

    def generate(n: int, seed: int) -> torch.Tensor:
        return torch.cat([G.sample(min(256, n - i), seed=seed + i) for i in range(0, n, 256)])

    return generate


# --- the runs -------------------------------------------------------------------------------------


def dcgan_width(preset: str) -> int:
    from ganvas.config import load_preset

    return int(load_preset(preset).get("model_args", {}).get("ngf", 64))


def run_ganvas(preset: str, minutes: float, seed: int, out: Path) -> dict:
    cmd = [sys.executable, "-m", "ganvas", "train", "--preset", preset, "--minutes", str(minutes), "--seed", str(seed),
           "--out", str(out), "--set", "kimg=0"]
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.log", "w") as log:       # the run's own progress lines
        subprocess.run(cmd, check=True, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    from ganvas.train import checkpoint as ckpt

    progress = ckpt.load(out, with_optim=False).meta["progress"]
    return {"images": progress["nimg"], "seconds": progress["elapsed_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="training budget of each contender")
    ap.add_argument("--data", default="emoji", help="built-in dataset (the same for all three)")
    ap.add_argument("--resolution", type=int, default=32, choices=(32, 64))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dcgan-preset", help="default: <data>-dcgan-<resolution>")
    ap.add_argument("--stylegan-preset", help="default: <data>-stylegan-<resolution>")
    ap.add_argument("--n-eval", type=int, help="generated images scored per contender (default: as ganvas.eval, "
                    "up to 5000)")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "quality-per-minute", help="run folders go here")
    ap.add_argument("--docs", type=Path, help="also write the three grids and the table (markdown) here")
    ap.add_argument("--no-score", action="store_true", help="train and time only")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--png-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--nf", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        train_reference(args.resolution, args.nf, args.minutes, args.seed, args.png_dir, args.out)
        return

    from ganvas.config import load_preset

    dcgan = args.dcgan_preset or f"{args.data}-dcgan-{args.resolution}"
    stylegan = args.stylegan_preset or f"{args.data}-stylegan-{args.resolution}"
    for preset in (dcgan, stylegan):
        values = load_preset(preset)
        if values.get("data") != args.data or values.get("resolution") != args.resolution:
            raise SystemExit(f"error: preset {preset} trains on {values.get('data')} at {values.get('resolution')} px, "
                             f"not {args.data} at {args.resolution} px; pass a matching --dcgan/--stylegan-preset")
    scorer = None if args.no_score else make_scorer(args.data, args.resolution, args.n_eval, args.seed)
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"error: {args.out} is not empty; choose another --out")
    nf = dcgan_width(dcgan)
    import torch

    print(f"# {args.minutes:g} CPU minutes each on {args.data} at {args.resolution} px, seed {args.seed}, "
          f"torch {torch.__version__}, {os.cpu_count()} CPU cores", flush=True)
    runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from ganvas.data.dataset import load_dataset

        png_dir = Path(tmp) / args.data
        png_dir.mkdir()
        from PIL import Image

        for i, img in enumerate(load_dataset(args.data, 128).arrays["x"]):    # files, as the example reads
            Image.fromarray(img).save(png_dir / f"{i:05d}.png")
        ref_out = args.out / "a-reference-dcgan"
        subprocess.run([sys.executable, __file__, "--worker", "--resolution", str(args.resolution), "--nf", str(nf),
                        "--minutes", str(args.minutes), "--seed", str(args.seed), "--png-dir", str(png_dir),
                        "--out", str(ref_out)], check=True, cwd=REPO)
    runs["a"] = {"name": f"(a) reference DCGAN (pytorch/examples, nf {nf})", "dir": ref_out,
                 **json.loads((ref_out / "result.json").read_text())}
    print(f"trained {runs['a']['name']}", flush=True)
    for key, preset in (("b", dcgan), ("c", stylegan)):
        out = args.out / f"{key}-{preset}"
        runs[key] = {"name": f"({key}) ganvas {preset}", "dir": out, **run_ganvas(preset, args.minutes, args.seed, out)}
        print(f"trained {runs[key]['name']}", flush=True)

    from ganvas.domains import get_domain
    from ganvas.files import save_image

    domain = get_domain("image")
    for key, r in runs.items():
        generate = reference_generator(r["dir"]) if key == "a" else ganvas_generator(r["dir"])
        r["grid"] = r["dir"] / "bench-grid.png"
        save_image(r["grid"], domain.preview(generate(GRID_SEEDS, args.seed)))
        if scorer is not None:
            r["scores"] = scorer(generate)
            (r["dir"] / "bench-scores.json").write_text(json.dumps(r["scores"], indent=2, default=float) + "\n")
    table = report(runs, args)
    print(table)
    if args.docs:
        args.docs.mkdir(parents=True, exist_ok=True)
        for key, r in runs.items():
            shutil.copyfile(r["grid"], args.docs / f"quality-per-minute-{args.data}-{args.resolution}-{key}.png")
        (args.docs / f"quality-per-minute-{args.data}-{args.resolution}.md").write_text(table + "\n")
        print(f"wrote the grids and the table to {args.docs}")


def report(runs: dict[str, dict], args: argparse.Namespace) -> str:
    metrics = sorted({m for r in runs.values() for m in r.get("scores", {})
                      if m.startswith(("FD", "KD")) and "std" not in m})      # distances: lower is better
    head = ["contender", "kimg", "images/s", *metrics, *(f"{m} / (a)" for m in metrics)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs.values():
        rate = r["images"] / max(r["seconds"], 1e-9)
        cells = [r["name"], f"{r['images'] / 1000:.1f}", f"{rate:.1f}"]
        cells += [f"{r['scores'][m]:.4g}" for m in metrics]
        cells += [f"{r['scores'][m] / runs['a']['scores'][m]:.2f}×" for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    cmd = "bench/quality_per_minute.py " + " ".join(sys.argv[1:])
    lines.append(f"\n*{args.minutes:g} CPU minutes each, {args.data} at {args.resolution} px, seed {args.seed}; "
                 f"`{cmd.strip()}`; lower distances are better.*")
    if "FD_domain" in metrics:
        ratio = runs["c"]["scores"]["FD_domain"] / runs["a"]["scores"]["FD_domain"]
        lines.append(f"\nGoal (c) ≤ 0.5 × (a) in FD_domain: {'met' if ratio <= 0.5 else 'not met'} ({ratio:.2f}×).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
