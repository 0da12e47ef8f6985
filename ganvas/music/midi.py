"""MIDI files in and out, quantised to a grid of steps (pretty_midi does the byte-level work).

Reading converts each note's times to ticks through the file's own tempo map, so tempo changes do not
move notes off the grid; onsets and ends are rounded to the nearest step. Writing puts one instrument
(its own channel and General MIDI program) per track, at a constant tempo.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from ganvas.music.pianoroll import Note

with warnings.catch_warnings():
    warnings.simplefilter("ignore")          # pretty_midi warns about pkg_resources on import
    import pretty_midi

MAX_MIDI_BYTES = 20 * 2**20                  # larger files are refused unread (no real song is this big)


class BadMidi(Exception):
    """A MIDI file that cannot be used; `reason` is the short label it is counted under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Part:
    """One instrument of a MIDI file, as read."""

    name: str               # the track name in the file (may be empty)
    program: int            # General MIDI program 0..127
    is_drum: bool           # channel 10 percussion
    notes: tuple[Note, ...]  # quantised notes, in steps


def read_midi(path: Path, beat_steps: int = 4) -> tuple[list[Part], int, float]:
    """The file's parts quantised to `beat_steps` per beat, its length in steps and its first tempo.

    Raises `BadMidi` for what cannot be used: zero-byte, too large, unreadable, not in 4/4 (a bar must
    be four quarter notes), or no notes at all.
    """
    size = path.stat().st_size
    if size == 0:
        raise BadMidi("zero-byte")
    if size > MAX_MIDI_BYTES:
        raise BadMidi("too large", f"{size} bytes")
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:                 # mido/pretty_midi raise many kinds on corrupt files
        raise BadMidi("unreadable", f"{type(exc).__name__}: {exc}") from None
    for ts in pm.time_signature_changes:
        if ts.numerator != ts.denominator:      # a bar of four quarter notes: 4/4, 2/2
            raise BadMidi("not in 4/4", f"time signature {ts.numerator}/{ts.denominator}")
    ticks_per_step = pm.resolution / beat_steps
    parts = []
    length = 0
    for inst in pm.instruments:
        notes = []
        for n in inst.notes:
            start = round(pm.time_to_tick(n.start) / ticks_per_step)
            end = round(pm.time_to_tick(n.end) / ticks_per_step)
            notes.append(Note(int(n.pitch), start, max(end, start + 1), int(n.velocity)))
            length = max(length, notes[-1].end)
        if notes:
            parts.append(Part(inst.name.strip(), int(inst.program), bool(inst.is_drum), tuple(notes)))
    if not parts:
        raise BadMidi("no notes")
    tempi = pm.get_tempo_changes()[1]
    return parts, length, float(tempi[0]) if len(tempi) else 120.0


@dataclass(frozen=True)
class TrackSpec:
    """How one piano-roll track is written to MIDI."""

    name: str
    program: int = 0        # General MIDI program 0..127
    is_drum: bool = False

    def to_dict(self) -> dict:
        return {"name": self.name, "program": self.program, "is_drum": self.is_drum}


def notes_to_midi(tracks: list[list[Note]], specs: list[TrackSpec], tempo: float, beat_steps: int = 4,
                  resolution: int = 480) -> pretty_midi.PrettyMIDI:
    """A MIDI object with one instrument per track at a constant `tempo` (quarter notes per minute)."""
    pm = pretty_midi.PrettyMIDI(resolution=resolution, initial_tempo=float(tempo))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    step_s = 60.0 / (tempo * beat_steps)
    for notes, spec in zip(tracks, specs, strict=True):
        inst = pretty_midi.Instrument(program=int(spec.program), is_drum=bool(spec.is_drum), name=spec.name)
        inst.notes = [pretty_midi.Note(velocity=int(n.velocity), pitch=int(n.pitch), start=n.start * step_s,
                                       end=n.end * step_s) for n in notes]
        pm.instruments.append(inst)
    return pm


def write_midi(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write atomically (a reader never sees half a file)."""
    from ganvas.files import atomic_path

    with atomic_path(path) as tmp:
        pm.write(str(tmp))


def gm_family(program: int) -> str:
    """The General MIDI family of a program (Piano, Organ, Guitar, Bass, Strings, ...)."""
    return pretty_midi.program_to_instrument_class(int(program))


def gm_name(program: int) -> str:
    return pretty_midi.program_to_instrument_name(int(program))
