"""Why-fake maps (ganvas/explore/why.py): the figures docs/why-fake.md quotes, measured on a trained run.

1. BatchNorm: does D in eval mode still tell real from generated? AUC of D's logit, real (training items)
   against generated (seeds 0…): in eval mode on its running statistics; in eval mode on one balanced batch's
   statistics (what the maps use); in train mode on all-real and all-fake batches (as D saw them in
   training); in train mode on one mixed batch.
2. Integrated gradients: the completeness gap |Σ map − (D(x) − D(b))| / |D(x) − D(b)| by step count, and
   the time per map.
3. The model-randomisation sanity check (Adebayo et al. 2018): Spearman ρ of |map| between trained and
   re-initialised D (all layers at once, and cascading from the top), for real and generated samples, and
   how much the maps rank-correlate with the samples' edge strength (an edge detector would).
4. Deletion: D's score drop when the cells the map ranks most "towards real" are set to the baseline,
   against as many random cells.

    ganvas train --model dcgan --data shapes --resolution 32 --kimg 40 --batch-size 64 \\
        --set model_args.ngf=32 --set model_args.ndf=32 --out runs/shapes-dcgan40
    .venv/bin/python bench/why_fake.py runs/shapes-dcgan40 --n 64
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a real > score of a generated), ties counting half (the Mann–Whitney AUC)."""
    diff = pos[:, None] - neg[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def train_mode_scores(D: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """D's logits with BatchNorm on the batch's own statistics (running statistics left untouched)."""
    import copy

    d = copy.deepcopy(D).train()
    with torch.no_grad():
        return d(x).flatten().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run")
    ap.add_argument("--n", type=int, default=64, help="real and generated samples each")
    ap.add_argument("--sanity", type=int, default=16, help="samples of each kind in the sanity check")
    args = ap.parse_args()
    torch.set_num_threads(1)

    import ganvas
    from ganvas.data.dataset import load_dataset
    from ganvas.explore import why
    from ganvas.explore import why_sanity as S

    G = ganvas.load(args.run)
    side = G.model.spec.shape[-1]
    data = load_dataset(G.meta["config"]["data"], side, progress=False)
    rng = np.random.default_rng(0)
    real = G.domain.to_tensor(data.arrays["x"][np.sort(rng.choice(len(data.arrays["x"]), args.n, replace=False))])
    fake = G.sample(args.n, seed=0)
    print(f"run {args.run}: {G.name}, step {G.meta.get('progress', {}).get('step')}, "
          f"{G.meta.get('progress', {}).get('kimg')} kimg\n")

    print("## 1. BatchNorm: D's logits, real against generated\n")
    print("| D's BatchNorm | mean logit real | mean logit generated | AUC |")
    print("|---|---|---|---|")
    ev_r, ev_f = why.judge_scores(G, real, calibrate=False), why.judge_scores(G, fake, calibrate=False)
    print(f"| eval, running statistics | {ev_r.mean():+.3f} | {ev_f.mean():+.3f} | {auc(ev_r, ev_f):.3f} |")
    ca_r, ca_f = why.judge_scores(G, real), why.judge_scores(G, fake)
    print(f"| eval, one balanced batch's statistics ({why.CALIBRATION} + {why.CALIBRATION}; the maps) | "
          f"{ca_r.mean():+.3f} | {ca_f.mean():+.3f} | {auc(ca_r, ca_f):.3f} |")
    tr_r, tr_f = train_mode_scores(G.model.D, real), train_mode_scores(G.model.D, fake)
    print(f"| train, all-real and all-fake batches (as in training) | {tr_r.mean():+.3f} | {tr_f.mean():+.3f} | "
          f"{auc(tr_r, tr_f):.3f} |")
    mixed = train_mode_scores(G.model.D, torch.cat([real, fake]))
    mr, mf = mixed[:args.n], mixed[args.n:]
    print(f"| train, one mixed batch | {mr.mean():+.3f} | {mf.mean():+.3f} | {auc(mr, mf):.3f} |\n")

    print("## 2. Integrated gradients: completeness gap by steps (generated samples)\n")
    print("| steps | median gap | max gap | s per map (1 core) |")
    print("|---|---|---|---|")
    for steps in (8, 16, 32, 64):
        t = time.perf_counter()
        m = why.explain(G, fake[:16], steps=steps)
        per = (time.perf_counter() - t) / 16
        print(f"| {steps} | {np.median(m.completeness):.4f} | {m.completeness.max():.4f} | {per:.3f} |")
    print()

    print("## 3. Model randomisation (Spearman ρ of |map|, trained D against re-initialised D)\n")
    print("| samples | method | median ρ all layers | ρ range | ρ with edges, trained | ρ with edges, random | "
          "cascade from the top (layer: median ρ) |")
    print("|---|---|---|---|---|---|---|")
    k = args.sanity
    for what, x in (("generated", fake[:k]), ("real", real[:k])):
        for method in ("integrated-gradients", "gradient-x-input"):
            sc = S.sanity_check(G, x, method, seed=0)
            casc = ", ".join(f"{name}: {r:.2f}" for name, r in sc.cascade)
            print(f"| {what} ({k}) | {method} | {sc.median:.3f} | {sc.rho.min():.3f}–{sc.rho.max():.3f} | "
                  f"{np.median(sc.rho_edges_trained):+.3f} | {np.median(sc.rho_edges_random):+.3f} | {casc} |")
    print("\n## 4. Deletion: D's score drop when the map's top cells (towards real) are set to the baseline\n")
    print("| samples | share of cells | median drop, the map's cells | median drop, random cells | map wins |")
    print("|---|---|---|---|---|")
    for what, x in (("generated", fake[:k]), ("real", real[:k])):
        maps = why.explain(G, x)
        for share in (0.05, 0.1):
            top, rnd = S.deletion(G, maps, share)
            print(f"| {what} ({k}) | {share:.0%} | {np.median(top):.3f} | {np.median(rnd):.3f} | "
                  f"{int((top > rnd).sum())}/{k} |")

    seeds = [S.sanity_check(G, fake[:k], seed=s, cascade=False).median for s in range(4)]
    print(f"\nmedian ρ (generated, integrated gradients) over randomisation seeds 0–3: "
          f"{', '.join(f'{r:.3f}' for r in seeds)}")


if __name__ == "__main__":
    main()
