"""The text part of an evaluation report: every text metric beside real texts, and what was copied.

`text_report` computes the metrics of `text_metrics`, `text_memorize` and `ngram` (and, for English,
the Fréchet distance on all-MiniLM-L6-v2 sentence embeddings) and returns them as a table (a dict, for
JSON) and as a self-contained HTML fragment: the table, one plain sentence per row saying what the
figure means; the verses and lines copied from the training texts, each shown beside its source text;
a few generated texts. Each figure has a *for comparison* value: the same measure on as many real
training texts (chosen with a seed), or for NLL the n-gram baseline, so a reader can judge the number
without knowing the metric's usual range.
"""

from __future__ import annotations

import html
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganvas.eval.ngram import DEFAULT_ORDER, NgramLM, perplexity
from ganvas.eval.text_memorize import MIN_CHARS, Memorisation, copied_lines, leave_one_out
from ganvas.eval.text_metrics import bleu, control_accuracy, distinct_n, pass_rates, self_bleu

N_COPIES = 12        # copied verses/lines shown with their source
N_SAMPLES = 8        # generated texts shown
LOO_LIMIT = 2000     # real texts checked against all the others (a seeded sample beyond this)

MEANINGS = {
    "nll": "How surprised the model is, per character, by real texts it never trained on (nats; lower is "
           "better). It must be below the n-gram baseline beside it, or the model learnt nothing a table of "
           "character sequences would not.",
    "perplexity": "The NLL as a number of equally likely next characters the model hesitates between "
                  "(e^NLL; lower is better).",
    "bleu2": "How many of the generated texts' single characters/words and pairs also occur in held-out real "
             "texts (0–100): a measure of local fluency. Compare with real texts, not with 100.",
    "bleu3": "The same with runs of up to three characters/words: stricter, so lower.",
    "self_bleu2": "BLEU-2 of each generated text against the other generated texts: high means the outputs "
                  "repeat one another (less variety than real texts).",
    "self_bleu3": "The same with runs of up to three: the clearest sign of outputs that all sound alike.",
    "distinct1": "Distinct single characters/words over all of them: the breadth of the vocabulary used.",
    "distinct2": "Distinct pairs over all pairs: low means the same phrases come back again and again.",
    "distinct3": "Distinct runs of three over all runs of three.",
    "copied_lines": f"Share of verses (of ≥ {MIN_CHARS} characters) found word for word in the training texts. "
                    "The comparison is the real texts' own rate, each against all the others: more than that "
                    "is memorisation.",
    "copied_texts": "Generated texts identical to a training text as a whole (the comparison: real texts that "
                    "duplicate another).",
    "control": "Share of texts asked for a form (e.g. 七绝) that came out in that form (verses × characters).",
    "fd": "Fréchet distance between the sentence embeddings (all-MiniLM-L6-v2) of generated and held-out "
          "real texts: how far apart the two sets are in meaning and style (lower is better; the comparison "
          "is between two real samples).",
}
PASS_MEANINGS = {
    "form": "Share of texts with exactly the requested form: number of verses, characters per verse, "
            "punctuation.",
    "rhyme": "Share of texts whose even verses rhyme in one group of the Pingshui rhyme tables.",
    "tonal": "Share of texts keeping the level/oblique (平仄) tone pattern of regulated verse (lenient check).",
}


@dataclass
class TextReport:
    metrics: dict       # {"rows": [...], "memorisation": ..., "real_memorisation": ..., ...}
    html: str           # a self-contained HTML fragment (a <section>)

    def to_dict(self) -> dict:
        return self.metrics


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, int):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def _row(key: str, label: str, value: Any, compare: Any, meaning: str, compare_what: str) -> dict:
    return {"metric": key, "label": label, "generated": value, "compare": compare, "compare_what": compare_what,
            "meaning": meaning}


def default_checks() -> dict[str, Callable[..., bool]] | None:
    """form/rhyme/tonal checks from ganvas.text.checks when that module exists (None otherwise)."""
    try:
        mod = importlib.import_module("ganvas.text.checks")
    except ModuleNotFoundError:
        return None
    names = {"form": "form_pass", "rhyme": "rhyme_pass", "tonal": "tonal_pass"}
    return {k: getattr(mod, v) for k, v in names.items() if hasattr(mod, v)} or None


def text_report(generated: Sequence[str], training: Sequence[str], heldout: Sequence[str] | None = None,
                language: str = "zh", requested_forms: Sequence[str | None] | None = None,
                model_nll: float | None = None, checks: Mapping[str, Callable[..., bool]] | None = None,
                meta: Sequence[Mapping[str, Any]] | None = None, vocab_chars: str | None = None,
                seed: int = 0, n_samples: int = N_SAMPLES) -> TextReport:
    """Text metrics of `generated` against real texts, as a table and an HTML fragment.

    training: the texts the model trained on (memorisation, n-gram baseline, the comparison sample);
    heldout: texts it never saw (BLEU references, NLL, FD); when empty, the training texts serve and a
        note says so. language: zh | en. requested_forms: the form code asked for per generated text
        (control accuracy and pass rates; Chinese). model_nll: the model's held-out NLL (nats per token,
        characters and <eos>) when known. checks: name → check function (see `pass_rates`). meta: per
        training text {"title", "author"} shown with copied lines. vocab_chars: the model's characters (the
        n-gram baseline then spreads probability over the same events). seed: picks the real sample.
    """
    generated, training = list(generated), list(training)
    heldout = list(heldout or [])
    notes = []
    refs = heldout
    if not heldout:
        refs = training
        notes.append("No held-out texts: BLEU and FD use the training texts as references, and no held-out "
                     "NLL is computed.")
    rng = np.random.default_rng(seed)
    k = min(len(generated), len(training))
    real = [training[i] for i in sorted(rng.choice(len(training), size=k, replace=False).tolist())]
    if k < len(generated):
        notes.append(f"Only {k} training texts to compare with {len(generated)} generated ones: "
                     "figures that depend on the number of texts (self-BLEU, distinct-n) are not like for like.")
    rows: list[dict] = []
    same = f"{k} training texts"

    baseline = math.nan
    if heldout:
        lm = NgramLM(DEFAULT_ORDER).fit(training, vocab=vocab_chars)
        baseline = lm.nll(heldout)
    what = f"order-{DEFAULT_ORDER} Kneser–Ney n-gram baseline"
    rows.append(_row("nll", "held-out NLL (nats/token)", model_nll, baseline, MEANINGS["nll"], what))
    rows.append(_row("perplexity", "held-out perplexity", None if model_nll is None else perplexity(model_nll),
                     perplexity(baseline) if heldout else math.nan, MEANINGS["perplexity"], what))
    for n in (2, 3):
        rows.append(_row(f"bleu{n}", f"BLEU-{n}", bleu(generated, refs, n, language), bleu(real, refs, n, language),
                         MEANINGS[f"bleu{n}"], same))
    if len(generated) >= 2 and len(real) >= 2:
        for n in (2, 3):
            rows.append(_row(f"self_bleu{n}", f"self-BLEU-{n}", self_bleu(generated, n, language),
                             self_bleu(real, n, language), MEANINGS[f"self_bleu{n}"], same))
    for n in (1, 2, 3):
        rows.append(_row(f"distinct{n}", f"distinct-{n}", distinct_n(generated, n, language),
                         distinct_n(real, n, language), MEANINGS[f"distinct{n}"], same))
    mem = copied_lines(generated, training)
    real_mem = leave_one_out(training, limit=LOO_LIMIT, seed=seed)
    loo_what = (f"the {len(training)} training texts, each against the others"
                if real_mem.n_texts == len(training) else
                f"{real_mem.n_texts} of the {len(training)} training texts, each against all the others")
    rows.append(_row("copied_lines", f"copied-line rate (≥ {MIN_CHARS} characters)", mem.rate, real_mem.rate,
                     MEANINGS["copied_lines"], loo_what))
    rows.append(_row("copied_texts", "texts copied whole", len(mem.whole), len(real_mem.whole),
                     MEANINGS["copied_texts"], loo_what))
    control = None
    if requested_forms is not None and language == "zh":
        control = control_accuracy(generated, requested_forms)
        rows.append(_row("control", "control accuracy (form codes)", control["accuracy"], None,
                         MEANINGS["control"], ""))
        for code, c in control["per_code"].items():
            rows.append(_row(f"control_{code}", f"  asked {code}", c["accuracy"], None,
                             f"{c['hits']} of {c['n']} texts asked for {code} came out as {code}.", ""))
    passes = None
    if checks and requested_forms is not None and language == "zh":
        from ganvas.text.forms import form_of

        passes = pass_rates(generated, requested_forms, checks)
        real_passes = pass_rates(real, [form_of(t) for t in real], checks)
        for name, p in passes.items():
            rows.append(_row(f"{name}_pass", f"{name} pass rate", p["rate"], real_passes[name]["rate"],
                             PASS_MEANINGS.get(name, f"Share of texts passing the {name} check."),
                             f"the regulated-verse poems among {k} training texts"))
    if language == "en":
        rows.append(_fd_row(generated, refs, real, notes))
    metrics = {"language": language, "n_generated": len(generated), "n_training": len(training),
               "n_heldout": len(heldout), "rows": rows, "memorisation": mem.to_dict(),
               "real_memorisation": {k2: v for k2, v in real_mem.to_dict().items() if k2 != "copies"},
               "control": control, "pass_rates": passes, "notes": notes,
               "ngram": {"order": DEFAULT_ORDER, "smoothing": "interpolated modified Kneser-Ney",
                         "heldout_nll": baseline}}
    return TextReport(metrics, _html(rows, notes, mem, generated, training, meta, n_samples))


def _fd_row(generated: list[str], refs: list[str], real: list[str], notes: list[str]) -> dict:
    from ganvas.errors import GanvasError
    from ganvas.eval.frechet import frechet_distance
    from ganvas.eval.sentence_net import FD_LABEL, MODEL_NAME, load_encoder

    try:
        enc = load_encoder()
    except GanvasError as e:
        notes.append(f"{FD_LABEL} not computed: {e}")
        return _row("fd", FD_LABEL, None, None, MEANINGS["fd"], "")
    if min(len(generated), len(refs), len(real)) < 2:
        notes.append(f"{FD_LABEL} needs at least 2 texts on each side")
        return _row("fd", FD_LABEL, None, None, MEANINGS["fd"], "")
    e_ref = enc.encode(refs)
    fd = frechet_distance(e_ref, enc.encode(generated), "reference text embeddings", "generated text embeddings")
    floor = frechet_distance(e_ref, enc.encode(real), "reference text embeddings", "real text embeddings")
    return _row("fd", FD_LABEL, fd, floor, MEANINGS["fd"], f"{len(real)} training texts ({MODEL_NAME} "
                f"{enc.sha256[:12]})")


def _poem(text: str, mark: str | None = None) -> str:
    body = html.escape(text)
    if mark:
        body = body.replace(html.escape(mark), f"<mark>{html.escape(mark)}</mark>")
    return f"<pre class='text'>{body}</pre>"


def _source(meta: Sequence[Mapping[str, Any]] | None, i: int) -> str:
    m = meta[i] if meta is not None and 0 <= i < len(meta) else {}
    who = " · ".join(str(m[k]) for k in ("title", "author") if m.get(k))
    return f"training text #{i}" + (f": {html.escape(who)}" if who else "")


def _html(rows: list[dict], notes: list[str], mem: Memorisation, generated: list[str], training: list[str],
          meta: Sequence[Mapping[str, Any]] | None, n_samples: int) -> str:
    parts = ["<section class='text-report'>"]
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in notes]
    parts.append("<table><tr><th>figure</th><th>generated</th><th>for comparison</th><th>meaning</th></tr>")
    for r in rows:
        what = f"<br><span class='small'>{html.escape(r['compare_what'])}</span>" if r["compare_what"] else ""
        parts.append(f"<tr><td>{html.escape(r['label'])}</td><td class='v'>{_fmt(r['generated'])}</td>"
                     f"<td class='v'>{_fmt(r['compare'])}</td><td class='small'>{html.escape(r['meaning'])}{what}"
                     "</td></tr>")
    parts.append("</table>")
    parts.append(f"<h3>Copied from the training texts</h3><p>{mem.copied} of {mem.verses} verses of ≥ {MIN_CHARS} "
                 f"characters occur verbatim in a training text; {len(mem.whole)} of {mem.n_texts} texts are "
                 "copies of a whole training text.</p>")
    if mem.copies:
        parts.append("<table><tr><th>generated</th><th>copied</th><th>source</th></tr>")
        for c in mem.copies[:N_COPIES]:
            parts.append(f"<tr><td>#{c.text}{_poem(generated[c.text], c.unit)}</td><td>{html.escape(c.kind)}: "
                         f"<b>{html.escape(c.unit)}</b></td><td>{_source(meta, c.source)}"
                         f"{_poem(training[c.source], c.unit)}</td></tr>")
        parts.append("</table>")
        if len(mem.copies) > N_COPIES:
            parts.append(f"<p class='small'>… and {len(mem.copies) - N_COPIES} more (metrics.json lists all).</p>")
    if n_samples > 0 and generated:
        parts.append("<h3>Generated texts</h3><div class='row'>")
        parts += [f"<div>{_poem(t)}</div>" for t in generated[:n_samples]]
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)
