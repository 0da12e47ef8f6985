"""The memorization guard (ganvas/publish/guard.py): its calibration on built-in datasets, its speed, and
whether it catches a model that copies while leaving a normally trained model's outputs alone.

1. Calibration: for each dataset (at 32 px), the held-out items' nearest-training feature scores and hash
   distances, the thresholds chosen from them, and the share of held-out items they would flag.
2. Speed: ms to check one output against the dataset (median over batches of 64), and the index build.
3. Demonstration (--overfit RUN and --normal RUN): --samples outputs of each run (seeds 0…), how many the
   guard flags. The runs are trained beforehand, e.g. (2-core CPU, one core each):

    ganvas train --model dcgan --data FOLDER_OF_16_EMOJI --resolution 32 --batch-size 16 --minutes 6 \\
        --out runs/guard-overfit16
    ganvas train --preset emoji-dcgan-32 --minutes 6 --out runs/guard-emoji

    .venv/bin/python bench/guard.py --overfit runs/guard-overfit16 --normal runs/guard-emoji
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


class _Probe:
    """Just enough of a loaded model for the guard to find a dataset (no network needed)."""

    def __init__(self, data: str, side: int) -> None:
        from ganvas.domains import get_domain

        self.meta = {"config": {"data": data, "holdout": 0.1}, "model": {"spec": {"shape": [3, side, side]}},
                     "dataset": {}}
        self.domain = get_domain("image", {})


def calibration(datasets: list[str], cache: Path) -> None:
    from ganvas.publish.guard import guard_for

    print("| dataset | items (train / held out) | held-out ratio q1% / median | thresholds: ratio, distance, "
          "layout | hash bound (bits) | held-out flagged | index build s | check ms per output |")
    print("|---|---|---|---|---|---|---|---|")
    for name in datasets:
        probe = _Probe(name, 32)
        t = time.perf_counter()
        g = guard_for(probe, cache_dir=cache)
        cal = g.calibration()
        build = time.perf_counter() - t
        items = g.data["items"]
        times = []
        for start in range(0, 256, 64):
            batch = probe.domain.to_tensor(items[start:start + 64])
            t = time.perf_counter()
            g.check(batch)
            times.append((time.perf_counter() - t) / len(batch))
        q = cal["heldout_score_quantiles"]
        print(f"| {name} | {cal['n_train']} / {cal['n_heldout']} | {q['0.01']:.2f} / {q['0.5']:.2f} | "
              f"{cal['threshold']:.2f}, {cal['global_threshold']:.2f}, {cal['layout_threshold']:.2f} | "
              f"{cal['phash_bits'] if cal['phash_bits'] >= 0 else 'off'} | {cal['heldout_flag_rate']:.1%} | "
              f"{build:.1f} | {1e3 * statistics.median(times):.2f} |")


def demonstrate(runs: dict[str, str], samples: int, cache: Path) -> None:
    import ganvas
    from ganvas.publish.guard import guard_for

    print(f"\n| run | data | outputs flagged (of {samples}) | median score | min score | distinct neighbours "
          f"of flagged |\n|---|---|---|---|---|---|")
    for label, path in runs.items():
        G = ganvas.load(path)
        g = guard_for(G, cache_dir=cache)
        verdicts = []
        for start in range(0, samples, 64):
            verdicts += g.check(G.sample(min(64, samples - start), seed=start))
        flagged = [v for v in verdicts if v.flagged]
        scores = [v.score for v in verdicts]
        print(f"| {label}: {path} | {G.meta['config']['data']} ({G.meta['dataset'].get('count')} items) | "
              f"{len(flagged)} ({len(flagged) / len(verdicts):.0%}) | {np.median(scores):.2f} | {min(scores):.2f} | "
              f"{len({v.neighbour for v in flagged})} |")
        if flagged and label == "overfit":
            out = Path(path) / "guard-flagged.png"
            first = next(i for i, v in enumerate(verdicts) if v.flagged)
            g.neighbour_picture(G.sample(1, seed=first), verdicts[first]).save(out)
            print(f"  (seed {first} beside its neighbour: {out}; {verdicts[first].describe()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="emoji,crawl-terrain,openclipart",
                    help="built-in image datasets to calibrate on (those not built are skipped)")
    ap.add_argument("--overfit", help="a run that copies its training items")
    ap.add_argument("--normal", help="a normally trained run")
    ap.add_argument("--samples", type=int, default=256)
    args = ap.parse_args()
    import torch

    from ganvas.data.dataset import builtin_root

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        built = [d for d in args.datasets.split(",") if (builtin_root(d) / "card.json").exists()]
        calibration(built, Path(tmp))
        runs = {k: v for k, v in (("overfit", args.overfit), ("normal", args.normal)) if v}
        if runs:
            demonstrate(runs, args.samples, Path(tmp))


if __name__ == "__main__":
    main()
