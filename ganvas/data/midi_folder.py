"""A folder of the user's MIDI files as a music dataset, read once and cached.

Every ``.mid``/``.midi`` file below the folder is quantised to sixteenth notes and cut into phrases of
`bars` bars. Instruments become tracks:

- ``tracks = "program"``: one track per General MIDI program found in the folder (drums: one track);
  instruments of the same program, in one file or several, share a track;
- ``tracks = "family"``: one track per General MIDI family (Piano, Guitar, Bass, Strings, ...);
- ``tracks = "single"``: every pitched instrument in one piano track (drums are dropped);
- ``tracks = "auto"`` (default): by program while that gives at most `max_tracks` tracks, else by family.
Beyond `max_tracks`, the instruments found in the fewest files are dropped (their notes counted).
Files that cannot be used (zero-byte, corrupt, not 4/4, no notes, no notes in the pitch range) are
skipped, counted in one line, and listed in ``skipped.txt`` in the cache (so are FIFOs, symlink loops
and folders named ``*.mid``); ``keys.json`` there gives each phrase's file and first bar. The cache is
rebuilt when a file or an option changes. Options come from the run's ``data_args``, e.g.
``--set data_args.bars=8 --set data_args.tracks=family``.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ganvas.console import info, skipped_summary
from ganvas.data.dataset import ArrayDataset, ItemIndex, fingerprint_arrays
from ganvas.data.imageprep import IMAGE_SUFFIXES
from ganvas.data.licences import user_fields
from ganvas.data.listing import (
    CACHE_FORMAT,
    FolderListing,
    scan,
    shown,
    skip_line,
    warn_if_few,
)
from ganvas.data.music_builder import ROLLS, PhraseOptions, Piece, cut_phrases
from ganvas.errors import GanvasError, unknown_name
from ganvas.files import atomic_dir, load_npy, save_npy, write_json, write_text
from ganvas.music.midi import BadMidi, Part, gm_family, gm_name, read_midi

MIDI_SUFFIXES = (".mid", ".midi")
TRACK_MODES = ("auto", "program", "family", "single")
BEAT_STEPS, BAR_STEPS = 4, 16
MIDI_HINT = "cut shorter phrases (--set data_args.bars=2), or start one every bar (--set data_args.hop=1)"


@dataclass
class FolderOptions(PhraseOptions):
    low: int = 24                   # MIDI pitch of the lowest row (24 = C1, as MuseGAN's 84-pitch range)
    high: int = 107                 # MIDI pitch of the highest row (107 = B7)
    tracks: str = "auto"            # auto | program | family | single
    max_tracks: int = 8             # at most this many tracks; >= 1
    tempo: float = 0.0              # tempo of written samples; 0 = the median first tempo of the files used


def parse_options(args: dict | None) -> FolderOptions:
    names = [f.name for f in dataclasses.fields(FolderOptions)]
    for key in args or {}:
        if key not in names:
            raise unknown_name("data_args option for a MIDI folder", key, names)
    opts = FolderOptions(**(args or {}))
    opts.check("data_args")
    if opts.tracks not in TRACK_MODES:
        raise unknown_name("data_args value for 'tracks'", str(opts.tracks), list(TRACK_MODES))
    if not isinstance(opts.max_tracks, int) or opts.max_tracks < 1:
        raise GanvasError(f"data_args: 'max_tracks' must be a whole number >= 1, got {opts.max_tracks!r}")
    return opts


def is_music_folder(path: Path) -> bool:
    """A folder holding MIDI files and no images is read as music when the model does not say."""
    if not path.is_dir():
        return False
    suffixes = {p.suffix.lower() for p in scan(path)}
    return bool(suffixes & set(MIDI_SUFFIXES)) and not suffixes & set(IMAGE_SUFFIXES)


def track_key(part: Part, mode: str) -> tuple[int, str, int]:
    """(sort order, track name, program written) of the track a part belongs to."""
    if part.is_drum:
        return (1000, "Drums", 0)
    if mode == "single":
        return (0, "Piano", 0)
    if mode == "family":
        return (part.program // 8, gm_family(part.program), part.program // 8 * 8)
    return (part.program, gm_name(part.program), part.program)


def assign_tracks(parts_per_file: list[list[Part]], opts: FolderOptions) -> tuple[list[tuple], str]:
    """The tracks (sort order, name, program) this folder is cut into, and the mode used."""
    mode = opts.tracks
    if mode == "auto":
        programs = {track_key(p, "program") for parts in parts_per_file for p in parts}
        mode = "program" if len(programs) <= opts.max_tracks else "family"
    files_with: collections.Counter = collections.Counter()
    for parts in parts_per_file:
        files_with.update({track_key(p, mode) for p in parts if not (mode == "single" and p.is_drum)})
    kept = sorted(k for k, _ in files_with.most_common(opts.max_tracks))
    return kept, mode


def load_midi_folder(folder: Path, home: Path | None = None, progress: bool | None = None,
                     args: dict | None = None) -> ArrayDataset:
    opts = parse_options(args)
    opt_key = hashlib.sha256(json.dumps(dataclasses.asdict(opts), sort_keys=True).encode()).hexdigest()[:12]
    listing = FolderListing.open(folder, "a folder of MIDI files or a built-in dataset name", f"music-{opt_key}",
                                 home, MIDI_SUFFIXES)
    card = listing.cached_card()
    if card is not None:
        ds = ArrayDataset(str(listing.folder), "music", {"x": load_npy(listing.cache / ROLLS)}, card,
                          card["fingerprint"], index=phrase_index(listing.folder, listing.cache))
    else:
        ds = _build(listing, opts, progress)
    warn_if_few(listing.folder, len(ds), f"{opts.bars}-bar phrase",
                f"add MIDI files, or {MIDI_HINT}")
    return ds


def _build(listing: FolderListing, opts: FolderOptions, progress: bool | None) -> ArrayDataset:
    folder, files, cache = listing.folder, listing.files, listing.cache
    skipped: collections.Counter[str] = collections.Counter(o.reason for o in listing.odd)
    skipped_lines = [skip_line(listing.rel(o.path), o) for o in listing.odd]
    read: list[tuple[Path, list[Part], int, float]] = []
    quiet = None if progress is None else not progress
    for path in tqdm(files, desc=f"reading {shown(folder.name)}", unit="file", disable=quiet, leave=False):
        try:
            if path.suffix.lower() not in MIDI_SUFFIXES:
                raise BadMidi("not a MIDI file", f"suffix {path.suffix or '(none)'}")
            parts, length, tempo = read_midi(path, BEAT_STEPS)
        except BadMidi as exc:
            skipped[exc.reason] += 1
            skipped_lines.append(skip_line(listing.rel(path), exc))
            continue
        read.append((path, parts, length, tempo))
    tracks, mode = assign_tracks([parts for _, parts, _, _ in read], opts)
    index = {k: i for i, k in enumerate(tracks)}
    counts: collections.Counter[str] = collections.Counter()
    rolls, keys, tempi = [], [], []
    for path, parts, length, file_tempo in read:
        rel = listing.rel(path)
        notes: list[list] = [[] for _ in tracks]
        for part in parts:
            k = track_key(part, mode)
            if k in index and not (mode == "single" and part.is_drum):
                notes[index[k]].extend(part.notes)
            else:
                counts["notes of instruments left out"] += len(part.notes)
        phrases = cut_phrases(Piece(notes, length), opts, BEAT_STEPS, BAR_STEPS, counts)
        if not phrases:
            skipped["no notes in the pitch range"] += 1
            skipped_lines.append(f"{shown(rel)}\tno notes in the pitch range: no {opts.bars}-bar phrase with notes "
                                 f"in MIDI {opts.low}–{opts.high}")
            continue
        tempi.append(file_tempo)
        for bar, roll in phrases:
            rolls.append(roll)
            keys.append([rel, bar])
    where = shown(str(folder))
    summary = skipped_summary(dict(skipped), listing.total, where)
    if not rolls:
        what = f" ({summary})" if summary else ""
        raise GanvasError(f"data folder '{where}' holds no usable MIDI files ({' '.join(MIDI_SUFFIXES)}) with "
                          f"{opts.bars}-bar phrases in MIDI {opts.low}–{opts.high}{what}")
    x = np.stack(rolls)
    tempo = opts.tempo or round(statistics.median(tempi))
    domain_args = {"low": opts.low, "pitches": opts.pitches, "beat_steps": BEAT_STEPS, "bar_steps": BAR_STEPS,
                   "tracks": [{"name": name, "program": program, "is_drum": order == 1000}
                              for order, name, program in tracks],
                   "velocity": opts.velocity, "tempo": float(tempo)}
    card = {
        "name": str(folder), "title": folder.name, "domain": "music", "unit": "phrases", "array": ROLLS,
        "description": f"MIDI files from the folder {folder}, {opts.bars}-bar phrases every {opts.hop} bar(s)",
        "count": int(len(x)), "shape": list(x.shape[1:]),
        "roll": (f"{x.shape[1]} tracks ({mode}) × {x.shape[2]} steps × {x.shape[3]} pitches "
                   f"(MIDI {opts.low}–{opts.high}), {'velocity' if opts.velocity else 'binary'}"),
        "domain_args": domain_args, "options": dataclasses.asdict(opts),
        "pieces": {"available": len(files), "read": len(read), "used": len(tempi)},
        "labels": None, **user_fields("MIDI files"), "source": {"folder": str(folder)},
        "skipped": dict(skipped), "notes": dict(counts), "listing": listing.digest, "format": CACHE_FORMAT,
        "fingerprint": fingerprint_arrays({"x": x}),
    }
    with atomic_dir(cache) as tmp:
        save_npy(tmp / ROLLS, x)
        write_json(tmp / "keys.json", keys)          # [file, first bar] of each phrase; any name
        write_text(tmp / "skipped.txt", "".join(f"{line}\n" for line in skipped_lines))
        write_json(tmp / "card.json", card)
    if summary:
        info(f"{summary} (listed in {cache / 'skipped.txt'})")
    return ArrayDataset(str(folder), "music", {"x": x}, card, card["fingerprint"], index=phrase_index(folder, cache))


def phrase_index(folder: Path, cache: Path) -> dict[str, ItemIndex]:
    """{"x": the index} of the phrases: "FILE\tbar N" keys (a phrase's file and first bar), the files."""
    pairs = json.loads((cache / "keys.json").read_text(encoding="utf-8"))
    keys = [f"{rel}\tbar {bar}" for rel, bar in pairs]
    return {"x": ItemIndex(keys, lambda: [str(folder / rel) for rel, _ in pairs])}
