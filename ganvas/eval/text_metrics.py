"""Metrics of generated texts: BLEU against held-out texts, self-BLEU, distinct-n, control and pass rates.

Texts are Python strings in the text domain's format (a poem: one couplet per line, verses ended by
punctuation). Every figure here is computed the same way on real texts, so a report can show what a
real sample of the same size scores.

**BLEU** (Papineni et al.) is sacrebleu's corpus BLEU with its tokenisation (``zh``: every Chinese
character and punctuation mark a token; ``13a``: words, the WMT default, for English); line breaks
count as spaces. References are used as in Texygen (Zhu et al. 2018) and Caccia et al. ("Language GANs
Falling Short"): there is no aligned reference for a generated text, so **every** held-out text is a
reference of **every** generated text. A generated n-gram counts as matched up to the largest number of
times it occurs in any one reference, and the brevity penalty uses, per generated text, the
reference length closest to it (shorter on ties); matched and total counts are summed over all
generated texts before the geometric mean (corpus level, sacrebleu's default ``exp`` smoothing). BLEU-n
uses n-grams of order 1…n with equal weights, 0–100. The statistics are sacrebleu's
(``_extract_reference_info`` merged once instead of once per text, which is the same number:
``tests/test_text_metrics.py`` checks it against ``sacrebleu.corpus_bleu`` with the references repeated).

**Self-BLEU** (Texygen) is the same BLEU of each generated text against all the *other* generated
texts as references: high means the outputs repeat one another (low diversity); real texts show the
natural level.

**distinct-n** (Li et al. 2016) is the number of distinct n-grams over the number of n-grams in all the
texts together, with BLEU's tokens (n-grams never cross from one text to the next).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ganvas.errors import GanvasError
from ganvas.text.forms import FORMS, OTHER, form_of

TOKENIZERS = {"zh": "zh", "en": "13a"}


def _tokenizer(language: str) -> Callable[[str], str]:
    """sacrebleu's tokeniser for `language`, line breaks and runs of spaces read as one space."""
    if language not in TOKENIZERS:
        raise GanvasError(f"text language must be one of {', '.join(TOKENIZERS)}, got {language!r}")
    tok = _sacrebleu_tokenizer(TOKENIZERS[language])
    return lambda text: tok(" ".join(text.split()))


@functools.cache
def _sacrebleu_tokenizer(name: str) -> Callable[[str], str]:
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(tokenize=name).tokenizer


def tokens(text: str, language: str) -> list[str]:
    """The tokens BLEU and distinct-n count: sacrebleu's ``zh`` (characters) or ``13a`` (words) tokenisation."""
    return _tokenizer(language)(text).split()


def _ngrams(toks: Sequence[str], max_n: int) -> Counter:
    return Counter(tuple(toks[i:i + n]) for n in range(1, max_n + 1) for i in range(len(toks) - n + 1))


def _closest(length: int, lengths: Counter) -> int:
    """sacrebleu's closest reference length: smallest |difference|, the shorter one on ties."""
    return min((ln for ln, k in lengths.items() if k > 0), key=lambda ln: (abs(length - ln), ln))


def _score(stats: list[list[int]], max_n: int) -> float:
    from sacrebleu.metrics.bleu import BLEU

    hyp_len, ref_len = sum(s[0] for s in stats), sum(s[1] for s in stats)
    correct = [sum(s[2 + i] for s in stats) for i in range(max_n)]
    total = [sum(s[2 + max_n + i] for s in stats) for i in range(max_n)]
    return float(BLEU.compute_bleu(correct, total, hyp_len, ref_len, smooth_method="exp",
                                   max_ngram_order=max_n).score)


def _stats(hyp: Counter, hyp_len: int, ref_max: Callable[[tuple], int], ref_len: int, max_n: int) -> list[int]:
    correct, total = [0] * max_n, [0] * max_n
    for g, c in hyp.items():
        total[len(g) - 1] += c
        correct[len(g) - 1] += min(c, ref_max(g))
    return [hyp_len, ref_len, *correct, *total]


def _checked(texts: Sequence[str], what: str) -> list[str]:
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise GanvasError(f"{what}: item {bad[0]} is {type(texts[bad[0]]).__name__}, expected a string")
    return texts


def bleu(generated: Sequence[str], references: Sequence[str], n: int = 2, language: str = "zh") -> float:
    """Corpus BLEU-`n` (0–100) of `generated` texts, each against all `references` (see the module docstring)."""
    generated, references = _checked(generated, "generated texts"), _checked(references, "reference texts")
    if not generated or not references:
        raise GanvasError(f"BLEU needs generated and reference texts, got {len(generated)} and {len(references)}")
    tok = _tokenizer(language)
    ref_max: Counter = Counter()
    lengths: Counter = Counter()
    for r in references:
        toks = tok(r).split()
        lengths[len(toks)] += 1
        for g, c in _ngrams(toks, n).items():
            if c > ref_max[g]:
                ref_max[g] = c
    stats = []
    for h in generated:
        toks = tok(h).split()
        stats.append(_stats(_ngrams(toks, n), len(toks), ref_max.__getitem__, _closest(len(toks), lengths), n))
    return _score(stats, n)


def self_bleu(texts: Sequence[str], n: int = 2, language: str = "zh") -> float:
    """Corpus BLEU-`n` of each text against all the others (0–100; high: the texts repeat one another)."""
    texts = _checked(texts, "texts")
    if len(texts) < 2:
        raise GanvasError(f"self-BLEU needs at least 2 texts, got {len(texts)}")
    tok = _tokenizer(language)
    toks = [tok(t).split() for t in texts]
    grams = [_ngrams(t, n) for t in toks]
    best: dict[tuple, tuple[int, int, int]] = {}       # n-gram → (largest count, its text, largest count elsewhere)
    for i, gs in enumerate(grams):
        for g, c in gs.items():
            top, who, second = best.get(g, (0, -1, 0))
            best[g] = (c, i, top) if c > top else (top, who, max(second, c))
    lengths = Counter(len(t) for t in toks)
    stats = []
    for i, gs in enumerate(grams):
        def others(g: tuple, i: int = i) -> int:
            top, who, second = best[g]
            return second if who == i else top
        lengths[len(toks[i])] -= 1
        stats.append(_stats(gs, len(toks[i]), others, _closest(len(toks[i]), lengths), n))
        lengths[len(toks[i])] += 1
    return _score(stats, n)


def distinct_n(texts: Sequence[str], n: int, language: str = "zh") -> float:
    """Distinct n-grams / all n-grams over `texts` (BLEU's tokens; NaN when the texts hold no n-gram)."""
    tok = _tokenizer(language)
    seen: set[tuple] = set()
    total = 0
    for t in _checked(texts, "texts"):
        w = tok(t).split()
        for i in range(len(w) - n + 1):
            seen.add(tuple(w[i:i + n]))
            total += 1
    return len(seen) / total if total else math.nan


# --- control and form ---------------------------------------------------------------------------------

def control_accuracy(texts: Sequence[str], requested: Sequence[str | None]) -> dict[str, Any]:
    """How often a requested form code gives that form (`form_of` of the output == the code).

    Texts requested as ``other`` or with no form (None, "?") are left out: ``other`` is not a form one can
    check. Returns {"accuracy": overall share (NaN when nothing was requested), "n": texts counted,
    "per_code": {code: {"hits", "n", "accuracy"}}} in `FORMS` order.
    """
    texts = _checked(texts, "texts")
    if len(texts) != len(requested):
        raise GanvasError(f"control accuracy: {len(texts)} texts but {len(requested)} requested forms")
    per: dict[str, list[int]] = {}
    for t, code in zip(texts, requested, strict=True):
        if code in (None, "?", OTHER):
            continue
        if code not in FORMS:
            raise GanvasError(f"control accuracy: requested form {code!r} is not one of {', '.join(FORMS)}, other")
        hits = per.setdefault(code, [0, 0])
        hits[0] += form_of(t) == code
        hits[1] += 1
    hit, n = sum(h for h, _ in per.values()), sum(k for _, k in per.values())
    return {"accuracy": hit / n if n else math.nan, "n": n,
            "per_code": {c: {"hits": per[c][0], "n": per[c][1], "accuracy": per[c][0] / per[c][1]}
                         for c in FORMS if c in per}}


def _wants_form(check: Callable) -> bool:
    try:
        params = [p for p in inspect.signature(check).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty]
    except (TypeError, ValueError):
        return False
    return len(params) >= 2


def pass_rates(texts: Sequence[str], forms: Sequence[str | None],
               checks: Mapping[str, Callable[..., bool]]) -> dict[str, Any]:
    """Share of `texts` passing each check, over the texts requested in one of the `FORMS`.

    checks: name → check function; one taking two arguments is called as ``check(text, form)`` (e.g.
    ``form_pass``), one taking one as ``check(text)`` (``rhyme_pass``, ``tonal_pass``). Passed as
    arguments so that metrics do not depend on which checker module is installed. Returns
    {name: {"rate", "passed", "n", "per_form": {form: {"rate", "passed", "n"}}}}; rates are NaN over 0 texts.
    """
    texts = _checked(texts, "texts")
    if len(texts) != len(forms):
        raise GanvasError(f"pass rates: {len(texts)} texts but {len(forms)} forms")
    picked = [(t, f) for t, f in zip(texts, forms, strict=True) if f in FORMS]
    out: dict[str, Any] = {}
    for name, check in checks.items():
        two = _wants_form(check)
        per: dict[str, list[int]] = {}
        for t, f in picked:
            ok = bool(check(t, f) if two else check(t))
            c = per.setdefault(f, [0, 0])
            c[0] += ok
            c[1] += 1
        passed, n = sum(p for p, _ in per.values()), sum(k for _, k in per.values())
        out[name] = {"rate": passed / n if n else math.nan, "passed": passed, "n": n,
                     "per_form": {f: {"rate": per[f][0] / per[f][1], "passed": per[f][0], "n": per[f][1]}
                                  for f in FORMS if f in per}}
    return out
