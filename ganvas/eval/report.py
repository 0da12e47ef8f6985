"""A self-contained HTML report of an evaluation: one file, images embedded, readable offline.

The common part (what was evaluated, against what, with which extractor, and every figure with what
it means) is written here. What a domain can show of its samples (images beside their nearest
training images; for music, piano rolls and pitch statistics) comes from `REPORT_SECTIONS`: a
domain registers one function ``sections(evaluation) -> list[Section]``, so a new domain adds its
own part of the report with one file and one line.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganvas import registry
from ganvas.eval.novelty import MEMORIZED_RATIO
from ganvas.eval.suite import LABELLED, MEANINGS

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation

REPORT_SECTIONS = registry.REPORT_SECTIONS   # the table lives in ganvas/registry.py (the one catalogue)


@dataclass
class Section:
    title: str          # the section heading
    body: str           # HTML (already escaped where needed)


def esc(x: Any) -> str:
    return html.escape(str(x))


def png_data_uri(image: Any) -> str:
    """A PIL image as a data: URI (PNG), so the report needs no other file."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "n/a"
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return esc(v)


def _meaning(key: str, fd_name: str, kd_name: str) -> str:
    for generic, pattern in LABELLED.items():
        if pattern.format(fd=fd_name, kd=kd_name) == key:
            return MEANINGS.get(generic, "")
    return MEANINGS.get(key, "")


def verdicts(m: dict[str, Any], fd_name: str) -> list[str]:
    """A few plain sentences a person can act on."""
    out = []
    n = m.get("n_fake", 0)
    mem = m.get("memorized_fraction")
    if mem is not None:
        k = round(mem * n)
        out.append(f"{k} of {n} samples ({mem:.1%}) sit on one training image (distance ratio below "
                   f"{MEMORIZED_RATIO:.2g}): " + ("look at them below." if k else "no sign of copying whole images."))
    if "C_T" in m and not math.isnan(m["C_T"]):
        c = m["C_T"]
        word = ("data-copying: samples are closer to the training images than new images are" if c < -3 else
                "underfitting: samples are farther from the training images than new images are" if c > 3 else
                "neither copying nor underfitting detected")
        cells = f" ({m['C_T_cells_used']} of {m['C_T_cells']} cells had enough samples)" if "C_T_cells" in m else ""
        out.append(f"C_T = {c:.2f} against the held-out split{cells}: {word}.")
    if "precision" in m and "recall" in m:
        out.append(f"Precision {m['precision']:.2f} (realism) and recall {m['recall']:.2f} (variety covered).")
    if "diversity_ratio" in m and not math.isnan(m["diversity_ratio"]):
        r = m["diversity_ratio"]
        out.append(f"Variety within the samples is {r:.2f}× that of as many real images" +
                   (" — a sign of mode collapse." if r < 0.5 else "."))
    floor = m.get(f"{fd_name}_real_floor")
    if floor is not None:
        out.append(f"{fd_name} {m[fd_name]:.4g} against the training split, {m.get(f'{fd_name}_heldout', 0):.4g} "
                   f"against held-out images; two real samples of this size are {floor:.4g} apart.")
    return out


CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse}
td,th{padding:.25em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
td.v{font-variant-numeric:tabular-nums;text-align:right;white-space:nowrap} .small{color:#666;font-size:.85em}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em} code{background:#f4f4f4;padding:0 .2em}
img.px{image-rendering:pixelated} .row{display:flex;align-items:flex-start;gap:6px;margin:4px 0}
.cell{text-align:center;font-size:.75em;color:#555} .flag{outline:3px solid #d00;outline-offset:-3px}
.fake{outline:2px solid #2a7;outline-offset:-2px} .mem{color:#d00;font-weight:600}
"""


def render(ev: Evaluation) -> str:
    """The report for evaluation `ev` as one HTML document."""
    r = ev.metrics
    ex, m, data, gen = r["extractor"], r["metrics"], r["data"], r["generator"]
    fd_name, kd_name = ex["fd_name"], ex["kd_name"]
    title = f"ganvas evaluation: {gen.get('model')} at step {gen.get('step')} on {data['name']}"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>"]
    split = data["split"]
    parts.append(
        "<table>"
        f"<tr><th>generator</th><td>{esc(gen.get('checkpoint'))} ({esc(gen.get('model'))}, "
        f"step {esc(gen.get('step'))}, "
        f"{fmt(gen.get('kimg'))} kimg); seeds {gen['seeds'][0]}–{gen['seeds'][1]}"
        f"{_truncation(gen)}</td></tr>"
        f"<tr><th>data</th><td>{esc(data['name'])}: {data['count']} samples, {split['n_train']} in the training split, "
        f"{split['n_heldout']} held out (holdout {split['holdout']}); {esc(split['reference_reals'])}"
        f"<br><span class='small'>{esc(data['fingerprint'])}</span></td></tr>"
        f"<tr><th>features</th><td><b>{esc(ex['name'])}</b>, {ex['dim']}-d, weights SHA-256 "
        f"<code>{esc(ex['sha256'][:16])}…</code><br><span class='small'>{esc(ex['preprocessing'])}</span>"
        f"{_extractor_note(ex)}</td></tr>"
        f"<tr><th>N</th><td>{r['n']} generated samples against {m.get('n_real')} reference reals</td></tr></table>")
    for w in r.get("warnings", []):
        parts.append(f"<p class='note'>{esc(w)}</p>")
    if ex["name"] != "inception":
        parts.append(f"<p class='note'>{esc(fd_name)} and {esc(kd_name)} use the FID and KID formulas on the "
                     f"<b>{esc(ex['name'])}</b> extractor's features, not Inception's: they are not FID or KID and "
                     "compare only with results carrying the same extractor hash.</p>")
    parts.append("<h2>In short</h2><ul>" + "".join(f"<li>{esc(v)}</li>" for v in verdicts(m, fd_name)) + "</ul>")
    order = [fd_name, f"{fd_name}_heldout", f"{fd_name}_real_floor", f"{kd_name}_mean", f"{kd_name}_std", "precision",
             "recall", "density", "coverage", "diversity", "diversity_real", "diversity_ratio", "authenticity",
             "memorized_fraction", "C_T"]
    keys = [k for k in order if k in m] + [k for k in m if k not in order]
    rows = "".join(f"<tr><td>{esc(k)}</td><td class='v'>{fmt(m[k])}</td><td class='small'>"
                   f"{esc(_meaning(k, fd_name, kd_name))}</td></tr>" for k in keys)
    parts.append(f"<h2>Figures ({esc(ex['name'])} features, {esc(ex['sha256'][:12])}, N = {r['n']})</h2>"
                 f"<table><tr><th>figure</th><th>value</th><th>meaning</th></tr>{rows}</table>")
    domain = ev.reference.dataset.domain
    for name in section_names(domain):
        for s in REPORT_SECTIONS.get(name)(ev):
            parts.append(f"<h2>{esc(s.title)}</h2>{s.body}")
    parts.append(f"<p class='small'>Written by ganvas {esc(r.get('created'))}; the figures are in metrics.json "
                 "beside this file.</p></body></html>")
    return "\n".join(parts)


def section_names(domain: str) -> list[str]:
    """The report sections of a domain, in registry order: its own (``image``) first, then every
    ``image.<name>`` a plugin registered (one file and one registry line each)."""
    return [n for n in REPORT_SECTIONS.in_order() if n == domain or n.startswith(f"{domain}.")]


def _extractor_note(ex: dict[str, Any]) -> str:
    src = ex.get("source") or {}
    tr = src.get("training")
    if tr:
        return (f"<br><span class='small'>trained on {len(src.get('labels', []))} labels; held-out accuracy "
                f"{tr['val_accuracy']:.1%} (majority class {tr['val_majority_baseline']:.1%})</span>")
    if "file_sha256" in src:
        return f"<br><span class='small'>{esc(src.get('what'))}</span>"
    return ""


def _truncation(gen: dict[str, Any]) -> str:
    return "" if gen.get("truncation") is None else f", truncation ψ = {gen['truncation']}"
