"""Memorisation of texts: verses, lines and whole texts copied verbatim from the training texts.

A generated text's *verses* are its pieces between punctuation marks and line breaks (a poem's 句; an
aphorism's clauses), its *lines* the pieces between line breaks (a poem's couplets). A verse or line of
at least `MIN_CHARS` characters (spaces not counted) is **copied** when it occurs verbatim anywhere in a
training text, as a substring (a 5-character verse taken from inside a 7-character one counts); for
units beginning or ending with a Latin letter or digit the occurrence must start and end on a word
boundary, so "think" is not found inside "thinking". Runs of spaces count as one.

The **copied-line rate** is copied verses / verses of ≥ `MIN_CHARS` characters, over all texts. It is
compared with the rate of the real texts themselves, each against all the *others* (leave-one-out):
poets reuse stock phrases (明月, 万里 … and whole verses), so real poems have a non-zero rate, and a model
is memorising when it copies clearly more often than that. A text equal to a training text as a whole is
a **copied text**. Every copy is reported with the index of the (first) training text it was found in,
so the report can show the source poem beside it.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ganvas.errors import GanvasError
from ganvas.text.forms import PUNCTUATION

MIN_CHARS = 5
_SPLIT = re.compile(f"[{re.escape(PUNCTUATION)}\\n]+")
_SPACES = re.compile(r"[ \t\u3000]+")
SEP = "\x00"                         # between training texts in the searched string: never inside a unit


def _norm(s: str) -> str:
    return _SPACES.sub(" ", s).strip()


def lines(text: str) -> list[str]:
    """The lines of `text` (between line breaks), spaces collapsed, empty ones dropped."""
    return [x for x in (_norm(s) for s in text.split("\n")) if x]


def verses(text: str) -> list[str]:
    """The verses of `text` (between punctuation and line breaks), spaces collapsed, empty ones dropped."""
    return [x for x in (_norm(s) for s in _SPLIT.split(text)) if x]


def size(unit: str) -> int:
    """Characters of a verse or line, spaces not counted."""
    return len(unit) - unit.count(" ")


def _wordy(c: str) -> bool:
    return c.isascii() and c.isalnum()


@dataclass(frozen=True)
class Copy:
    text: int           # index of the text that copies
    unit: str           # the copied verse or line
    kind: str           # "verse" or "line" (a copied line is listed once, not again verse by verse)
    source: int         # index of the training text it occurs in


@dataclass
class Memorisation:
    rate: float                                         # copied verses / verses ≥ min_chars (NaN: none)
    copied: int                                         # verses found in the training texts
    verses: int                                         # verses of ≥ min_chars characters
    copies: list[Copy] = field(default_factory=list)    # what was copied, by text, with its source
    whole: list[tuple[int, int]] = field(default_factory=list)   # (text, source) of texts copied whole
    n_texts: int = 0

    def to_dict(self) -> dict:
        return {"rate": self.rate, "copied": self.copied, "verses": self.verses, "n_texts": self.n_texts,
                "copied_texts": len(self.whole), "whole": [list(w) for w in self.whole],
                "copies": [{"text": c.text, "unit": c.unit, "kind": c.kind, "source": c.source} for c in self.copies]}


class CopyFinder:
    """Finds verbatim occurrences of short units in a fixed set of training texts."""

    def __init__(self, training: Sequence[str]) -> None:
        norm = ["\n".join(lines(t)) for t in training]
        self.blob = SEP.join(norm)
        self.starts = []
        pos = 0
        for t in norm:
            self.starts.append(pos)
            pos += len(t) + 1
        self.whole: dict[str, list[int]] = {}          # a whole text → the training texts equal to it
        for i, t in enumerate(norm):
            self.whole.setdefault(t, []).append(i)

    def source(self, unit: str, exclude: int | None = None) -> int | None:
        """Index of the first training text holding `unit` verbatim (not text `exclude`), or None."""
        blob, start = self.blob, 0
        left, right = _wordy(unit[0]), _wordy(unit[-1])
        while True:
            at = blob.find(unit, start)
            if at < 0:
                return None
            start = at + 1
            end = at + len(unit)
            if (left and at > 0 and _wordy(blob[at - 1])) or (right and end < len(blob) and _wordy(blob[end])):
                continue
            i = bisect.bisect_right(self.starts, at) - 1
            if i != exclude:
                return i


def _memorisation(texts: Sequence[str], finder: CopyFinder, leave_one_out: bool, min_chars: int,
                  which: Sequence[int] | None = None) -> Memorisation:
    if min_chars < 1:
        raise GanvasError(f"min_chars must be at least 1, got {min_chars}")
    which = range(len(texts)) if which is None else which
    out = Memorisation(math.nan, 0, 0, n_texts=len(which))
    for i in which:
        text = texts[i]
        if not isinstance(text, str):
            raise GanvasError(f"text {i} is {type(text).__name__}, expected a string")
        skip = i if leave_one_out else None
        src = next((j for j in finder.whole.get("\n".join(lines(text)), []) if j != skip), None)
        if src is not None:
            out.whole.append((i, src))
        for line in lines(text):
            line_src = finder.source(line, skip) if size(line) >= min_chars else None
            if line_src is not None:
                out.copies.append(Copy(i, line, "line", line_src))
            for v in verses(line):
                if size(v) < min_chars:
                    continue
                out.verses += 1
                v_src = line_src if line_src is not None else finder.source(v, skip)
                if v_src is not None:
                    out.copied += 1
                    if line_src is None:
                        out.copies.append(Copy(i, v, "verse", v_src))
    out.rate = out.copied / out.verses if out.verses else math.nan
    return out


def copied_lines(texts: Sequence[str], training: Sequence[str], min_chars: int = MIN_CHARS) -> Memorisation:
    """What `texts` (generated) copy verbatim from `training` texts: the copied-line rate, copies, whole texts."""
    return _memorisation(list(texts), CopyFinder(list(training)), False, min_chars)


def leave_one_out(texts: Sequence[str], min_chars: int = MIN_CHARS, limit: int | None = None,
                  seed: int = 0) -> Memorisation:
    """The same for real texts, each against all the others: the level of shared phrases real texts show.

    limit: check only a seeded sample of this many texts (each still against all the others), to bound the
    time on large corpora (every verse is a scan of all the texts); indices in the result stay the texts'."""
    texts = list(texts)
    which = None
    if limit is not None and limit < len(texts):
        which = sorted(np.random.default_rng(seed).choice(len(texts), size=limit, replace=False).tolist())
    return _memorisation(texts, CopyFinder(texts), True, min_chars, which)
