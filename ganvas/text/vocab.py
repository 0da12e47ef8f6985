"""A character vocabulary with CTRL-style control codes: text ↔ token ids, codes ↔ their tokens.

Character level for Chinese verse (every character is a word-sized unit of meaning, and form is
counted in characters) and for English aphorisms (a few hundred distinct symbols, no out-of-vocabulary
words). A sequence the model reads is ``[one code token per field] <bos> text <eos>``; a field left
unspecified (code dropout while training, or a person asking for no particular form) reads as its
``<field=?>`` token, so any code can be left out.

The vocabulary travels as plain JSON (a dataset card's and a checkpoint's ``domain_args``): lists of
strings, never code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ganvas.errors import GanvasError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)     # ids 0..3, in this order, in every vocabulary
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)
ANY = "?"                           # the value of an unspecified code


def code_token(field: str, value: str) -> str:
    return f"<{field}={value}>"


class Vocab:
    """Token ids: the specials, then one token per (code field, value) and per field's ``?``, then characters."""

    def __init__(self,
                 chars: Sequence[str],                       # the characters, in id order (each one code point)
                 codes: Mapping[str, Sequence[str]] | None = None,  # code field → its values, e.g. form → 五绝…
                 ) -> None:
        bad = [c for c in chars if len(c) != 1]
        if bad:
            raise GanvasError(f"vocabulary characters must be single code points, got {bad[:3]!r}")
        if len(set(chars)) != len(chars):
            raise GanvasError("vocabulary characters must be distinct")
        self.chars = list(chars)
        self.codes = {f: list(v) for f, v in (codes or {}).items()}
        for f, values in self.codes.items():
            if ANY in values or len(set(values)) != len(values) or not values:
                raise GanvasError(f"code field {f!r}: values must be distinct, non-empty and not {ANY!r}")
        self.tokens: list[str] = list(SPECIALS)
        self.code_ids: dict[str, dict[str, int]] = {}
        for f, values in self.codes.items():
            self.code_ids[f] = {}
            for v in [*values, ANY]:
                self.code_ids[f][v] = len(self.tokens)
                self.tokens.append(code_token(f, v))
        self.first_char = len(self.tokens)
        self.tokens.extend(self.chars)
        self.index = {c: self.first_char + i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def fields(self) -> list[str]:
        return list(self.codes)

    # --- text -------------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """Character ids of `text` (no codes, no <bos>/<eos>); characters outside the vocabulary are <unk>."""
        return [self.index.get(c, UNK_ID) for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids` up to the first <eos>; specials and code tokens are dropped, <unk> reads as □."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i >= self.first_char:
                out.append(self.tokens[i])
            elif i == UNK_ID:
                out.append("□")
        return "".join(out)

    def unknown(self, text: str) -> list[str]:
        """The characters of `text` the vocabulary lacks, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self.index))

    def char_id(self, c: str, what: str = "character") -> int:
        """The id of one character; a one-line error for a character the model never saw."""
        if c not in self.index:
            raise GanvasError(f"{what} {c!r} is not in the model's vocabulary of {len(self.chars)} characters")
        return self.index[c]

    # --- codes ------------------------------------------------------------------------------------

    def code_token_ids(self, codes: Mapping[str, str | None] | None = None) -> list[int]:
        """One token per field, in field order; a field missing from `codes` (or None, or "?") is unspecified.

        Unknown fields and values are one-line errors naming the allowed ones."""
        codes = dict(codes or {})
        for f in codes:
            if f not in self.codes:
                raise GanvasError(f"unknown code field {f!r}; this model knows "
                                  f"{', '.join(self.codes) or 'no codes'}")
        out = []
        for f, values in self.codes.items():
            v = codes.get(f) or ANY
            if v not in self.code_ids[f]:
                raise GanvasError(f"code {f}={v!r} was not trained; {f} is one of {', '.join(values)}")
            out.append(self.code_ids[f][v])
        return out

    def code_values(self, row: Sequence[int]) -> dict[str, str | None]:
        """Code indices per field (a dataset's ``y`` row; −1 or out of range: unspecified) → names."""
        out: dict[str, str | None] = {}
        for (f, values), k in zip(self.codes.items(), row, strict=True):
            out[f] = values[int(k)] if 0 <= int(k) < len(values) else None
        return out

    # --- JSON ---------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"chars": "".join(self.chars), "codes": self.codes}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Vocab:
        chars = d.get("chars", "")
        if not isinstance(chars, str):
            raise GanvasError("vocabulary 'chars' must be a string of characters")
        return cls(list(chars), d.get("codes") or {})

    @classmethod
    def from_texts(cls, texts: Iterable[str], codes: Mapping[str, Sequence[str]] | None = None) -> Vocab:
        """Every character of `texts`, most frequent first (ties by code point), so ids are reproducible."""
        from collections import Counter

        counts = Counter(c for t in texts for c in t)
        return cls([c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))], codes)
