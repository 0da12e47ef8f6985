"""The creativity table: runs side by side (a CAN run against the same model without the ambiguity loss, say),
with held-out reals as the yardstick, and each run's novelty–value map and sample grid.

Every run is evaluated by ganvas's evaluation suite (`evaluate_run`: the same extractor, reference reals and
seeds for each, so FD_domain, precision/density, authenticity and memorization compare) and scored per sample
by ganvas.eval.creativity: novelty, value (D's score and rank among reals, density, manifold membership) and
style ambiguity. The held-out column scores the first run's held-out reals the same way (its D's rank of
them, ≈ 0.5, shows what a real item looks like to that D).

    .venv/bin/python bench/creativity.py --runs /work/runs/can-emoji /work/runs/nocan-emoji --n 366 \\
        --out docs/creativity
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# (key in a column, heading, format): the rows of the table, in order
ROWS = [
    ("novelty", "novelty, median [q1, q3]", "iqr"),
    ("distance", "domain-feature distance to the nearest training item, median [q1, q3]", "iqr"),
    ("d_rank", "D's rank among reals, median [q1, q3]", "iqr"),
    ("d_logit", "D's score (own D; not comparable between runs)", "iqr"),
    ("density_ps", "density per sample, median [q1, q3]", "iqr"),
    ("inside_real_manifold", "inside the real manifold", "pct"),
    ("ambiguity", "style ambiguity (domain classifier), median [q1, q3]", "iqr"),
    ("d_ambiguity", "style ambiguity by the run's own D (CAN's style head), median [q1, q3]", "iqr"),
    ("FD_domain", "FD_domain (training split)", "num"),
    ("FD_domain_heldout", "FD_domain (held-out split)", "num"),
    ("precision", "precision", "num"),
    ("recall", "recall", "num"),
    ("density", "density", "num"),
    ("coverage", "coverage", "num"),
    ("diversity_ratio", "diversity ratio", "num"),
    ("authenticity", "authenticity", "num"),
    ("memorized_fraction", "memorized fraction", "num"),
    ("C_T", "C_T (data-copying)", "num"),
]


def cell(v: Any, kind: str) -> str:
    if v is None:
        return "–"
    if kind == "iqr":
        return f"{v['median']:.3g} [{v['q1']:.3g}, {v['q3']:.3g}]"
    if kind == "pct":
        return f"{v:.0%}"
    return "n/a" if isinstance(v, float) and np.isnan(v) else f"{v:.4g}"


def column(run: str, n: int | None, features: str, seed: int, out: Path | None) -> tuple[dict[str, Any], Any]:
    """One run's column (and its scorer, for the held-out yardstick)."""
    from ganvas.domains.image import make_grid
    from ganvas.eval.creativity import Scorer, summary
    from ganvas.eval.creativity_map import map_for
    from ganvas.eval.evaluate import evaluate_run

    ev = evaluate_run(run, n=n, features=features, seed=seed)
    scorer = Scorer(ev.reference, ev.generator)
    scores = scorer.score_features(ev.fake_features, *scorer.d_outputs(ev.fake_images))
    s = summary(scores)
    G = ev.generator
    cfg = G.meta["config"]
    name = Path(run).name
    col: dict[str, Any] = {**ev.metrics["metrics"], **{k: v for k, v in s.items() if k != "density"}}
    col["density_ps"] = s["density"]
    col["run"] = name
    col["scores"] = scores
    col["info"] = {"model": G.meta["model"]["name"], "kimg": G.meta.get("progress", {}).get("kimg"),
                   "step": G.meta.get("progress", {}).get("step"), "can": cfg.get("can"),
                   "extractor": ev.metrics["extractor"]["name"], "extractor_sha256": ev.metrics["extractor"]["sha256"],
                   "n": ev.metrics["n"], "seeds": ev.metrics["generator"]["seeds"]}
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        map_for(ev, scores, f"{name}: {G.meta['model']['name']}, {col['info']['kimg']} kimg, seeds "
                            f"{col['info']['seeds'][0]}-{col['info']['seeds'][1]}", scorer.real_logits
                ).save(out / f"{name}-map.png")
        grid = make_grid(ev.fake_images[:64], nrow=8)
        grid.resize((grid.width * 2, grid.height * 2), 0).save(out / f"{name}-samples.png")
        most = np.argsort(-scores.novelty, kind="stable")[:32]
        grid = make_grid(ev.fake_images[most], nrow=8)
        grid.resize((grid.width * 2, grid.height * 2), 0).save(out / f"{name}-most-novel.png")
    return col, scorer


def heldout_column(scorer: Any) -> dict[str, Any] | None:
    from ganvas.eval.creativity import summary

    ref = scorer.reference
    if not len(ref.heldout_idx):
        return None
    idx = ref.heldout_idx[:ref.n]
    s = summary(scorer.score_features(ref.features[idx], *scorer.d_outputs(ref.dataset.arrays["x"][idx])))
    col = {k: v for k, v in s.items() if k != "density"}
    col["density_ps"] = s["density"]
    col["run"] = "held-out reals"
    return col


def table(cols: list[dict[str, Any]]) -> str:
    head = "| | " + " | ".join(c["run"] for c in cols) + " |\n|---|" + "---|" * len(cols) + "\n"
    lines = [f"| {title} | " + " | ".join(cell(c.get(key), kind) for c in cols) + " |" for key, title, kind in ROWS
             if any(c.get(key) is not None for c in cols)]
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", nargs="+", required=True, help="run folders (or checkpoints) to compare")
    p.add_argument("--n", type=int, default=None, help="samples per run (default: as `ganvas evaluate`)")
    p.add_argument("--features", default="auto", help="feature extractor (default: auto, as `ganvas evaluate`)")
    p.add_argument("--seed", type=int, default=0, help="first seed of the samples")
    p.add_argument("--out", type=Path, default=None, help="folder for the maps, grids and creativity.json")
    a = p.parse_args(argv)
    from ganvas.errors import GanvasError

    try:
        results = [column(r, a.n, a.features, a.seed, a.out) for r in a.runs]
    except GanvasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = [c for c, _ in results]
    if len({c["info"]["extractor_sha256"] for c in cols}) > 1:
        print("warning: the runs were judged by different extractors: their distances do not compare",
              file=sys.stderr)
    held = heldout_column(results[0][1])
    shown = cols + ([held] if held else [])
    for c in cols:
        i = c["info"]
        print(f"{c['run']}: {i['model']}, step {i['step']}, {i['kimg']} kimg, can = {i['can']}, {i['extractor']} "
              f"features {i['extractor_sha256'][:12]}, N = {i['n']}")
    print()
    print(table(shown))
    if len(cols) == 2:
        from ganvas.eval.creativity import MEASURES, auc

        sa, sb = cols[0]["scores"], cols[1]["scores"]
        print(f"\nP({cols[0]['run']} sample > {cols[1]['run']} sample), ties ½ (0.5: no difference):")
        for m in [*sa.available(), "distance"]:
            if getattr(sb, m, None) is not None:
                print(f"  {MEASURES.get(m, ('distance to the nearest training item',))[0]}: "
                      f"{auc(getattr(sa, m), getattr(sb, m)):.3f}")
    for c in cols:
        c.pop("scores")
    if a.out is not None:
        (a.out / "creativity.json").write_text(json.dumps({"columns": shown}, indent=1, default=float) + "\n")
        print(f"\nmaps and grids: {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
