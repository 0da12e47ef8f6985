"""What text datasets share: texts → code points + codes, written atomically with a dataset card.

A text dataset (docs: the text domain's design, issue 15) is stored as

- ``texts.npy``: int32 [N, L] Unicode code points of each text, 0-padded (L = the longest kept text);
- ``labels.npy``: int64 [N, F] each text's index per code field (−1: unknown); absent when F = 0;
- ``keys.txt``: one line per text (source file and entry); ``meta.json``: title, author, source per text;
- ``card.json`` and ``README.md``: the card (domain "text", its ``domain_args``: language, vocabulary
  with the code fields, max_len; code counts, licence, source packages and versions, what was skipped).

A built-in text dataset is one `TextDatasetBuilder` subclass yielding `Text` items; a user's texts
(`ganvas.data.text_folder`) go through the same `text_arrays` and `text_card`. Texts hold no NUL (the
padding), so a text's length is its count of non-zero code points.
"""

from __future__ import annotations

import collections
import re
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ganvas.data.builder import COPYRIGHT, package_version
from ganvas.data.dataset import fingerprint_arrays
from ganvas.data.licences import card_fields
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, save_npy, write_json, write_text
from ganvas.text.vocab import Vocab

TEXTS, LABELS = "texts.npy", "labels.npy"
FORMAT = 1
FORTUNE_SEPARATOR = re.compile(r"^%[ \t]*$", re.M)      # a fortune file's entries sit between lines of "%"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")     # colour codes (fortunes-zh colours titles and authors)


@dataclass
class Text:
    """One text and what is known of it."""

    text: str
    key: str                                            # where it came from, e.g. "tang300:12"
    codes: dict[str, str] = field(default_factory=dict)  # code field → value (a field left out: unknown)
    meta: dict[str, Any] = field(default_factory=dict)   # title, author, source...


class SkipText(Exception):
    """A text that is not kept; `reason` is the short label it is counted under on the card."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fortune_entries(text: str) -> list[str]:
    """The entries of a fortune file (strfile's format: entries between lines holding only ``%``)."""
    return [e for e in FORTUNE_SEPARATOR.split(text.replace("\r\n", "\n")) if e.strip()]


def decode_text(data: bytes, where: str) -> str:
    """`data` as text: UTF-8 (a BOM allowed), line ends as "\\n". A NUL byte (a binary file) or a byte
    sequence that is not UTF-8 is a one-line error naming `where` and the byte offset."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise GanvasError(f"{where} is binary, not text (a NUL byte at byte offset {nul}); expected UTF-8 text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GanvasError(f"{where} is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} "
                          "cannot be decoded; save it as UTF-8") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def text_arrays(texts: Sequence[Text], codes: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """``x``: int32 [N, L] code points, 0-padded; ``y``: int64 [N, F] code indices (−1 unknown), when F > 0."""
    width = max((len(t.text) for t in texts), default=0)
    x = np.zeros((len(texts), width), dtype=np.int32)
    for i, t in enumerate(texts):
        if "\0" in t.text:
            raise GanvasError(f"text {t.key} holds a NUL character, which marks the padding; remove it")
        x[i, :len(t.text)] = np.frombuffer(t.text.encode("utf-32-le"), dtype="<u4")
    arrays = {"x": x}
    if codes:
        index = {f: {v: k for k, v in enumerate(values)} for f, values in codes.items()}
        y = np.full((len(texts), len(codes)), -1, dtype=np.int64)
        for i, t in enumerate(texts):
            for j, f in enumerate(codes):
                if t.codes.get(f) is not None:
                    y[i, j] = index[f][t.codes[f]]
        arrays["y"] = y
    return arrays


def text_card(name: str, texts: Sequence[Text], arrays: dict[str, np.ndarray], codes: Mapping[str, Sequence[str]],
              language: str, **fields: Any) -> dict[str, Any]:
    """The card of a text dataset: its domain_args (language, vocabulary, max_len), code counts, lengths;
    `fields` (title, description, licence, source, skipped...) are added as they are."""
    from ganvas.version import __version__

    vocab = Vocab.from_texts((t.text for t in texts), codes)
    lengths = [len(t.text) for t in texts]
    y = arrays.get("y")
    code_counts = {f: {"names": list(values),
                       "counts": np.bincount(y[:, j][y[:, j] >= 0], minlength=len(values)).tolist(),
                       "unknown": int((y[:, j] < 0).sum())}
                   for j, (f, values) in enumerate(codes.items())} if y is not None else {}
    return {
        "name": name,
        "domain": "text", "unit": "texts", "array": TEXTS,
        "count": len(texts), "shape": list(arrays["x"].shape[1:]),
        "domain_args": {"language": language, "vocab": vocab.to_dict(), "max_len": int(arrays["x"].shape[1])},
        "codes": code_counts,
        "lengths": {"min": min(lengths, default=0), "median": statistics.median(lengths) if lengths else 0,
                    "max": max(lengths, default=0)},
        "characters": len(vocab.chars),
        "summary": f"{language}, {len(vocab.chars)} characters, up to {int(arrays['x'].shape[1])} per text",
        **fields,
        "fingerprint": fingerprint_arrays(arrays),
        "format": FORMAT,
        "built_by": f"ganvas {__version__}",
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_text_dataset(root: Path, texts: Sequence[Text], arrays: dict[str, np.ndarray], card: dict) -> Path:
    """The arrays, keys, meta and card in `root`, atomically (a reader sees the old set or the new one)."""
    with atomic_dir(root) as tmp:
        save_npy(tmp / TEXTS, arrays["x"])
        if "y" in arrays:
            save_npy(tmp / LABELS, arrays["y"])
        write_text(tmp / "keys.txt", "".join(f"{t.key}\n" for t in texts))
        write_json(tmp / "meta.json", [t.meta for t in texts])
        write_json(tmp / "card.json", card)
        write_text(tmp / "README.md", text_card_markdown(card))
    return root


def debian_licences(package: str) -> list[str]:
    """The ``License:`` values of a Debian package's machine-readable copyright file (empty if none)."""
    path = Path(COPYRIGHT.format(package))
    if not path.is_file():
        return []
    found = re.findall(r"^License:[ \t]*(\S.*?)[ \t]*$", path.read_text(encoding="utf-8", errors="replace"), re.M)
    return list(dict.fromkeys(found))


class TextDatasetBuilder:
    """A built-in text dataset: where its texts are, how to read them, and what its card says."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    licence: ClassVar[str]
    spdx: ClassVar[tuple[str, ...]]                 # see DatasetBuilder
    attribution: ClassVar[str]
    language: ClassVar[str]                         # "zh" | "en": how texts are rendered and judged
    packages: ClassVar[tuple[str, ...]]             # Debian packages the texts come from
    required_paths: ClassVar[tuple[str, ...]]       # files that must exist to build
    max_chars: ClassVar[int]                        # longer texts are skipped (counted on the card)
    format: ClassVar[int] = FORMAT

    def codes(self, texts: list[Text]) -> dict[str, list[str]]:
        """The code fields and their values, in order (the vocabulary's code tokens); `texts`: all kept."""
        raise NotImplementedError

    def texts(self, skipped: collections.Counter) -> Iterator[Text]:
        """Every usable text of the source; what is passed over is counted in `skipped` by reason."""
        raise NotImplementedError

    def missing(self) -> str | None:
        """None when buildable, else a one-line instruction naming what to install."""
        from ganvas.data.builder import missing_packages

        return missing_packages(self.name, self.packages, self.required_paths)

    def extra_card(self, texts: list[Text]) -> dict[str, Any]:
        """What a builder adds to its card (the files read, the rules it kept texts by)."""
        return {}

    def build(self, root: Path, progress: bool | None = None, limit: int | None = None) -> Path:
        """Read, filter and store every text with the card, atomically.

        `limit` keeps an evenly spaced subset of the texts (a quick look, or tests); `progress` is
        accepted as the other builders take it (text builds take well under a second: no bar)."""
        problem = self.missing()
        if problem:
            raise GanvasError(problem)
        skipped: collections.Counter[str] = collections.Counter()
        texts = []
        for t in self.texts(skipped):
            if len(t.text) > self.max_chars:
                skipped[f"longer than {self.max_chars} characters"] += 1
                continue
            texts.append(t)
        if not texts:
            raise GanvasError(f"dataset '{self.name}': no usable text under {', '.join(self.required_paths)}")
        available = len(texts)
        codes = self.codes(texts)            # from every kept text: a limited build has the same code tokens
        if limit is not None and limit < available:
            texts = [texts[i * available // limit] for i in range(limit)]
        arrays = text_arrays(texts, codes)
        card = text_card(self.name, texts, arrays, codes, self.language,
                         title=self.title, description=self.description, available=available,
                         max_chars=self.max_chars, **card_fields(self),
                         source={"packages": {p: package_version(p) for p in self.packages},
                                 "paths": list(self.required_paths),
                                 "copyright": {p: COPYRIGHT.format(p) for p in self.packages
                                               if Path(COPYRIGHT.format(p)).is_file()},
                                 "licences": {p: debian_licences(p) for p in self.packages}},
                         skipped=dict(sorted(skipped.items())), **self.extra_card(texts))
        return write_text_dataset(root, texts, arrays, card)


def text_card_markdown(card: dict) -> str:
    """The dataset card for people: what it is, where it came from, its licence and contents."""
    args = card["domain_args"]
    lengths = card["lengths"]
    lines = [f"# {card.get('title', card['name'])} (`{card['name']}`)", "", card.get("description", ""), "",
             f"- Texts: {card['count']}"
             + (f" of {card['available']} kept" if card.get("available", card["count"]) != card["count"] else ""),
             f"- Language: {args['language']}; {card['characters']} distinct characters; lengths "
             f"{lengths['min']}–{lengths['max']} characters (median {lengths['median']}), stored as "
             f"{args['max_len']} code points each, 0-padded"]
    if card.get("max_chars"):
        lines.append(f"- Texts longer than {card['max_chars']} characters are left out")
    if card.get("split"):
        lines.append(f"- Split: {card['split']}")
    if card.get("licence"):
        lines.append(f"- Licence: {card['licence']}")
    if card.get("attribution"):
        lines.append(f"- Attribution: {card['attribution']}")
    source = card.get("source") or {}
    copyright = source.get("copyright", {})
    for pkg, version in source.get("packages", {}).items():
        lines.append(f"- Source: Debian package `{pkg}` {version or '(version unknown)'}"
                     + (f", copyright and licences in `{copyright[pkg]}`" if pkg in copyright else ""))
    if card.get("files"):
        lines.append("- Files: " + ", ".join(f"`{f}`" for f in card["files"]))
    for note in card.get("notes", []):
        lines.append(f"- {note}")
    if card.get("skipped"):
        lines.append("- Skipped: " + ", ".join(f"{v} {k}" for k, v in card["skipped"].items()))
    lines.append(f"- Fingerprint: `{card['fingerprint']}`")
    for f, c in card.get("codes", {}).items():
        lines += ["", f"| {f} | texts |", "|---|---|"]
        lines += [f"| {n} | {k} |" for n, k in zip(c["names"], c["counts"], strict=True)]
        if c.get("unknown"):
            lines.append(f"| (unknown) | {c['unknown']} |")
    return "\n".join(lines) + "\n"
