"""Notes on a time grid ↔ multi-track piano-rolls.

A piano-roll is a uint8 array ``tracks × steps × pitches``: cell (t, s, p) is non-zero while track t
sounds pitch ``low + p`` during step s (1 for a binary roll, the MIDI velocity 1..127 otherwise).
A note is ``(pitch, start, end, velocity)`` in steps, ``end`` exclusive, so a note that ends exactly
on a barline occupies nothing of the next bar.

A binary roll cannot tell one long note from two touching notes of the same pitch, and chorale voices
repeat pitches all the time. With ``separate_repeats`` (the default) the earlier of two touching
notes is shortened by one step, so every onset survives the round trip; a one-step note cannot be
shortened and merges with its repeat (counted). Decoding reads each run of sounding steps as a note.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np


class Note(NamedTuple):
    pitch: int          # MIDI pitch 0..127
    start: int          # first step
    end: int            # step after the last one (exclusive)
    velocity: int = 100  # MIDI velocity 1..127


def notes_to_roll(tracks: Sequence[Iterable[Note]], steps: int, low: int, pitches: int, velocity: bool = False,
                  separate_repeats: bool = True) -> tuple[np.ndarray, collections.Counter]:
    """Paint each track's notes into a ``len(tracks) × steps × pitches`` uint8 roll.

    Returns the roll and a count of what could not be kept exactly: ``outside pitch range`` (notes
    dropped), ``merged repeats`` (one-step notes joined to their repeat), ``overlapping`` (a note
    starting while the same pitch still sounds in the same track: the two are joined).
    """
    roll = np.zeros((len(tracks), steps, pitches), dtype=np.uint8)
    counts: collections.Counter[str] = collections.Counter()
    for t, notes in enumerate(tracks):
        last: dict[int, tuple[int, int]] = {}          # row -> (start, end) of the latest note painted
        for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
            row = n.pitch - low
            if not 0 <= row < pitches:
                counts["outside pitch range"] += 1
                continue
            start, end = max(0, n.start), min(steps, max(n.end, n.start + 1))
            if start >= end:
                continue
            prev = last.get(row)
            if prev is not None and start < prev[1]:
                counts["overlapping"] += 1
            elif prev is not None and start == prev[1] and separate_repeats:
                if prev[1] - prev[0] >= 2:
                    roll[t, start - 1, row] = 0          # the earlier note gives up its last step
                else:
                    counts["merged repeats"] += 1
            roll[t, start:end, row] = max(1, min(127, int(n.velocity))) if velocity else 1
            last[row] = (start, max(end, prev[1]) if prev is not None and start < prev[1] else end)
    return roll, counts


def roll_to_notes(roll: np.ndarray, low: int, velocity: bool = False) -> list[list[Note]]:
    """Each run of sounding steps of each pitch of each track as one note, sorted by start and pitch.

    A binary roll gives velocity 100; a velocity roll gives each note the velocity of its first step.
    """
    out: list[list[Note]] = []
    for track in np.asarray(roll):
        on = track > 0
        padded = np.zeros((on.shape[0] + 2, on.shape[1]), dtype=np.int8)
        padded[1:-1] = on
        diff = np.diff(padded, axis=0)
        starts_s, starts_p = np.nonzero(diff == 1)
        ends_s, ends_p = np.nonzero(diff == -1)
        # sort both by (pitch, time) so the k-th start of a pitch pairs with its k-th end
        order_s = np.lexsort((starts_s, starts_p))
        order_e = np.lexsort((ends_s, ends_p))
        notes = [Note(int(low + p), int(s), int(e), int(track[s, p]) if velocity else 100)
                 for s, p, e in zip(starts_s[order_s], starts_p[order_s], ends_s[order_e], strict=True)]
        out.append(sorted(notes, key=lambda n: (n.start, n.pitch)))
    return out


def windows(length: int, size: int, hop: int) -> list[int]:
    """Start indices of every full window of `size` with stride `hop` over `length` items."""
    return list(range(0, length - size + 1, hop)) if length >= size else []
