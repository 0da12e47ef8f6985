"""`ganvas evaluate` for text models: the text metrics of constrained and free samples, and a report page.

A text model is judged twice. Its *constrained* texts are what a person gets from ``ganvas sample``
(exact form, rhyme, lenient tones: the pass rates show the decoder doing its job). Its *free* texts,
sampled from the codes alone at the same temperature, show what the network itself learnt: whether a
‹七绝› code gives a 七绝 (control accuracy), how often the form, rhyme and tones come out right unaided,
and how fluent, varied and original it is next to real poems (BLEU, self-BLEU, distinct-n, copied
lines). Both read the model's held-out likelihood beside an n-gram baseline fitted on the same split.
Seeds cycle through the four regulated forms (seed s asks for form s mod 4), as ``ganvas sample`` does.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import torch

from ganvas.data.dataset import builtin_root, is_builtin, load_dataset, split_spec
from ganvas.data.split import holdout_indices
from ganvas.eval.text_report import default_checks, text_report

FORMAT = "ganvas-text-evaluation"
MODES = ("constrained", "free")


def texts_of(codepoints: np.ndarray) -> list[str]:
    """int32 code points [N, L], 0-padded (the text domain's stored form) → strings."""
    return ["".join(chr(int(c)) for c in row if c) for row in np.asarray(codepoints)]


def split_texts(W: Any) -> dict[str, Any]:
    """The run's data as texts: training and held-out texts with their codes, and per-text titles/authors."""
    cfg = W.meta["config"]
    data = load_dataset(cfg["data"], 0, domain="text", data_args=cfg.get("data_args") or None, progress=False,
                        exclude=cfg.get("exclude") or None)
    holdout = float(cfg.get("holdout", 0.0))
    train_idx, held_idx = (holdout_indices(data, holdout) if holdout else (np.arange(len(data)), np.empty(0, int)))
    texts = texts_of(data.arrays["x"])
    meta = None
    if is_builtin(cfg["data"]) and (builtin_root(split_spec(cfg["data"])[0]) / "meta.json").exists():
        meta = json.loads((builtin_root(split_spec(cfg["data"])[0]) / "meta.json").read_text(encoding="utf-8"))
        if data.card.get("excluded") and "x" in data.index:      # rows left out: each text's meta by its key
            from ganvas.data.dataset import read_keys

            keys = read_keys(builtin_root(split_spec(cfg["data"])[0]) / "keys.txt", len(meta)) or []
            row = {k: i for i, k in enumerate(keys)}
            meta = [meta[row[k]] if k in row else {} for k in data.index["x"].keys]
    y = data.arrays.get("y")
    return {"data": data, "train": [texts[i] for i in train_idx], "held": [texts[i] for i in held_idx],
            "held_x": data.arrays["x"][held_idx], "held_y": None if y is None else y[held_idx],
            "meta": None if meta is None else [meta[i] for i in train_idx], "holdout": holdout}


def heldout_nll(W: Any, held_x: np.ndarray, held_y: np.ndarray | None) -> float | None:
    """The model's held-out negative log-likelihood in nats per token (characters and <eos>), codes given."""
    if len(held_x) == 0:
        return None
    x = W.domain.to_tensor(held_x)
    total, count = W.model.token_nll(x, None if held_y is None else torch.as_tensor(held_y))
    return total / max(count, 1)


def evaluate_text(W: Any, n: int = 200, seed: int = 0, temperature: float = 0.8) -> tuple[dict[str, Any], str]:
    """(metrics.json content, report.html) of text model `W` (a ganvas.writer.Writer)."""
    split = split_texts(W)
    nll = heldout_nll(W, split["held_x"], split["held_y"])
    seeds = list(range(seed, seed + n))
    requested = [c.get("form") for c in W.seed_codes(seeds, None)] if W.language == "zh" else None
    results, parts = {}, []
    for mode in MODES:
        texts = W.sample(n, seed, temperature=temperature, constrained=mode == "constrained")
        report = text_report(texts, split["train"], split["held"], W.language, requested_forms=requested,
                             model_nll=nll, checks=default_checks(), meta=split["meta"],
                             vocab_chars="".join(W.model.vocab.chars), seed=seed)
        results[mode] = report.metrics
        parts.append((mode, report.html))
    metrics = {
        "format": FORMAT, "format_version": 1,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generator": {"checkpoint": str(W.path), "model": W.meta["model"]["name"],
                      "step": W.meta.get("progress", {}).get("step"), "seeds": [seed, seed + n - 1],
                      "temperature": temperature},
        "data": {"name": split["data"].name, "fingerprint": split["data"].fingerprint, "count": len(split["data"]),
                 "n_train": len(split["train"]), "n_heldout": len(split["held"]), "holdout": split["holdout"]},
        "n": n, "heldout_nll": nll, **results,
    }
    metrics["verdict"] = verdict(metrics)
    return metrics, render(metrics, parts)


def row(metrics: dict[str, Any], mode: str, key: str) -> dict[str, Any] | None:
    return next((r for r in metrics[mode]["rows"] if r["metric"] == key), None)


def value(metrics: dict[str, Any], mode: str, key: str) -> float | None:
    r = row(metrics, mode, key)
    return None if r is None else r["generated"]


def verdict(m: dict[str, Any]) -> list[str]:
    """A few plain sentences: likelihood against the baseline, control, form, originality."""
    out = []
    nll, base = m["heldout_nll"], m["constrained"]["ngram"]["heldout_nll"]
    if nll is not None:
        better = "better than" if nll < base else "NOT better than"
        out.append(f"On poems it never saw, the model's NLL is {nll:.3f} nats per character, {better} the n-gram "
                   f"baseline's {base:.3f}.")
    control = value(m, "free", "control")
    if control is not None:
        out.append(f"Asked for a form by its code alone (free sampling), {control:.0%} of its texts come out in "
                   "that form.")
    rates = [f"{k} {value(m, 'constrained', f'{k}_pass'):.0%}" for k in ("form", "rhyme", "tonal")
             if value(m, "constrained", f"{k}_pass") is not None]
    if rates:
        out.append("With the constrained decoder: pass rates " + ", ".join(rates) + ".")
    copied = value(m, "constrained", "copied_lines")
    real = row(m, "constrained", "copied_lines")
    if copied is not None:
        out.append(f"{copied:.1%} of its verses are copied word for word from the training poems (the real poems' "
                   f"own rate: {real['compare']:.1%}).")
    return out


def render(m: dict[str, Any], parts: list[tuple[str, str]]) -> str:
    from ganvas.eval.report import CSS

    gen, data = m["generator"], m["data"]
    title = f"ganvas evaluation: {gen['model']} at step {gen['step']} on {data['name']}"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{CSS} pre.text{{font-size:15px;line-height:1.5}}</style></head><body><h1>{html.escape(title)}</h1>",
           f"<p>{html.escape(gen['checkpoint'])}; seeds {gen['seeds'][0]}–{gen['seeds'][1]} (seed s asks for form "
           f"s mod 4), temperature {gen['temperature']}; data {html.escape(data['name'])}: {data['n_train']} training "
           f"and {data['n_heldout']} held-out texts.</p>",
           "<h2>In short</h2><ul>" + "".join(f"<li>{html.escape(v)}</li>" for v in m["verdict"]) + "</ul>"]
    titles = {"constrained": "Constrained texts (what ganvas sample writes: exact form, rhyme, lenient tones)",
              "free": "Free texts (the codes alone: what the network learnt)"}
    for mode, body in parts:
        out.append(f"<h2>{html.escape(titles[mode])}</h2>{body}")
    out.append(f"<p class='small'>Written by ganvas {html.escape(m['created'])}; the figures are in metrics.json "
               "beside this file.</p></body></html>")
    return "\n".join(out)
