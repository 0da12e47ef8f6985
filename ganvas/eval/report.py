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
from ganvas.eval.suite import EXPERT, LABELLED, MEANINGS

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


def _generic(key: str, fd_name: str, kd_name: str) -> str:
    for generic, pattern in LABELLED.items():
        if pattern.format(fd=fd_name, kd=kd_name) == key:
            return generic
    return key


def overall(m: dict[str, Any], fd_name: str) -> str:
    """The whole verdict in one sentence for someone who does not read Fréchet distances: realism (precision),
    variety (recall, and collapse by the diversity ratio), copying (memorized share, C_T), and what to do.

    The bands are those of the figures' own scales (precision and recall are shares; the diversity ratio is 1
    when matched; 5% memorized is beyond what held-out reals show on the built-in sets); they describe, they
    do not grade, so each word comes with the figure behind it."""
    p, r = m.get("precision"), m.get("recall")
    if p is None or r is None:
        return "Overall: see the figures below (precision and recall were not computed)."
    realism = ("look like the data" if p >= 0.7 else "partly look like the data" if p >= 0.4 else
               "mostly do not look like the data yet")
    div = m.get("diversity_ratio")
    if div is not None and not math.isnan(div) and div < 0.5:
        variety = "repeat a few kinds of output (mode collapse)"
    else:
        variety = ("cover much of its variety" if r >= 0.5 else "cover part of its variety" if r >= 0.2 else
                   "cover little of its variety")
    mem, ct = m.get("memorized_fraction"), m.get("C_T")
    copying = ((mem is not None and mem > 0.05) or (ct is not None and not math.isnan(ct) and ct < -3))
    copy_words = "some look copied from training images (see below)" if copying else "nothing looks copied"
    advice = (" Train longer (or at a smaller resolution, with --set augment=diffaugment on small data)."
              if p < 0.4 or r < 0.2 else " Training longer may still help variety." if r < 0.5 else "")
    return (f"Overall: the samples {realism} (precision {p:.2f}) and {variety} (recall {r:.2f}); "
            f"{copy_words}.{advice}")


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
        held = m.get(f"{fd_name}_heldout", 0)
        out.append(f"{fd_name} {m[fd_name]:.4g} against the training split, {held:.4g} against held-out images; "
                   f"two real samples of this size are {floor:.4g} apart (the floor: what a perfect model would "
                   "score at this number of images).")
        if held < floor:
            out.append("The held-out figure is below the floor: each figure is an estimate from a few hundred "
                       "images with noise of its own, and a model a little less varied than the data scores a "
                       "little lower on it; read it as \"as close to new images as real images are\", not better.")
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
.verdict{font-size:1.1em;background:#eef6ff;border-left:4px solid #38c;padding:.6em 1em}
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
    parts.append(f"<p class='verdict'><b>{esc(overall(m, fd_name))}</b></p>")
    parts.append("<h2>In short</h2><ul>" + "".join(f"<li>{esc(v)}</li>" for v in verdicts(m, fd_name)) + "</ul>")
    order = [fd_name, f"{fd_name}_heldout", f"{fd_name}_real_floor", f"{kd_name}_mean", f"{kd_name}_std", "precision",
             "recall", "density", "coverage", "diversity", "diversity_real", "diversity_ratio", "authenticity",
             "memorized_fraction", "C_T"]
    keys = [k for k in order if k in m] + [k for k in m if k not in order]
    expert = [k for k in keys if _generic(k, fd_name, kd_name) in EXPERT]

    def rows(ks: list[str]) -> str:
        return "".join(f"<tr><td>{esc(k)}</td><td class='v'>{fmt(m[k])}</td><td class='small'>"
                       f"{esc(_meaning(k, fd_name, kd_name) or 'a figure of the evaluation (see docs/evaluation.md)')}"
                       "</td></tr>" for k in ks)
    head = "<tr><th>figure</th><th>value</th><th>meaning</th></tr>"
    parts.append(f"<h2>Figures ({esc(ex['name'])} features, {esc(ex['sha256'][:12])}, N = {r['n']})</h2>"
                 f"<table>{head}{rows([k for k in keys if k not in expert])}</table>"
                 f"<details><summary>Details for experts (counts and sizes behind the figures)</summary>"
                 f"<table>{head}{rows(expert)}</table></details>")
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
