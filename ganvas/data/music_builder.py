"""Building a music dataset: pieces → piano-rolls → phrases of N bars, stored with a dataset card.

The image builder (`builder.py`) decodes one picture per item; a music source yields whole pieces of
any length, cut here into windows of `bars` bars every `hop` bars, aligned to barlines. A piece that
cannot be used is skipped and counted under its reason, and so are notes that cannot be kept exactly
(outside the pitch range, merged repeats); the card records every count.

A labelled source (`label_names`, e.g. the chorales' modes) gives each piece a label, and every
phrase cut from it carries that label: ``labels.npy`` (int64, one per phrase) and the card's
``labels`` (names and phrase counts), as image datasets have. `FORMAT` is written into the card;
a built dataset of another format is rebuilt on next use (`ganvas.data.dataset.is_built`).
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import ClassVar

import numpy as np
from tqdm import tqdm

from ganvas.data.dataset import fingerprint_arrays
from ganvas.data.licences import card_fields
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, save_npy, write_json, write_text
from ganvas.music.pianoroll import Note, notes_to_roll, windows

ROLLS = "pianorolls.npy"
LABELS = "labels.npy"
FORMAT = 2      # 1: no labels (before the chorales' modes); 2: labels.npy and card labels when labelled


class SkipPiece(Exception):
    """A piece that cannot be used; `reason` is the short label it is counted under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class Piece:
    tracks: list[list[Note]]        # notes of each track, in steps from the first barline
    steps: int                      # length in steps (the end of the last note)
    note: str = ""                  # what to record beside the piece's key (e.g. its key and transposition)
    label: str = ""                 # the piece's label, one of the builder's `label_names` (when it has any)


@dataclass
class PhraseOptions:
    bars: int = 4                   # bars per phrase (MuseGAN: 4)
    hop: int = 1                    # bars between the starts of successive phrases
    low: int = 36                   # MIDI pitch of the lowest row
    high: int = 81                  # MIDI pitch of the highest row (inclusive)
    velocity: bool = False          # keep MIDI velocities instead of a binary roll
    separate_repeats: bool = True   # shorten a note by one step when the same pitch follows at once

    def check(self, where: str) -> None:
        for name, lo in (("bars", 1), ("hop", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise GanvasError(f"{where}: '{name}' must be a whole number >= {lo}, got {value!r}")
        if not (isinstance(self.low, int) and isinstance(self.high, int) and 0 <= self.low <= self.high <= 127):
            raise GanvasError(f"{where}: the pitch range must satisfy 0 <= low <= high <= 127, "
                              f"got low={self.low!r} high={self.high!r}")

    @property
    def pitches(self) -> int:
        return self.high - self.low + 1


Loader = Callable[[], Piece]


def cut_phrases(piece: Piece, opts: PhraseOptions, beat_steps: int, bar_steps: int,
                counts: collections.Counter) -> list[tuple[int, np.ndarray]]:
    """(first bar, roll) for each non-silent window of the piece; note problems added to `counts`."""
    n_bars = -(-piece.steps // bar_steps)                         # a last partial bar is padded with silence
    roll, note_counts = notes_to_roll(piece.tracks, n_bars * bar_steps, opts.low, opts.pitches,
                                      opts.velocity, opts.separate_repeats)
    counts.update(note_counts)
    counts["notes kept"] += sum(1 for notes in piece.tracks for n in notes if opts.low <= n.pitch <= opts.high)
    size = opts.bars * bar_steps
    out = []
    for bar in windows(n_bars, opts.bars, opts.hop):
        w = roll[:, bar * bar_steps: bar * bar_steps + size]
        if not w.any():
            counts["silent phrases"] += 1
            continue
        out.append((bar, w))
    return out


class MusicDatasetBuilder:
    """A built-in music dataset: where its pieces are, how to read each, and what its card says."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    licence: ClassVar[str]
    spdx: ClassVar[tuple[str, ...]]                 # see DatasetBuilder
    attribution: ClassVar[str]
    pypi: ClassVar[tuple[str, ...]] = ()        # PyPI packages the pieces come from
    packages: ClassVar[tuple[str, ...]] = ()    # Debian packages the pieces come from
    track_specs: ClassVar[tuple[dict, ...]]     # {name, program, is_drum} per track
    tempo: ClassVar[float] = 100.0              # written into MIDI and WAV files of samples
    beat_steps: ClassVar[int] = 4
    bar_steps: ClassVar[int] = 16
    options: ClassVar[PhraseOptions] = PhraseOptions()
    label_names: ClassVar[tuple[str, ...]] = ()  # labels pieces may carry, in their index order; () unlabelled
    format: ClassVar[int] = FORMAT

    @property
    def labelled(self) -> bool:
        return bool(self.label_names)

    def pieces(self) -> Iterator[tuple[str, Loader]]:
        """(key, loader) per source piece; a loader raises SkipPiece for a piece that cannot be used."""
        raise NotImplementedError

    def missing(self) -> str | None:
        """None when buildable, else a one-line instruction naming what to install."""
        for pkg in self.pypi:
            try:
                metadata.version(pkg)
            except metadata.PackageNotFoundError:
                return f"dataset '{self.name}' needs the Python package {pkg}: pip install {pkg}"
        return None

    def domain_args(self) -> dict:
        return {"low": self.options.low, "pitches": self.options.pitches, "beat_steps": self.beat_steps,
                "bar_steps": self.bar_steps, "tracks": [dict(t) for t in self.track_specs],
                "velocity": self.options.velocity, "tempo": self.tempo}

    def build(self, root: Path, progress: bool | None = None, limit: int | None = None) -> Path:
        """Read every piece, cut phrases and write them with the card, atomically.

        `limit` reads an evenly spaced subset of the pieces: a quick look, or tests.
        """
        problem = self.missing()
        if problem:
            raise GanvasError(problem)
        opts = self.options
        opts.check(f"dataset '{self.name}'")
        items = list(self.pieces())
        if not items:
            raise GanvasError(f"dataset '{self.name}': no source pieces found")
        available = len(items)
        if limit is not None and limit < available:
            items = [items[i * available // limit] for i in range(limit)]
        skipped: collections.Counter[str] = collections.Counter()
        counts: collections.Counter[str] = collections.Counter()
        rolls, keys, labels = [], [], []
        pieces_per_label: collections.Counter[str] = collections.Counter()
        quiet = None if progress is None else not progress
        used = 0
        for key, load in tqdm(items, desc=f"building {self.name}", unit="piece", disable=quiet, leave=False):
            try:
                piece = load()
            except SkipPiece as exc:
                skipped[exc.reason] += 1
                continue
            phrases = cut_phrases(piece, opts, self.beat_steps, self.bar_steps, counts)
            if not phrases:
                skipped["no phrase of notes in the pitch range"] += 1
                continue
            if self.labelled and piece.label not in self.label_names:
                raise GanvasError(f"dataset '{self.name}': piece {key} has the label {piece.label!r}; "
                                  f"expected one of {', '.join(self.label_names)}")
            used += 1
            pieces_per_label[piece.label] += 1
            for bar, roll in phrases:
                rolls.append(roll)
                keys.append(f"{key}\tbar {bar}\t{piece.note}".rstrip())
                labels.append(self.label_names.index(piece.label) if self.labelled else 0)
        if not rolls:
            raise GanvasError(f"dataset '{self.name}': no usable piece among {len(items)} "
                              f"({', '.join(f'{v} {k}' for k, v in skipped.items())})")
        arrays = {"x": np.stack(rolls)}
        if self.labelled:
            arrays["y"] = np.asarray(labels, dtype=np.int64)
        card = self.card(arrays, available, len(items), used, dict(skipped), dict(counts))
        if self.labelled:
            card["labels"]["pieces"] = [pieces_per_label[n] for n in self.label_names]
        with atomic_dir(root) as tmp:
            save_npy(tmp / ROLLS, arrays["x"])
            if self.labelled:
                save_npy(tmp / LABELS, arrays["y"])
            write_text(tmp / "keys.txt", "\n".join(keys) + "\n")
            write_json(tmp / "card.json", card)
            write_text(tmp / "README.md", music_card_markdown(card))
        return root

    def card(self, arrays: dict[str, np.ndarray], available: int, read: int, used: int, skipped: dict,
             counts: dict) -> dict:
        from ganvas.version import __version__

        o, x = self.options, arrays["x"]
        names = list(self.label_names)
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "domain": "music", "unit": "phrases", "array": ROLLS,
            "count": int(len(x)), "shape": list(x.shape[1:]),
            "roll": (f"{x.shape[1]} tracks × {x.shape[2]} steps ({o.bars} bars of {self.bar_steps}) × "
                       f"{x.shape[3]} pitches (MIDI {o.low}–{o.high}), {'velocity' if o.velocity else 'binary'}"),
            "domain_args": self.domain_args(),
            "phrases": {"bars": o.bars, "hop": o.hop, "separate_repeats": o.separate_repeats},
            "pieces": {"available": available, "read": read, "used": used},
            "available": available,
            "labels": ({"names": names, "counts": np.bincount(arrays["y"], minlength=len(names)).tolist()}
                       if self.labelled else None),
            **card_fields(self),
            "source": {"pypi": {p: _version(p) for p in self.pypi},
                       "packages": {p: None for p in self.packages}},
            "skipped": skipped,
            "notes": counts,
            "fingerprint": fingerprint_arrays(arrays),
            "format": self.format,
            "built_by": f"ganvas {__version__}",
            "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _version(pkg: str) -> str | None:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return None


def music_card_markdown(card: dict) -> str:
    """The dataset card for people: what it is, where it came from, its licence and contents."""
    p = card["pieces"]
    lines = [f"# {card['title']} (`{card['name']}`)", "", card["description"], "",
             f"- Phrases: {card['count']} from {p['used']} of {p['read']} pieces read"
             + (f" ({p['available']} in the source)" if p["available"] != p["read"] else ""),
             f"- Piano-roll: {card['roll']}",
             "- Tracks: " + ", ".join(f"{t['name']} (program {t['program']})" for t in card["domain_args"]["tracks"]),
             f"- Licence: {card['licence']}"]
    if card.get("attribution"):
        lines.append(f"- Attribution: {card['attribution']}")
    for pkg, version in card["source"]["pypi"].items():
        lines.append(f"- Source: PyPI package `{pkg}` {version or '(version unknown)'}")
    if card.get("skipped"):
        lines.append("- Pieces skipped: " + ", ".join(f"{v} {k}" for k, v in sorted(card["skipped"].items())))
    if card.get("notes"):
        lines.append("- Notes: " + ", ".join(f"{v} {k}" for k, v in sorted(card["notes"].items())))
    lines.append(f"- Fingerprint: `{card['fingerprint']}`")
    labels = card.get("labels")
    if labels:
        pieces = labels.get("pieces") or [None] * len(labels["names"])
        lines += ["", "| label | phrases | pieces |", "|---|---|---|"]
        lines += [f"| {n} | {c} | {p if p is not None else '?'} |"
                  for n, c, p in zip(labels["names"], labels["counts"], pieces, strict=True)]
    return "\n".join(lines) + "\n"
