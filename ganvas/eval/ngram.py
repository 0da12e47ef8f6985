"""A character n-gram language model: the baseline a text generator's held-out NLL must beat.

A neural language model that cannot beat a well-smoothed n-gram model on held-out text has learnt
nothing an n-gram table would not. So the baseline is made as strong as cheaply possible:

- **Tokens and events** are those of ganvas's character models (`ganvas.text.vocab`): each text is
  ``<bos> c₁ … cₙ <eos>``, every character and the final ``<eos>`` is predicted (``<bos>`` never is),
  and characters outside the vocabulary read as ``<unk>``. The vocabulary V is the training texts'
  characters, or the characters given (pass the neural model's own vocabulary, so both models spread
  probability over the same events), plus ``<eos>`` and ``<unk>``. NLL is in nats per predicted token.
- **Contexts at the start** are not padded: the first character's context is ``<bos>`` alone, as in
  KenLM, so the start of a text is learnt from raw counts of grams beginning with ``<bos>``.
- **Smoothing**: interpolated modified Kneser–Ney (Chen & Goodman 1998), the default, or interpolated
  Witten–Bell. Kneser–Ney: at the highest order and for grams beginning with ``<bos>`` the counts are
  raw; at lower orders a gram's count is its number of distinct left neighbours (continuation count).
  Three discounts per order, D₁, D₂, D₃₊, come from the counts of counts n₁…n₄ of that order:
  Y = n₁/(n₁ + 2n₂), D_j = j − (j+1)·Y·n_{j+1}/n_j (clamped to [0, j]; where undefined on tiny
  corpora, D_j = Y). Then, for a context h and its shortened context h′,
      p(w | h) = (max(a(hw) − D(a(hw)), 0) + (D₁N₁(h•) + D₂N₂(h•) + D₃N₃₊(h•)) · p(w | h′)) / Σ_w a(hw),
  a context never seen backs off to p(w | h′) whole, and the order-0 distribution is uniform over V.
  Witten–Bell: p(w | h) = (c(hw) + T(h)·p(w | h′)) / (c(h) + T(h)), T(h) = distinct tokens after h.
  Both sum to exactly 1 over V in every context.

Order (measured by ``tests/test_text_metrics.py::test_ngram_order_on_tang_poems``'s split of the 313
poems of Debian's tang300, every tenth held out): held-out NLL per token, nats,

    order              1      2      3      4      5
    Kneser–Ney       6.493  6.029  6.023  6.021  6.021
    Witten–Bell      6.509  6.264  6.409  6.465  6.473

and in 10-fold cross-validation on tang300 + song100 (408 poems) Kneser–Ney gives 6.425, 5.848, 5.838,
5.838 for orders 1–4 (Witten–Bell 6.441, 6.073, 6.218, 6.280). Poems share few character sequences
longer than two, so beyond bigrams the gain is small, and Witten–Bell gets worse with order where
Kneser–Ney does not. `DEFAULT_ORDER` = 3 with Kneser–Ney: within 0.002 nat of the best order, and a
longer context never costs Kneser–Ney anything, so the baseline is not weakened by a short one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from ganvas.errors import GanvasError

BOS, EOS, UNK = "<bos>", "<eos>", "<unk>"
DEFAULT_ORDER = 3
SMOOTHINGS = ("kn", "wb")


def nll_per_token(sum_logprob: float, n_tokens: int) -> float:
    """Negative log-likelihood per token (nats) from a total log-probability (natural log) over `n_tokens`."""
    if n_tokens <= 0:
        raise GanvasError(f"NLL per token needs at least one token, got n_tokens={n_tokens}")
    return -float(sum_logprob) / n_tokens


def perplexity(nll: float) -> float:
    """Perplexity of an NLL per token in nats: exp(nll), the effective number of equally likely next tokens."""
    return math.exp(nll)


class _Context:
    """One context's counts at one order: counts per next token, their total, the back-off mass."""

    __slots__ = ("counts", "total", "backoff")

    def __init__(self, counts: dict[str, float], total: float, backoff: float) -> None:
        self.counts, self.total, self.backoff = counts, total, backoff


class NgramLM:
    """Interpolated modified Kneser–Ney (or Witten–Bell) character n-gram model; see the module docstring."""

    def __init__(self, order: int = DEFAULT_ORDER, smoothing: str = "kn",
                 discounts: Sequence[float] | None = None) -> None:
        """order: n (1 = unigram); smoothing: kn | wb; discounts: fixed (D₁, D₂, D₃₊) for every order
        instead of estimated ones (Kneser–Ney only; tests and tiny corpora)."""
        if not isinstance(order, int) or not 1 <= order <= 8:
            raise GanvasError(f"n-gram order must be an integer from 1 to 8, got {order!r}")
        if smoothing not in SMOOTHINGS:
            raise GanvasError(f"n-gram smoothing must be one of {', '.join(SMOOTHINGS)}, got {smoothing!r}")
        if discounts is not None and (len(discounts) != 3 or any(not 0 <= d <= j + 1
                                                                  for j, d in enumerate(discounts))):
            raise GanvasError(f"discounts must be (D1, D2, D3+) with 0 ≤ Dj ≤ j, got {discounts!r}")
        self.order, self.smoothing = order, smoothing
        self.fixed_discounts = tuple(discounts) if discounts is not None else None
        self.vocab: list[str] = []                           # the predicted events: characters, <eos>, <unk>
        self.discounts: dict[int, tuple[float, float, float]] = {}   # order → (D1, D2, D3+) (Kneser–Ney)
        self.tables: list[dict[tuple[str, ...], _Context]] = []      # tables[k]: contexts of k tokens
        self._known: frozenset[str] = frozenset()

    # --- fitting -----------------------------------------------------------------------------------

    def tokens(self, text: str) -> list[str]:
        """``<bos>``, the characters of `text` (unknown ones as ``<unk>``), ``<eos>``."""
        known = self._known
        return [BOS, *(c if c in known else UNK for c in text), EOS]

    def fit(self, texts: Iterable[str], vocab: Iterable[str] | None = None) -> NgramLM:
        """Count `texts` (training texts); `vocab`: the characters to know (default: those of `texts`)."""
        texts = list(texts)
        if not texts:
            raise GanvasError("the n-gram baseline needs at least one training text")
        chars = sorted(set(vocab) if vocab is not None else {c for t in texts for c in t})
        self._known = frozenset(chars)
        self.vocab = [*chars, EOS, UNK]
        n = self.order
        raw: list[Counter] = [Counter() for _ in range(n)]      # raw[k-1][gram of k tokens]
        for t in texts:
            seq = self.tokens(t)
            for i in range(1, len(seq)):
                for k in range(1, min(n, i + 1) + 1):
                    raw[k - 1][tuple(seq[i - k + 1:i + 1])] += 1
        if self.smoothing == "wb":
            counts = raw
        else:
            counts = [Counter() for _ in range(n)]
            counts[n - 1] = raw[n - 1]
            for k in range(1, n):
                adj = counts[k - 1]
                for g, c in raw[k - 1].items():
                    if g[0] == BOS:
                        adj[g] = c
                for g in raw[k]:                          # one distinct left neighbour g[0] of g[1:]
                    adj[g[1:]] += 1
        self.tables = [self._table(k, counts[k - 1]) for k in range(1, n + 1)]
        return self

    def _estimate_discounts(self, counts: Counter) -> tuple[float, float, float]:
        if self.fixed_discounts is not None:
            return self.fixed_discounts             # type: ignore[return-value]
        nj = Counter(c for c in counts.values() if c <= 4)
        n1, n2, n3, n4 = (nj[j] for j in (1, 2, 3, 4))
        y = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
        out = []
        for j, (a, b) in enumerate(((n1, n2), (n2, n3), (n3, n4)), start=1):
            d = j - (j + 1) * y * b / a if a > 0 else y
            out.append(min(max(d, 0.0), float(j)))
        return out[0], out[1], out[2]

    def _table(self, k: int, counts: Counter) -> dict[tuple[str, ...], _Context]:
        by_ctx: dict[tuple[str, ...], dict[str, float]] = defaultdict(dict)
        for g, c in counts.items():
            by_ctx[g[:-1]][g[-1]] = c
        table = {}
        if self.smoothing == "wb":
            for h, ws in by_ctx.items():
                total, types = sum(ws.values()), len(ws)
                table[h] = _Context(ws, total + types, types)
            return table
        d = self.discounts[k] = self._estimate_discounts(counts)
        for h, ws in by_ctx.items():
            discounted = {w: c - d[min(int(c), 3) - 1] for w, c in ws.items()}
            total = sum(ws.values())
            table[h] = _Context(discounted, total, total - sum(discounted.values()))
        return table

    # --- probabilities -----------------------------------------------------------------------------

    def prob(self, token: str, context: Sequence[str] = ()) -> float:
        """p(token | context); `context` is the tokens before it (``<bos>`` first at a text's start)."""
        if not self.tables:
            raise GanvasError("the n-gram model is not fitted: call fit(texts) first")
        context = tuple(context)[-(self.order - 1):] if self.order > 1 else ()
        p = 1.0 / len(self.vocab)
        for k in range(0, len(context) + 1):
            h = context[len(context) - k:]
            ctx = self.tables[k].get(h)
            if ctx is None:
                break                                     # an unseen context: longer ones are unseen too
            p = (max(ctx.counts.get(token, 0.0), 0.0) + ctx.backoff * p) / ctx.total
        return p

    def logprob(self, text: str) -> tuple[float, int]:
        """(natural-log probability of `text` with its ``<eos>``, number of predicted tokens)."""
        seq = self.tokens(text)
        n = self.order
        lp = 0.0
        for i in range(1, len(seq)):
            lp += math.log(self.prob(seq[i], seq[max(0, i - n + 1):i]))
        return lp, len(seq) - 1

    def nll(self, texts: Iterable[str]) -> float:
        """Held-out NLL in nats per predicted token (characters and each text's ``<eos>``), over all `texts`."""
        total, count = 0.0, 0
        for t in texts:
            lp, n = self.logprob(t)
            total, count = total + lp, count + n
        return nll_per_token(total, count)
