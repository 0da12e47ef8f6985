"""The constrained decoder: a language model writes, masks keep it to a form, a rhyme, tones and requests.

A model is driven through `StepModel` (``start(codes)`` → logits of the first text token; ``step(tokens)``
→ logits of the next), a batch of rows at once. At each position every row gets its own mask of allowed
tokens; the model's logits outside it are dropped, and the token is drawn from the rest at the given
temperature (and top-k) by the inverse CDF of that position's noise ``u[:, t]``. The output is therefore a
pure function of the model, the constraints and the noise: the same ``u`` row gives the same tokens at any
batch size.

**With a form** (五绝, 七绝, 五律, 七律) a row's layout is fixed up front: the form's verses × characters
(Chinese characters only, `pingshui.is_hanzi`), "，" forced after odd verses, one of "。？！" (the model
chooses) after even ones, "\\n" after every couplet but the last, then <eos>; <pad> after. So every output
passes `checks.form_pass`, and:
- **rhyme**: the last character of every even verse is drawn from one 平声 group. The candidate groups
  are those with enough distinct characters in the vocabulary for the free rhyme places (and holding any
  rhyme character already forced); the first free rhyme place chooses among all of them, which narrows
  the group to those of the character drawn. A rhyme character is never repeated. Every output passes
  `checks.rhyme_pass`.
- **tones** (the lenient rule of `checks`): the 2nd, 4th (and 6th) characters of every verse follow one
  of the two regulated templates, fixed by the first character drawn there whose tone is definite (or up
  front, by a forced character's): a character of definite tone must have the template's tone at its
  place; characters of both tones or unknown tone are always allowed. Every output passes
  `checks.tonal_pass` (the template is stricter than the pairwise check, never looser).
- **acrostic** (藏头诗): one character per verse, the first character of verses 1, 2, …: a 绝句 takes up to
  four (the usual 4-character acrostic), a 律诗 up to eight.
- **first line**: one verse, or a couplet (two verses), forced as the opening.
- **keywords**: each keyword's characters forced inside one verse, at a place drawn from the noise of the
  positions whose token is forced anyway (after "，", "\\n" and <eos>: a form has as many as verses, so at
  most that many keywords), among the places that clash with no forced character, keep the tone template
  and rhyme possible, and leave room for the remaining keywords. A keyword already inside a forced verse
  is not placed again.

**Without a form** (free text; English): the model writes until it draws <eos>, or until ``max_chars``
characters (then <eos> is forced), or, at ``max_lines`` lines, where a line break would start one more
line, its probability goes to <eos>. A first line is then a forced prefix. The last position of ``u``
always holds <eos> at the latest.

**Reporting**: every request that cannot be met raises a one-line `GanvasError` saying what is allowed:
at `constraints_for` for everything the vocabulary decides (an acrostic longer than the form's verses, a
character outside the vocabulary, a first line that does not fit the form or breaks the tone rule, a rhyme
no 平声 group can give, keywords that cannot all be placed), and at `decode` for the rest (noise too short
for the form, and, should it ever happen, a position where no token is allowed). Nothing is silently dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

import torch

from ganvas.errors import GanvasError
from ganvas.text import pingshui
from ganvas.text.checks import EVEN_ENDS, ODD_END, tone_class, tone_positions
from ganvas.text.forms import FORMS, layout, verses
from ganvas.text.pingshui import is_hanzi
from ganvas.text.vocab import EOS_ID, PAD_ID, Vocab

LANGUAGES = ("zh", "en")
NEWLINE = "\n"
_TONE_CODE = {pingshui.PING: 1, pingshui.ZE: 2}   # tone codes in tensors: 0 free (both or unknown), 1 平, 2 仄
KEYWORD_SEARCH_LIMIT = 20000                      # placements tried when checking keywords fit, at most


class StepModel(Protocol):
    """What the decoder drives: a batched autoregressive model over a `Vocab`'s token ids."""

    def start(self, codes: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """codes [B, F] code-token ids → logits [B, V] of the first text token, and the state."""
        ...

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """tokens [B] just written → logits [B, V] of the next token, and the new state."""
        ...


@dataclass(frozen=True)
class Constraints:
    """What one row must be; build it with `constraints_for`, which checks it against the vocabulary."""

    language: str = "zh"
    form: str | None = None             # one of FORMS, or None for free text
    acrostic: str = ""                  # first characters of verses 1, 2, …
    keywords: tuple[str, ...] = ()
    first_line: str = ""                # a form: one verse or a couplet ("，"-separated); free text: a prefix
    rhyme: bool = True                  # a form's even verses rhyme in one 平声 group
    tones: bool = True                  # a form keeps the lenient 平仄 rule
    max_lines: int | None = None        # free text only
    max_chars: int | None = None        # free text only

    def length(self) -> int | None:
        """Tokens a form's poem takes, <eos> included (None for free text)."""
        if self.form is None:
            return None
        n, k = layout(self.form)
        return n * (k + 1) + n // 2       # verses and their marks, n/2 − 1 line breaks, <eos>

    def first_verses(self) -> list[str]:
        return verses(self.first_line) if self.form else []


# --- per-vocabulary tables ------------------------------------------------------------------------

@dataclass
class _VocabTables:
    size: int
    hanzi: torch.Tensor                 # [V] bool: tokens a verse may hold
    tone: torch.Tensor                  # [V] long: 0 free, 1 平, 2 仄
    tone_ok: torch.Tensor               # [3, V] bool: not of the other tone than r (1 平, 2 仄; r = 0: all)
    member: torch.Tensor                # [G, V] float: 平声 group g holds token v (a verse character)
    sizes: list[int]                    # [G] in-vocabulary verse characters per 平声 group
    base: torch.Tensor                  # [KINDS, V] bool: the tokens allowed per kind of position
    ids: dict[str, int] = field(default_factory=dict)   # the character → id of every vocabulary character


KIND_FREE, KIND_VERSE, KIND_FORCED, KIND_END = range(4)


@lru_cache(maxsize=8)
def _tables_for(first_char: int, chars: str) -> _VocabTables:
    size = first_char + len(chars)
    ids = {c: first_char + i for i, c in enumerate(chars)}
    n_ping = len(pingshui.all_groups(pingshui.PING))
    hanzi = torch.zeros(size, dtype=torch.bool)
    tone = torch.zeros(size, dtype=torch.long)
    member = torch.zeros(n_ping, size)
    for c, i in ids.items():
        if is_hanzi(c):
            hanzi[i] = True
            t = tone_class(c)
            tone[i] = _TONE_CODE[t] if t else 0
            for g in pingshui.ping_group_ids(c):
                member[g, i] = 1.0
    tone_ok = torch.stack([torch.ones(size, dtype=torch.bool), tone != 2, tone != 1])
    base = torch.zeros(4, size, dtype=torch.bool)
    base[KIND_FREE, first_char:] = True
    base[KIND_FREE, EOS_ID] = True
    base[KIND_VERSE] = hanzi
    for c in EVEN_ENDS:
        if c in ids:
            base[KIND_END, ids[c]] = True
    return _VocabTables(size, hanzi, tone, tone_ok, member, [int(s) for s in member.sum(1)], base, ids)


def vocab_tables(vocab: Vocab) -> _VocabTables:
    """The masks of `vocab`, computed once per vocabulary (cached)."""
    return _tables_for(vocab.first_char, "".join(vocab.chars))


# --- the grid of a form: forced characters, the tone template, rhyme groups -------------------------

def _implied_template(c: str, parity: int) -> int:
    """The template (tone of verse 1's 2nd character: 1 平, 2 仄) a character of definite tone implies at a
    place of `parity` (0: the template's own tone, 1: the opposite); 0 for a character of free tone."""
    t = tone_class(c)
    if t is None:
        return 0
    code = _TONE_CODE[t]
    return code if parity == 0 else 3 - code


def _parity(v: int, j: int, k: int) -> int:
    """0 where a verse-`v` character at place `j` has the template's tone, 1 where the opposite (0-based)."""
    second = ((v + 1) // 2) % 2                    # 2nd characters: verse 1 = template, 2–3 opposite, 4–5 same, …
    return second ^ (tone_positions(k).index(j) % 2)


@dataclass
class _Grid:
    """The forced characters of one form's poem and what they decide (used to validate and to place)."""

    n: int
    k: int
    tones: bool
    rhyme: bool
    sizes: list[int]
    forced: dict[tuple[int, int], str] = field(default_factory=dict)
    template: int = 0                              # 0 undecided, 1 平起 (verse 1's 2nd character 平), 2 仄起

    def rhyme_place(self, v: int, j: int) -> bool:
        return self.rhyme and v % 2 == 1 and j == self.k - 1

    def tone_place(self, v: int, j: int) -> bool:
        return self.tones and j in tone_positions(self.k)

    def rhyme_chars(self) -> list[str]:
        return [c for (v, j), c in sorted(self.forced.items()) if self.rhyme_place(v, j)]

    def groups(self) -> list[int]:
        """The 平声 groups still possible: holding every forced rhyme character, with enough others for the rest."""
        if not self.rhyme:
            return []
        chars = self.rhyme_chars()
        if len(set(chars)) < len(chars):
            return []
        need = self.n // 2 - len(chars)
        cand = set(range(len(self.sizes)))
        for c in chars:
            cand &= set(pingshui.ping_group_ids(c))
        return sorted(g for g in cand if self.sizes[g] - len(chars) >= need)

    def with_chars(self, placed: dict[tuple[int, int], str]) -> _Grid | None:
        """This grid with `placed` forced too, or None when they clash (another character, the tone template,
        no rhyme group left)."""
        template = self.template
        for (v, j), c in placed.items():
            old = self.forced.get((v, j))
            if old is not None and old != c:
                return None
            if self.tone_place(v, j):
                implied = _implied_template(c, _parity(v, j, self.k))
                if implied and template and implied != template:
                    return None
                template = template or implied
        grid = _Grid(self.n, self.k, self.tones, self.rhyme, self.sizes, {**self.forced, **placed}, template)
        if self.rhyme and any(self.rhyme_place(v, j) for v, j in placed) and not grid.groups():
            return None
        return grid

    def holds(self, word: str) -> bool:
        """`word` already stands, whole, inside a verse of forced characters."""
        for v in range(self.n):
            line = "".join(self.forced.get((v, j), "\0") for j in range(self.k))
            if word in line:
                return True
        return False

    def placements(self, word: str) -> list[dict[tuple[int, int], str]]:
        return [{(v, o + i): c for i, c in enumerate(word)}
                for v in range(self.n) for o in range(self.k - len(word) + 1)]


def _fits(grid: _Grid, words: Sequence[str], budget: list[int]) -> bool:
    """Whether `words` can all be placed on `grid` (a depth-first search, at most `budget[0]` placements)."""
    if not words:
        return True
    if grid.holds(words[0]):
        return _fits(grid, words[1:], budget)
    for placed in grid.placements(words[0]):
        budget[0] -= 1
        if budget[0] < 0:
            raise GanvasError(f"keywords {', '.join(words)}: too many to place; ask for fewer or shorter ones")
        nxt = grid.with_chars(placed)
        if nxt is not None and _fits(nxt, words[1:], budget):
            return True
    return False


def _place(grid: _Grid, words: Sequence[str], noise: Sequence[float]) -> _Grid:
    """Place each keyword where the noise says, among the places that leave room for the rest."""
    for i, word in enumerate(words):
        if grid.holds(word):
            continue
        options = []
        for placed in grid.placements(word):
            nxt = grid.with_chars(placed)
            if nxt is not None and _fits(nxt, words[i + 1:], [KEYWORD_SEARCH_LIMIT]):
                options.append(nxt)
        if not options:                            # constraints_for checked the words fit: a bug if reached
            raise GanvasError(f"keyword {word!r} cannot be placed")
        grid = options[min(int(noise[i] * len(options)), len(options) - 1)]
    return grid


def _base_grid(c: Constraints, tables: _VocabTables) -> _Grid:
    """The grid of `c` with its first line and acrostic forced, checked (keywords are not placed yet)."""
    n, k = layout(c.form or "")
    grid = _Grid(n, k, c.tones, c.rhyme, tables.sizes)
    if c.rhyme and not grid.groups():
        best = max(tables.sizes, default=0)
        raise GanvasError(f"no 平声 rhyme group has {n // 2} characters in the model's vocabulary (the largest "
                          f"has {best}): a {c.form} cannot rhyme; pass rhyme=False")
    first = c.first_verses()
    placed = {(v, j): ch for v, line in enumerate(first) for j, ch in enumerate(line)}
    nxt = grid.with_chars(placed)
    if nxt is None:
        if c.tones and _Grid(n, k, False, c.rhyme, tables.sizes).with_chars(placed) is not None:
            raise GanvasError(f"first line {c.first_line!r} does not keep the 平仄 rule (2nd, 4th, 6th characters "
                              "alternating, opposite in a couplet); pass tones=False to keep it")
        end = first[-1][-1]
        why = ("is not in any 平声 rhyme group" if not pingshui.ping_group_ids(end) else
               f"has no 平声 group with {n // 2} characters in the vocabulary")
        raise GanvasError(f"first line {c.first_line!r}: its rhyme character {end!r} {why}; pass rhyme=False "
                          "to keep it")
    grid = nxt
    for v, ch in enumerate(c.acrostic):
        nxt = grid.with_chars({(v, 0): ch})
        if nxt is None:
            raise GanvasError(f"acrostic character {ch!r} clashes with the first line {c.first_line!r}, "
                              f"which starts verse {v + 1} with {grid.forced[(v, 0)]!r}")
        grid = nxt
    return grid


# --- building and checking a request ---------------------------------------------------------------

def _in_vocab(text: str, vocab: Vocab, what: str, hanzi: bool) -> None:
    for ch in dict.fromkeys(text):
        if hanzi and not is_hanzi(ch):
            raise GanvasError(f"{what} {text!r}: {ch!r} is not a Chinese character (only characters are allowed)")
        if ch not in vocab.index:
            raise GanvasError(f"{what} {text!r}: {ch!r} is not in the model's vocabulary of {len(vocab.chars)} "
                              "characters")


def constraints_for(vocab: Vocab, language: str = "zh", form: str | None = None, acrostic: str | None = None,
                    keywords: Sequence[str] = (), first_line: str | None = None, rhyme: bool = True,
                    tones: bool = True, max_lines: int | None = None, max_chars: int | None = None) -> Constraints:
    """A checked request for one row: every request `vocab` cannot honour is a one-line `GanvasError`."""
    if language not in LANGUAGES:
        raise GanvasError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    acrostic = "".join((acrostic or "").split())
    first_line = (first_line or "").strip()
    if isinstance(keywords, str):
        keywords = [keywords]
    keywords = tuple(keywords)
    if form is None:
        if acrostic or keywords:
            raise GanvasError(f"an acrostic or keywords need a form: one of {', '.join(FORMS)}")
        for name, value in (("max_lines", max_lines), ("max_chars", max_chars)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise GanvasError(f"{name} must be a whole number >= 1, got {value!r}")
        if max_chars is not None and len(first_line) > max_chars:
            raise GanvasError(f"first line {first_line!r} is longer than max_chars={max_chars}")
        if max_lines is not None and first_line.count(NEWLINE) >= max_lines:
            raise GanvasError(f"first line {first_line!r} has more than max_lines={max_lines} lines")
        _in_vocab(first_line, vocab, "first line", hanzi=False)
        return Constraints(language, None, "", (), first_line, rhyme, tones, max_lines, max_chars)

    if language != "zh":
        raise GanvasError(f"verse forms are Chinese: form {form!r} needs language 'zh', got {language!r}")
    n, k = layout(form)
    if max_lines is not None or max_chars is not None:
        raise GanvasError(f"max_lines and max_chars are for free text; the form {form} fixes {n} verses of {k}")
    tables = vocab_tables(vocab)
    for mark, what in ((ODD_END, "'，'"), (NEWLINE, "line breaks")):
        if mark not in tables.ids:
            raise GanvasError(f"the model's vocabulary has no {what}: it cannot write a {form}")
    if not tables.base[KIND_END].any():
        raise GanvasError(f"the model's vocabulary has none of {EVEN_ENDS}: it cannot write a {form}")
    if tones and not ((tables.hanzi & tables.tone_ok[1]).any() and (tables.hanzi & tables.tone_ok[2]).any()):
        raise GanvasError("the model's vocabulary lacks characters of one tone (平 or 仄); pass tones=False")
    if len(acrostic) > n:
        raise GanvasError(f"acrostic {acrostic!r} has {len(acrostic)} characters; a {form} has {n} verses "
                          f"(one acrostic character per verse): give at most {n}")
    _in_vocab(acrostic, vocab, "acrostic", hanzi=True)
    if first_line:
        lines = verses(first_line)
        if len(lines) not in (1, 2) or any(len(v) != k for v in lines):
            raise GanvasError(f"first line {first_line!r} does not fit a {form}: give one verse of {k} characters "
                              f"or a couplet of two (e.g. 白日依山尽，黄河入海流)")
        _in_vocab("".join(lines), vocab, "first line", hanzi=True)
        first_line = "，".join(lines)
    if len(keywords) > n:
        raise GanvasError(f"{len(keywords)} keywords: a {form} takes at most {n} (one per verse's worth of noise)")
    for word in keywords:
        word_chars = "".join(word.split())
        if not word_chars or len(word_chars) > k:
            raise GanvasError(f"keyword {word!r} must have 1 to {k} characters to fit in a verse of a {form}")
        _in_vocab(word_chars, vocab, "keyword", hanzi=True)
    keywords = tuple("".join(w.split()) for w in keywords)
    c = Constraints(language, form, acrostic, keywords, first_line, rhyme, tones, None, None)
    grid = _base_grid(c, tables)
    if not _fits(grid, keywords, [KEYWORD_SEARCH_LIMIT]):
        raise GanvasError(f"keywords {', '.join(keywords)} cannot all be placed in a {form} with these requests "
                          "(they clash with each other, the acrostic, the first line, the rhyme or the tones)")
    return c


# --- the plan of a batch: what each position of each row may hold ----------------------------------

@dataclass
class _Plan:
    kind: torch.Tensor            # [B, T] long: KIND_*
    forced: torch.Tensor          # [B, T] long: the token of a KIND_FORCED position
    parity: torch.Tensor          # [B, T] long: −1 no tone rule, 0 the template's tone, 1 the opposite
    rhyme: torch.Tensor           # [B, T] bool: a free rhyme position
    template: torch.Tensor        # [B] long: 0 undecided, 1 平起, 2 仄起
    groups: torch.Tensor          # [B, G] float: 平声 groups still open
    used: torch.Tensor            # [B, V] bool: rhyme characters taken (or forced later)
    max_chars: torch.Tensor       # [B] long: free text: characters before <eos> is forced
    max_breaks: torch.Tensor      # [B] long: free text: line breaks allowed


def _plan(vocab: Vocab, tables: _VocabTables, constraints: Sequence[Constraints], u: torch.Tensor) -> _Plan:
    b, t_len = u.shape
    big = t_len + 1
    kind = torch.full((b, t_len), KIND_FREE, dtype=torch.long)
    forced = torch.full((b, t_len), PAD_ID, dtype=torch.long)
    parity = torch.full((b, t_len), -1, dtype=torch.long)
    rhyme = torch.zeros(b, t_len, dtype=torch.bool)
    template = torch.zeros(b, dtype=torch.long)
    groups = torch.zeros(b, tables.member.shape[0])
    used = torch.zeros(b, tables.size, dtype=torch.bool)
    max_chars = torch.full((b,), big, dtype=torch.long)
    max_breaks = torch.full((b,), big, dtype=torch.long)
    ids = tables.ids
    for r, c in enumerate(constraints):
        missing = vocab.unknown(c.first_line + c.acrostic + "".join(c.keywords) + (ODD_END + NEWLINE if c.form else ""))
        if missing:
            raise GanvasError(f"row {r}: {missing[0]!r} is not in the model's vocabulary (build the constraints "
                              "with constraints_for, which says what is allowed)")
        if c.form is None:
            prefix = [ids[ch] for ch in c.first_line]
            if len(prefix) >= t_len:
                raise GanvasError(f"row {r}: the first line takes {len(prefix)} tokens; the noise has {t_len}")
            kind[r, :len(prefix)] = KIND_FORCED
            forced[r, :len(prefix)] = torch.tensor(prefix, dtype=torch.long)
            max_chars[r] = min(c.max_chars or big, t_len - 1)
            max_breaks[r] = (c.max_lines - 1) if c.max_lines else big
            continue
        length = c.length() or 0
        if length > t_len:
            raise GanvasError(f"row {r}: a {c.form} takes {length} tokens, but the noise u has {t_len} per row")
        n, k = layout(c.form)
        grid = _base_grid(c, tables)
        quiet = [v * (k + 1) + v // 2 + k for v in range(0, n, 2)]          # after "，"
        quiet += [v * (k + 1) + v // 2 + k + 1 for v in range(1, n - 1, 2)]  # after "\n"
        quiet = sorted([*quiet, length - 1])                                 # and <eos>
        grid = _place(grid, c.keywords, [float(u[r, p]) for p in quiet])
        template[r] = grid.template
        for g in grid.groups():
            groups[r, g] = 1.0
        for v in range(n):
            start = v * (k + 1) + v // 2
            for j in range(k):
                t = start + j
                ch = grid.forced.get((v, j))
                if ch is not None:
                    kind[r, t], forced[r, t] = KIND_FORCED, ids[ch]
                    if grid.rhyme_place(v, j):
                        used[r, ids[ch]] = True
                    continue
                kind[r, t] = KIND_VERSE
                if grid.tone_place(v, j):
                    parity[r, t] = _parity(v, j, k)
                if grid.rhyme_place(v, j):
                    rhyme[r, t] = True
            if v % 2 == 0:
                kind[r, start + k], forced[r, start + k] = KIND_FORCED, ids[ODD_END]
            else:
                kind[r, start + k] = KIND_END
                if v < n - 1:
                    kind[r, start + k + 1], forced[r, start + k + 1] = KIND_FORCED, ids[NEWLINE]
        kind[r, length - 1], forced[r, length - 1] = KIND_FORCED, EOS_ID
    return _Plan(kind, forced, parity, rhyme, template, groups, used, max_chars, max_breaks)


# --- decoding ---------------------------------------------------------------------------------------

def _check_inputs(vocab: Vocab, codes: torch.Tensor, u: torch.Tensor, constraints: Any, temperature: float,
                  top_k: int | None) -> list[Constraints]:
    if u.dim() != 2:
        raise GanvasError(f"noise u must be [batch, positions], got shape {tuple(u.shape)}")
    if codes.dim() != 2 or codes.shape[0] != u.shape[0] or codes.shape[1] != len(vocab.fields):
        raise GanvasError(f"codes must be [{u.shape[0]}, {len(vocab.fields)}] (one token per code field), "
                          f"got shape {tuple(codes.shape)}")
    if u.numel() and (float(u.min()) < 0 or float(u.max()) >= 1):
        raise GanvasError("noise u must lie in [0, 1)")
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise GanvasError(f"temperature must be a number >= 0 (0: the most likely token), got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise GanvasError(f"top_k must be a whole number >= 1 or None, got {top_k!r}")
    rows = [constraints] * u.shape[0] if isinstance(constraints, Constraints) else list(constraints)
    if len(rows) != u.shape[0]:
        raise GanvasError(f"{len(rows)} constraints for a batch of {u.shape[0]} rows: give one per row, or one")
    return rows


def _sample(logits: torch.Tensor, allowed: torch.Tensor, u: torch.Tensor, temperature: float,
            top_k: int | None) -> torch.Tensor:
    """One token per row from the allowed ones, by the inverse CDF of `u` [B] (the caller checks it is allowed)."""
    logits = torch.nan_to_num(logits, nan=-1e30, neginf=-1e30, posinf=1e30).masked_fill_(~allowed, -math.inf)
    if temperature == 0:
        return logits.argmax(1)
    logits = logits.double().div_(temperature)
    if top_k is not None and top_k < logits.shape[1]:
        kth = logits.topk(top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill_(logits < kth, -math.inf)
    cdf = torch.softmax(logits, dim=1).cumsum_(1)
    x = u.double().unsqueeze(1) * cdf[:, -1:]
    return torch.searchsorted(cdf, x, right=True).squeeze(1).clamp_(max=logits.shape[1] - 1)


def _describe(r: int, t: int, c: Constraints) -> str:
    if c.form is None:
        return f"row {r}, position {t}"
    n, k = layout(c.form)
    per = 2 * (k + 1) + 1                      # a couplet's tokens with its line break
    v = (t // per) * 2 + (1 if t % per > k else 0)
    return f"row {r}, verse {v + 1} of the {c.form}"


@torch.no_grad()
def decode(lm: StepModel, vocab: Vocab, codes: torch.Tensor, u: torch.Tensor,
           constraints: Sequence[Constraints] | Constraints, temperature: float = 1.0,
           top_k: int | None = None) -> torch.Tensor:
    """Token ids [B, T] (text, <eos>, then <pad>) written by `lm` under per-row `constraints`, drawn from `u`."""
    rows = _check_inputs(vocab, codes, u, constraints, temperature, top_k)
    tables = vocab_tables(vocab)
    u = u.detach().cpu()
    b, t_len = u.shape
    plan = _plan(vocab, tables, rows, u)
    out = torch.full((b, t_len), PAD_ID, dtype=torch.long)
    if t_len == 0 or b == 0:
        return out
    done = torch.zeros(b, dtype=torch.bool)
    chars = torch.zeros(b, dtype=torch.long)
    breaks = torch.zeros(b, dtype=torch.long)
    eos_only = torch.zeros(tables.size, dtype=torch.bool)
    eos_only[EOS_ID] = True
    pad_only = torch.zeros(tables.size, dtype=torch.bool)
    pad_only[PAD_ID] = True
    nl = tables.ids.get(NEWLINE)
    templates, groups, used = plan.template.clone(), plan.groups.clone(), plan.used.clone()
    free_rows = torch.tensor([c.form is None for c in rows], dtype=torch.bool)
    has_free = bool(free_rows.any())
    is_forced = plan.kind == KIND_FORCED
    # per position, for the whole batch: which masks apply at all (Python booleans: no tensor op when not)
    all_forced, any_forced = is_forced.all(0).tolist(), is_forced.any(0).tolist()
    any_tone, any_rhyme = (plan.parity >= 0).any(0).tolist(), plan.rhyme.any(0).tolist()
    logits, state = lm.start(codes)
    for t in range(t_len):
        if all_forced[t]:                     # punctuation, line breaks, acrostics…: nothing to draw
            tok = plan.forced[:, t]
        else:
            logits = logits.detach().float().cpu()
            kind = plan.kind[:, t]
            allowed = tables.base[kind]
            if any_forced[t]:
                forced = torch.nn.functional.one_hot(plan.forced[:, t], tables.size).bool()
                allowed = torch.where(is_forced[:, t].unsqueeze(1), forced, allowed)
            par = plan.parity[:, t]
            if any_tone[t]:
                want = torch.where(par == 0, templates, 3 - templates).masked_fill_((par < 0) | (templates == 0), 0)
                allowed = allowed & tables.tone_ok[want]
            at_rhyme = plan.rhyme[:, t]
            if any_rhyme[t]:
                fits = (groups @ tables.member > 0) & ~used
                allowed = torch.where(at_rhyme.unsqueeze(1), allowed & fits, allowed)
            if has_free:
                free_now = free_rows & (kind == KIND_FREE)
                full = free_now & ((chars >= plan.max_chars) | (t == t_len - 1))
                allowed = torch.where(full.unsqueeze(1), eos_only, allowed)
                last_line = free_now & (breaks >= plan.max_breaks)
                if nl is not None and bool(last_line.any()):   # one more break would be one line too many:
                    merged = torch.logaddexp(logits[:, EOS_ID], logits[:, nl])   # its mass goes to <eos>
                    logits = logits.clone()
                    logits[:, EOS_ID] = torch.where(last_line, merged, logits[:, EOS_ID])
                    allowed = allowed.clone()
                    allowed[:, nl] &= ~last_line
                allowed = torch.where(done.unsqueeze(1), pad_only, allowed)
            tok = _sample(logits, allowed, u[:, t], temperature, top_k)
            ok = allowed.gather(1, tok.unsqueeze(1)).squeeze(1)
            if not bool(ok.all()):
                empty = ~allowed.any(1)
                if bool(empty.any()):
                    r = int(empty.nonzero()[0])
                    raise GanvasError(f"{_describe(r, t, rows[r])}: no token of the vocabulary meets the "
                                      "constraints here")
                tok = torch.where(ok, tok, logits.masked_fill(~allowed, -math.inf).argmax(1))  # a rounding edge
            if any_tone[t]:
                tone = tables.tone[tok]
                fix = (par >= 0) & (templates == 0) & (tone > 0)
                templates = torch.where(fix, torch.where(par == 0, tone, 3 - tone), templates)
            if any_rhyme[t]:
                groups = torch.where(at_rhyme.unsqueeze(1), groups * tables.member[:, tok].T, groups)
                used[at_rhyme, tok[at_rhyme]] = True
        out[:, t] = tok
        if has_free:
            chars += (~done & (tok >= vocab.first_char)).long()
            if nl is not None:
                breaks += (tok == nl).long()
        done |= tok == EOS_ID
        if t == t_len - 1 or bool(done.all()):
            break
        logits, state = lm.step(tok.to(codes.device), state)
    return out
