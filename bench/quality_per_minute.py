"""Image quality per CPU minute: a reference DCGAN, ganvas's DCGAN preset and a newer recipe, side by side.

For each wall-clock budget (default 10 minutes; `--minutes 10 60` for two), the same data and seed,
this trains
  (a) the reference: pytorch/examples' dcgan/main.py design and loop (ganvas's `dcgan` nets with the
      example's Sigmoid + BCELoss head, Adam 2e-4 / β1 0.5, a DataLoader with 2 workers decoding
      PNG files every epoch), as bench/train_throughput.py does, sized like the ganvas preset;
  (b) ganvas's DCGAN preset for the data and size (default <data>-dcgan-<resolution>);
  (c) the recipe under test (default <data>-fastgan-<resolution>, else <data>-stylegan-<resolution>),
one after the other, each in a fresh process. With several budgets each contender trains once, to the
longest: its generator is set aside at every shorter budget (a ganvas run is stopped there, copied and
resumed with optimiser, EMA and augmentation state intact), so the 60-minute figures are the
10-minute runs continued. Then every generator is scored with ganvas's evaluation module against
the training set, by each extractor asked for (default both):
  - `domain`: ganvas's own image features; its distances are FD_domain / KD_domain, never FID;
  - `inception`: the standard FID network (fid-helper's InceptionV3 weights); FID and KID,
at n = min(training images, 5000) samples, with precision/recall, density/coverage and the
authenticity/memorization checks in each space. The table prints every figure with ratios to (a).
The goal of issue 13: (c)'s FD_domain and KID are each at most half of (a)'s after 10 minutes.

`--cpus N` pins the whole bench (training and scoring) to N CPUs with N threads, so "10 minutes on
one core" means 10 CPU minutes and other work on the other cores does not disturb the timing.

    .venv/bin/python bench/quality_per_minute.py --resolution 64 --docs docs       # 3 × 10 min, then scores
    .venv/bin/python bench/quality_per_minute.py --resolution 64 --minutes 10 60   # both budgets, one run
    .venv/bin/python bench/quality_per_minute.py --minutes 0.1 --no-score            # the training side
    .venv/bin/python bench/quality_per_minute.py --resolution 64 --score-runs runs/X  # score a variant alike
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

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GRID_SEEDS = 64          # every grid shows seeds seed … seed+63
Generate = Callable[[int, int], "object"]   # (n, seed) → n images as a float tensor in [-1, 1], NCHW
SHOWN = {                # per extractor: the figures in the table (lower distances better, higher rest)
    "domain": ("FD_domain", "KD_domain_mean", "precision", "recall", "density", "coverage", "authenticity",
               "memorized_fraction"),
    "inception": ("FID", "KID_mean", "precision", "recall", "density", "coverage", "authenticity",
                  "memorized_fraction"),
}
GOAL = {"domain": "FD_domain", "inception": "KID_mean"}     # issue 13: (c) ≤ 0.5 × (a) on each
NO_EVAL = ("error: scoring needs ganvas.eval (issue 3, the evaluation module), which this checkout lacks; "
           "run with --no-score to train and time only")


def budget_name(minutes: float) -> str:
    return f"{minutes:g}min"


# --- scoring: the one place that talks to the evaluation module ------------------------------------


def make_scorer(data: str, resolution: int, n: int | None, seed: int, extractor: str
                ) -> tuple[int, Callable[[np.ndarray], dict[str, float]]]:
    """(n, a function giving the metrics of n generated uint8 images against the training set).

    The real side (dataset features, the seeded choice of reference reals) is prepared once and
    shared by every contender and budget, so their figures compare like with like.
    """
    try:
        from ganvas.eval.evaluate import Reference
    except ImportError:
        raise SystemExit(NO_EVAL) from None
    from ganvas.data.dataset import load_dataset

    ref = Reference.build(load_dataset(data, resolution), extractor, n, seed=seed)

    def score(images: np.ndarray) -> dict[str, float]:
        values, _, _ = ref.evaluate(images)
        return {k: float(v) for k, v in values.items() if isinstance(v, int | float | np.floating)}

    return ref.n, score


# --- (a) the reference loop ---------------------------------------------------------------------


def train_reference(res: int, nf: int, budgets: list[float], seed: int, png_dir: Path, out: Path) -> None:
    """pytorch/examples dcgan/main.py's loop up to the longest budget; G's weights and what it had done
    are saved into out/<budget> as each budget passes."""
    from reference_dcgan import ReferenceDCGAN
    from safetensors.torch import save_file

    ref = ReferenceDCGAN(res, nf, seed)
    loader = ref.loader(png_dir, 64, seed)
    images, t0, pending = 0, time.perf_counter(), sorted(budgets)

    def elapsed() -> float:
        return time.perf_counter() - t0

    def save_passed() -> None:
        while pending and elapsed() >= pending[0] * 60:
            snap = out / budget_name(pending.pop(0))
            snap.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in ref.netG.state_dict().items()},
                      str(snap / "generator.safetensors"))
            (snap / "result.json").write_text(json.dumps({"images": images, "seconds": elapsed(), "nf": nf,
                                                          "res": res}))

    while pending:
        for real, _ in loader:
            save_passed()
            if not pending:
                break
            ref.step(real)
            images += real.size(0)


def reference_generator(snap: Path) -> Generate:
    """Samples of the reference G as the example shows them: BatchNorm in training mode, batches of 64."""
    import torch
    from safetensors.torch import load_file

    from ganvas.nets.dcgan import Generator

    info = json.loads((snap / "result.json").read_text())
    netG = Generator(100, info["nf"], info["res"])
    netG.load_state_dict(load_file(str(snap / "generator.safetensors")))

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


def run_ganvas(preset: str, budgets: list[float], seed: int, threads: int, out: Path) -> None:
    """Trains `preset` to each budget in turn (resuming the same run), copying it to out/<budget>."""
    from ganvas.train import checkpoint as ckpt

    run = out / "run"
    run.parent.mkdir(parents=True, exist_ok=True)
    for i, minutes in enumerate(sorted(budgets)):
        cmd = [sys.executable, "-m", "ganvas", "train", "--preset", preset, "--minutes", str(minutes),
               "--seed", str(seed), "--threads", str(threads), "--out", str(run), "--set", "kimg=0"]
        with open(out / "train.log", "a") as log:       # the run's own progress lines
            subprocess.run(cmd + (["--resume"] if i else []), check=True, cwd=REPO, stdout=log,
                           stderr=subprocess.STDOUT)
        snap = out / budget_name(minutes)
        shutil.copytree(run, snap)
        progress = ckpt.load(snap, with_optim=False).meta["progress"]
        (snap / "result.json").write_text(json.dumps({"images": progress["nimg"], "seconds": progress["elapsed_s"]}))


def pin(cpus: int | None) -> int:
    """Pins this process and its children to the first `cpus` CPUs it may use; returns the thread count."""
    allowed = sorted(os.sched_getaffinity(0))
    if cpus is None:
        return len(allowed)
    if not 1 <= cpus <= len(allowed):
        raise SystemExit(f"error: --cpus {cpus}: this process may use {len(allowed)} CPUs")
    os.sched_setaffinity(0, allowed[-cpus:])      # the last ones: interactive work tends to land on CPU 0
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(cpus)
    return cpus


def recipe_preset(data: str, resolution: int) -> str:
    from ganvas.config import load_preset

    for model in ("fastgan", "stylegan"):
        name = f"{data}-{model}-{resolution}"
        try:
            load_preset(name)
        except Exception:       # noqa: BLE001 - not there: try the next
            continue
        return name
    raise SystemExit(f"error: no {data}-fastgan-{resolution} or {data}-stylegan-{resolution} preset; "
                     "pass --recipe-preset")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0],
                    help="training budgets of each contender (the longer ones continue the shorter)")
    ap.add_argument("--data", default="emoji", help="built-in dataset (the same for all three)")
    ap.add_argument("--resolution", type=int, default=32, choices=(32, 64))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dcgan-preset", help="(b); default: <data>-dcgan-<resolution>")
    ap.add_argument("--recipe-preset", help="(c); default: <data>-fastgan-<resolution>, else the stylegan one")
    ap.add_argument("--features", nargs="+", default=["domain", "inception"], choices=tuple(SHOWN),
                    help="feature extractors to score with")
    ap.add_argument("--n-eval", type=int, help="generated images scored per generator (default: as ganvas.eval, "
                    "the training images up to 5000)")
    ap.add_argument("--cpus", type=int, help="pin the bench to this many CPUs, one thread each (default: all)")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "quality-per-minute", help="run folders go here")
    ap.add_argument("--docs", type=Path, help="also write the grids and the table (markdown) here")
    ap.add_argument("--no-score", action="store_true", help="train and time only")
    ap.add_argument("--score-runs", type=Path, nargs="+", metavar="RUN",
                    help="train nothing: score these ganvas run folders the same way (e.g. a variant of a preset)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--png-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--nf", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    budgets = sorted(set(args.minutes))
    threads = pin(args.cpus)
    import torch

    torch.set_num_threads(threads)
    if args.worker:
        train_reference(args.resolution, args.nf, budgets, args.seed, args.png_dir, args.out)
        return
    if args.score_runs:
        score_runs(args)
        return

    from ganvas.config import load_preset

    dcgan = args.dcgan_preset or f"{args.data}-dcgan-{args.resolution}"
    recipe = args.recipe_preset or recipe_preset(args.data, args.resolution)
    for preset in (dcgan, recipe):
        values = load_preset(preset)
        if values.get("data") != args.data or values.get("resolution") != args.resolution:
            raise SystemExit(f"error: preset {preset} trains on {values.get('data')} at {values.get('resolution')} px, "
                             f"not {args.data} at {args.resolution} px; pass a matching --dcgan/--recipe-preset")
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"error: {args.out} is not empty; choose another --out")
    nf = dcgan_width(dcgan)
    print(f"# {', '.join(budget_name(b) for b in budgets)} each on {args.data} at {args.resolution} px, "
          f"seed {args.seed}, torch {torch.__version__}, {threads} CPU(s) of {os.cpu_count()}, {threads} thread(s)",
          flush=True)
    contenders = {"a": (f"(a) reference DCGAN (pytorch/examples, nf {nf})", args.out / "a-reference-dcgan"),
                  "b": (f"(b) ganvas {dcgan}", args.out / f"b-{dcgan}"),
                  "c": (f"(c) ganvas {recipe}", args.out / f"c-{recipe}")}
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        from ganvas.data.dataset import load_dataset

        png_dir = Path(tmp) / args.data
        png_dir.mkdir()
        for i, img in enumerate(load_dataset(args.data, 128).arrays["x"]):    # files, as the example reads
            Image.fromarray(img).save(png_dir / f"{i:05d}.png")
        subprocess.run([sys.executable, __file__, "--worker", "--resolution", str(args.resolution), "--nf", str(nf),
                        "--minutes", *map(str, budgets), "--seed", str(args.seed), "--png-dir", str(png_dir),
                        "--out", str(contenders["a"][1]), *(["--cpus", str(args.cpus)] if args.cpus else [])],
                       check=True, cwd=REPO)
    print(f"trained {contenders['a'][0]}", flush=True)
    for key, preset in (("b", dcgan), ("c", recipe)):
        run_ganvas(preset, budgets, args.seed, threads, contenders[key][1])
        print(f"trained {contenders[key][0]}", flush=True)

    runs = score_all(contenders, budgets, args)
    table = report(runs, budgets, args, threads)
    print(table)
    if args.docs:
        args.docs.mkdir(parents=True, exist_ok=True)
        stem = f"quality-per-minute-{args.data}-{args.resolution}"
        for (key, minutes), r in runs.items():
            suffix = "" if minutes == budgets[0] else f"-{budget_name(minutes)}"
            shutil.copyfile(r["grid"], args.docs / f"{stem}-{key}{suffix}.png")
        (args.docs / f"{stem}.md").write_text(table + "\n")
        print(f"wrote the grids and the table to {args.docs}")


def score_all(contenders: dict, budgets: list[float], args: argparse.Namespace) -> dict[tuple[str, float], dict]:
    """Grids and (unless --no-score) the metrics of every contender at every budget."""
    from ganvas.domains import get_domain
    from ganvas.files import save_image

    scorers = {} if args.no_score else {
        name: make_scorer(args.data, args.resolution, args.n_eval, args.seed, name) for name in args.features}
    n = max((s[0] for s in scorers.values()), default=0)
    domain = get_domain("image")
    runs: dict[tuple[str, float], dict] = {}
    for key, (name, folder) in contenders.items():
        for minutes in budgets:
            snap = folder / budget_name(minutes)
            r = runs[key, minutes] = {"name": name, "dir": snap, **json.loads((snap / "result.json").read_text())}
            generate = reference_generator(snap) if key == "a" else ganvas_generator(snap)
            r["grid"] = snap / "bench-grid.png"
            save_image(r["grid"], domain.preview(generate(GRID_SEEDS, args.seed)))
            if scorers:
                images = domain.to_array(generate(n, args.seed))
                r["scores"] = {ext: score(images[:size]) for ext, (size, score) in scorers.items()}
                (snap / "bench-scores.json").write_text(json.dumps(r["scores"], indent=2) + "\n")
            print(f"scored {name} at {budget_name(minutes)}", flush=True)
    return runs


def score_runs(args: argparse.Namespace) -> None:
    """The figures of existing run folders, against the same reference as a bench run's."""
    from ganvas.domains import get_domain
    from ganvas.train import checkpoint as ckpt

    scorers = {name: make_scorer(args.data, args.resolution, args.n_eval, args.seed, name) for name in args.features}
    n = max(s[0] for s in scorers.values())
    for run in args.score_runs:
        progress = ckpt.load(run, with_optim=False).meta["progress"]
        images = get_domain("image").to_array(ganvas_generator(run)(n, args.seed))
        print(f"{run}: {progress['nimg'] / 1000:.1f} kimg in {progress['elapsed_s'] / 60:.1f} min", flush=True)
        for ext, (size, score) in scorers.items():
            s = score(images[:size])
            print(f"  {ext}: " + ", ".join(f"{m} {s[m]:.4g}" for m in SHOWN[ext] if m in s), flush=True)


def report(runs: dict[tuple[str, float], dict], budgets: list[float], args: argparse.Namespace, threads: int) -> str:
    cmd = "bench/quality_per_minute.py " + " ".join(sys.argv[1:])
    lines = [f"*Each contender {' then '.join(budget_name(b) for b in budgets)} of wall-clock training on "
             f"{threads} CPU thread(s) pinned to {threads} core(s), {args.data} at {args.resolution} px, seed "
             f"{args.seed}; `.venv/bin/python {cmd.strip()}`. FD_domain/KD_domain use ganvas's domain features "
             "(not FID); FID/KID use the standard InceptionV3. Distances: lower is better.*"]
    extractors = [e for e in args.features if not args.no_score]
    for minutes in budgets:
        rows = {key: r for (key, m), r in runs.items() if m == minutes}
        lines += ["", f"### {budget_name(minutes)}", "", "| contender | kimg | images/s |",
                  "|---|---|---|"]
        for r in rows.values():
            lines.append(f"| {r['name']} | {r['images'] / 1000:.1f} | {r['images'] / max(r['seconds'], 1e-9):.1f} |")
        for ext in extractors:
            shown = SHOWN[ext]
            goal = GOAL[ext]
            head = ["contender", *shown, f"{goal} / (a)"]
            lines += ["", f"{ext} features:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            for r in rows.values():
                s = r["scores"][ext]
                cells = [r["name"], *(f"{s[m]:.4g}" if m in s else "–" for m in shown),
                         f"{s[goal] / rows['a']['scores'][ext][goal]:.2f}×"]
                lines.append("| " + " | ".join(cells) + " |")
        if extractors and minutes == budgets[0]:
            verdicts = []
            for ext in extractors:
                ratio = rows["c"]["scores"][ext][GOAL[ext]] / rows["a"]["scores"][ext][GOAL[ext]]
                verdicts.append(f"{GOAL[ext]} {ratio:.2f}× ({'met' if ratio <= 0.5 else 'not met'})")
            lines.append(f"\nGoal (c) ≤ 0.5 × (a) at {budget_name(minutes)}: " + "; ".join(verdicts) + ".")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
