"""Opting out: the items a person asked to leave out of a dataset, by content hash or by name.

An exclude file is text, one entry per line; ``#`` starts a comment, blank lines are ignored. An entry
is either a content hash, ``sha256:<64 hex digits>``, of an item's stored array bytes (as built, at
the stored size) or of its source file, or a name: the item's key in the built set (``keys.txt``), its
path in the user's folder, its source file's path or file name. One function, `apply`, removes what
matches from any dataset (images, music, text; single sets and both sides and splits of translation
sets, a pair's partner with it), counts what it removed, warns about entries that matched nothing (a
typo must never pass silently), and records each removed item in the card as ``{"key", "sha256",
"phash"}`` (phash: of the stored picture, images only) so the memorization guard can treat near-copies
of excluded items as matches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from ganvas.console import info, warning
from ganvas.data.dataset import ArrayDataset, ItemIndex, fingerprint_arrays
from ganvas.errors import GanvasError
from ganvas.files import load_npy

HASH = re.compile(r"sha256:([0-9a-f]{64})")
EXPECTED = "one entry per line: sha256:<64 hex digits> (an item's stored array or source file) or a path/file name"


@dataclass(frozen=True)
class Entry:
    """One line of an exclude file."""

    line: int                   # 1-based line number in the file
    text: str                   # the entry as written (stripped)
    digest: str | None          # the hex digest of a hash entry, else None (a name)


@dataclass(frozen=True)
class Exclusions:
    """The entries of one exclude file (`source`: where they came from, for messages)."""

    source: str
    entries: tuple[Entry, ...]

    def __bool__(self) -> bool:
        return bool(self.entries)


def read_exclude_file(path: str | Path) -> Exclusions:
    """The entries of exclude file `path`; a missing, unreadable or malformed file is a one-line error."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GanvasError(f"exclude file '{path}' does not exist; expected a text file, {EXPECTED}")
    if not p.is_file():
        raise GanvasError(f"exclude file '{path}' is not a file; expected a text file, {EXPECTED}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise GanvasError(f"exclude file '{path}' cannot be read ({exc.strerror or exc}); expected a readable "
                          "text file") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise GanvasError(f"exclude file '{path}' line {line}: not UTF-8 text (byte {exc.start}); expected a text "
                          f"file, {EXPECTED}") from None
    entries = []
    for n, raw in enumerate(text.splitlines(), 1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):     # whole-line comments only: a file name may hold a '#'
            continue
        if entry.lower().startswith("sha256:"):
            m = HASH.fullmatch(entry.lower())
            if m is None:
                raise GanvasError(f"exclude file '{path}' line {n}: '{entry[:80]}' is not a content hash; expected "
                                  "sha256: followed by 64 hexadecimal digits")
            entries.append(Entry(n, entry, m.group(1)))
        elif "\0" in entry:
            raise GanvasError(f"exclude file '{path}' line {n}: a NUL byte; expected a path or a content hash")
        else:
            entries.append(Entry(n, entry, None))
    return Exclusions(str(path), tuple(entries))


def row_digest(row: np.ndarray) -> str:
    """The content hash of one stored item: sha256 of its array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(row).tobytes()).hexdigest()


def file_digest(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _names(key: str, source: str | None, domain: str) -> set[str]:
    """What a name entry may say to mean this item: its key, its file's path or name (with and without folders)."""
    first = key.split("\t")[0]
    names = {key, first, PurePosixPath(first).name}
    if domain == "text" and ":" in first:            # a text's key is FILE:LINE: the file names all its texts
        stem = first.rsplit(":", 1)[0]
        names |= {stem, PurePosixPath(stem).name}
    if source:
        names |= {source, Path(source).name}
    return {n for n in names if n}


def _groups(ds: ArrayDataset) -> list[list[str]]:
    """Sample arrays whose rows go together: a pair's two sides, or one array (its labels follow it)."""
    samples = [k for k in ds.arrays if k != "y"]
    if ds.layout == "paired":
        return [[r for r in ("a", "b") if r in samples], [r for r in ("a_test", "b_test") if r in samples]]
    return [[r] for r in samples]


def _match(ds: ArrayDataset, role: str, exclusions: Exclusions, hits: set[int]) -> tuple[set[int], list[dict]]:
    """Rows of `role` matched by any entry (entries that matched go into `hits`) and their records."""
    rows = ds.arrays[role]
    index: ItemIndex | None = ds.index.get(role)
    keys = index.keys if index is not None else [f"{role}[{i}]" for i in range(len(rows))]
    want_hash = {e.digest: e.line for e in exclusions.entries if e.digest}
    want_name = {}
    for e in exclusions.entries:
        if e.digest is None:
            want_name.setdefault(e.text, e.line)
            if "/" in e.text or e.text.startswith("~"):        # a path: also as the absolute path it names
                want_name.setdefault(str(Path(e.text).expanduser().resolve()), e.line)
    sources = index.sources() if index is not None and index.sources is not None else [None] * len(rows)
    stored = load_npy(index.stored, mmap=True) if index is not None and index.stored is not None else None
    matched: set[int] = set()
    for i in range(len(rows)):
        lines = {want_name[n] for n in _names(keys[i], sources[i], ds.domain) if n in want_name}
        if sources[i]:
            lines |= {want_name[n] for n in (str(Path(sources[i]).resolve()),) if n in want_name}
        if want_hash:
            digests = {row_digest(rows[i])}
            if stored is not None:
                digests.add(row_digest(stored[_stored_row(index, i)]))
            if sources[i]:
                digests.add(file_digest(sources[i]) or "")
            lines |= {want_hash[d] for d in digests if d in want_hash}
        if lines:
            matched.add(i)
            hits |= lines
    return matched, [_record(ds, rows, stored, keys, i, index) for i in sorted(matched)]


def _stored_row(index: ItemIndex | None, i: int) -> int:
    return index.stored_rows[i] if index is not None and index.stored_rows is not None else i


def _record(ds: ArrayDataset, rows: np.ndarray, stored: np.ndarray | None, keys: list[str], i: int,
            index: ItemIndex | None) -> dict:
    """What the card keeps of a removed item: key, content hash of the stored array, perceptual hash (images)."""
    row = np.asarray(stored[_stored_row(index, i)] if stored is not None else rows[i])
    record = {"key": keys[i], "sha256": "sha256:" + row_digest(row)}
    if ds.domain == "image":
        from ganvas.data.phash import phash, to_hex

        record["phash"] = to_hex(phash(row[None])[0])
    return record


def apply(ds: ArrayDataset, exclusions: Exclusions, report: bool = True) -> ArrayDataset:
    """`ds` without the items `exclusions` name (a new dataset; `ds` is untouched).

    Prints how many were removed and warns about entries that matched nothing (`report`); the card's
    ``excluded`` list grows by one record per removed item, and the fingerprint is that of what is left.
    """
    if not exclusions:
        if report:
            info(f"exclude file '{exclusions.source}' lists no items: nothing excluded from '{ds.name}'")
        return ds
    hits: set[int] = set()
    arrays, index, records = dict(ds.arrays), dict(ds.index), []
    removed = 0
    for group in _groups(ds):
        drop: set[int] = set()
        group_records = []
        for role in group:
            matched, recs = _match(ds, role, exclusions, hits)
            drop |= matched
            group_records += recs
        if ds.layout == "paired" and drop:      # a pair leaves whole: record the partner rows too
            group_records = [r for role in group for r in _records_of(ds, role, sorted(drop))]
        if not drop:
            continue
        removed += len(drop)
        records += group_records
        keep = np.setdiff1d(np.arange(len(ds.arrays[group[0]])), np.fromiter(drop, int, len(drop)))
        for role in group + (["y"] if group == ["x"] and "y" in ds.arrays else []):
            arrays[role] = ds.arrays[role][keep]
        for role in group:
            if role in index:
                index[role] = _kept_index(index[role], keep)
    unmatched = [e for e in exclusions.entries if e.line not in hits]
    if report:
        info(f"excluded {removed} item(s) of '{ds.name}' listed in {exclusions.source}")
        if unmatched:
            shown = ", ".join(f"line {e.line} '{e.text[:60]}'" for e in unmatched[:10])
            more = f" and {len(unmatched) - 10} more" if len(unmatched) > 10 else ""
            warning(f"{len(unmatched)} entr{'y' if len(unmatched) == 1 else 'ies'} of exclude file "
                    f"'{exclusions.source}' matched nothing in '{ds.name}': {shown}{more}")
    if not removed:
        return ds
    card = {**ds.card, "excluded": [*ds.card.get("excluded", []), *records]}
    if "count" in card and isinstance(card["count"], int):
        card["count"] = int(card["count"]) - len(records)
    return replace(ds, arrays=arrays, card=card, fingerprint=fingerprint_arrays(arrays), index=index)


def _records_of(ds: ArrayDataset, role: str, rows: Iterable[int]) -> list[dict]:
    index = ds.index.get(role)
    keys = index.keys if index is not None else [f"{role}[{i}]" for i in range(len(ds.arrays[role]))]
    stored = load_npy(index.stored, mmap=True) if index is not None and index.stored is not None else None
    return [_record(ds, ds.arrays[role], stored, keys, i, index) for i in rows]


def _kept_index(index: ItemIndex, keep: np.ndarray) -> ItemIndex:
    """The index of the rows kept (each still pointing at its row of the stored file)."""
    sources = index.sources
    kept_sources = (lambda: [sources()[i] for i in keep]) if sources is not None else None
    stored_rows = [_stored_row(index, int(i)) for i in keep] if index.stored is not None else None
    return ItemIndex([index.keys[i] for i in keep], kept_sources, index.stored, stored_rows)


def exclude_from_build(name: str, root: Path, exclusions: Exclusions) -> ArrayDataset:
    """Make a built-in set's build leave out `exclusions` from now on (`ganvas data build NAME --exclude FILE`).

    The arrays stay as built (their fingerprint keys the resized caches); the entries are kept beside
    them (``exclude.txt``, replacing an earlier list) and applied on every load, and ``card.json``
    records what they removed. Returns the set as loaded at its stored size, without those items.
    """
    from ganvas.data.dataset import EXCLUDE_FILE, load_dataset
    from ganvas.files import write_json, write_text

    kept = root / EXCLUDE_FILE
    if kept.exists():
        kept.unlink()                                     # the new list replaces the old one
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    card.pop("excluded", None)
    size = int(card.get("native_size") or 0)
    full = load_dataset(name, size, progress=False)
    dataset = apply(replace(full, card={**full.card, "excluded": []}), exclusions)
    write_text(kept, f"# entries of {exclusions.source}, applied whenever '{name}' is loaded\n"
               + "".join(f"{e.text}\n" for e in exclusions.entries))
    write_json(root / "card.json", {**card, "excluded": dataset.card.get("excluded", [])})
    return dataset
