"""Samples and the metric table of a trained music model, for docs/ or a note.

    .venv/bin/python scripts/music_samples.py runs/chorales-musegan-hybrid --out docs/music

writes into OUT: seedNNNN.mid/.wav/.png for seeds 0..n-1 (WAV at 22.05 kHz mono, small enough for a
repository), grid.png (those phrases as one picture), metrics.md (every music metric of
`--metric-samples` generated phrases against the whole training set, as a Markdown table),
metrics.json, and with --html report.html (the same with audio players, several MB). It reads the
run's own training data (the dataset named in its checkpoint) and changes nothing in the run.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np


def markdown(table: list[dict], meta: dict) -> str:
    lines = [f"Music metrics of {meta['generated']} generated phrases (seeds 0–{meta['generated'] - 1}) "
             f"against the {meta['training']} training phrases of `{meta['dataset']}`; model "
             f"`{meta['model']}` at step {meta['step']} ({meta['kimg']:.1f} kimg, "
             f"{meta['minutes']:.1f} training minutes). Definitions: `ganvas/eval/music_metrics.py`.", "",
             "| metric | track | generated | training |", "|---|---|---|---|"]
    for r in table:
        g, t = (("–" if math.isnan(v) else f"{v:.3f}") for v in (r["generated"], r["training"]))
        lines.append(f"| {r['label']} | {r['track']} | {g} | {t} |")
    return "\n".join(lines) + "\n"


def no_nan(obj):
    """NaN (an undefined metric) as JSON null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [no_nan(v) for v in obj]
    return obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="run or checkpoint folder of a music model")
    ap.add_argument("--out", type=Path, required=True, help="folder for the files")
    ap.add_argument("--n", type=int, default=8, help="phrases written as files (seeds 0..n-1)")
    ap.add_argument("--metric-samples", type=int, default=1000, help="generated phrases the metrics use")
    ap.add_argument("--audio", default="auto", help="WAV engine: auto | fluidsynth | builtin")
    ap.add_argument("--html", action="store_true", help="also write report.html with embedded audio")
    args = ap.parse_args(argv)

    import ganvas
    from ganvas.data.dataset import load_dataset
    from ganvas.errors import GanvasError
    from ganvas.eval.music_report import music_report
    from ganvas.files import save_image, write_bytes, write_json, write_text
    from ganvas.music.audio import compact_wav

    try:
        G = ganvas.load(args.run)
        if G.domain.name != "music":
            raise GanvasError(f"{args.run} holds a {G.domain.name} model; expected a music model")
        G.domain = type(G.domain)(**{**G.model.spec.domain_args, "audio": args.audio})
        outputs = G.sample(args.n, seed=0)
        G.domain.save(outputs, args.out, [f"seed{i:04d}" for i in range(args.n)], ("midi", "png"))
        for i, roll in enumerate(G.domain.to_array(outputs)):
            wav, _ = compact_wav(G.domain.notes(roll), G.domain.tracks, G.domain.tempo, G.domain.beat_steps,
                                 args.audio)
            write_bytes(args.out / f"seed{i:04d}.wav", wav)
        save_image(args.out / "grid.png", G.domain.preview(outputs, nrow=2))
        generated = np.concatenate([G.domain.to_array(G.sample(min(256, args.metric_samples - i), seed=i))
                                    for i in range(0, args.metric_samples, 256)])
        data = G.meta["dataset"]["name"]
        training = load_dataset(data, 0).arrays["x"]
        report = music_report(generated, training, G.model.spec.domain_args, n_audio=3 if args.html else 0,
                              audio=args.audio)
    except GanvasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    progress = G.meta["progress"]
    meta = {"generated": len(generated), "training": len(training), "dataset": data, "model": G.name,
            "step": progress["step"], "kimg": progress["kimg"], "minutes": progress["elapsed_s"] / 60}
    write_text(args.out / "metrics.md", markdown(report.metrics["table"], meta))
    write_json(args.out / "metrics.json", no_nan({"meta": meta, **report.metrics}))
    if args.html:
        write_text(args.out / "report.html", f"<!doctype html><meta charset=utf-8><title>{G.name} music metrics"
                                             f"</title><body>{report.html}</body>")
    print(f"wrote {args.n} phrases (MIDI, WAV, PNG), grid.png, metrics.md, metrics.json"
          f"{' and report.html' if args.html else ''} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
