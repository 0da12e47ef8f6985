"""Training speed of this checkout against another git revision, side by side in one run.

A refactor must not cost speed: this checks out REV (default: the previous commit) into a temporary
git worktree and times ganvas's own training step in both trees with `bench/train_throughput.py`'s
worker (DCGAN on emoji, batch 64; a fresh process per measurement, the two trees alternated round by
round so drift on the machine hits both), then prints the medians and their ratio.

    .venv/bin/python bench/revisions.py --base ee57cbf --rounds 5
    .venv/bin/python bench/revisions.py --base HEAD~3 --sizes 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker_rate(tree: Path, res: int) -> float:
    """Images/s of one ganvas measurement, run by the worker of `tree` with `tree`'s ganvas on the path."""
    cmd = [sys.executable, str(tree / "bench" / "train_throughput.py"), "--worker", "ganvas", "--res", str(res),
           "--png-dir", str(tree)]
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=tree, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD~1", help="the revision to compare with (default HEAD~1)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64], choices=[32, 64])
    args = ap.parse_args()
    base_rev = subprocess.run(["git", "rev-parse", "--short", args.base], capture_output=True, text=True,
                              check=True, cwd=REPO).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="ganvas-base-") as tmp:
        base = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), base_rev], check=True, cwd=REPO)
        try:
            print(f"# ganvas training images/s (dcgan, emoji, batch 64): this checkout vs {base_rev}, "
                  f"{args.rounds} alternated rounds, {os.cpu_count()} CPU cores")
            print(f"{'size':<8} {'base img/s':>11} {'this img/s':>11} {'this/base':>10}   runs (base | this)")
            for res in args.sizes:
                runs: dict[str, list[float]] = {"base": [], "this": []}
                for _ in range(args.rounds):
                    runs["base"].append(worker_rate(base, res))
                    runs["this"].append(worker_rate(REPO, res))
                b, t = statistics.median(runs["base"]), statistics.median(runs["this"])
                shown = " ".join(f"{v:.0f}" for v in runs["base"]) + " | " + " ".join(f"{v:.0f}" for v in runs["this"])
                print(f"{res:<8} {b:11.1f} {t:11.1f} {t / b:9.2f}x   {shown}")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], check=False, cwd=REPO)


if __name__ == "__main__":
    main()
