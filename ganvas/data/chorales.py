"""`chorales`: J. S. Bach's four-part chorales from music21's bundled corpus, as four-track phrases.

Each chorale with exactly four parts (soprano, alto, tenor, bass) in 4/4 becomes a piano-roll at a
sixteenth-note grid, barline-aligned (a pickup bar is padded with silence before it), transposed to
C major or A minor (the key music21 finds by Krumhansl–Schmuckler analysis; the smallest shift,
−6..+5 semitones) and cut into 4-bar phrases every bar. `chorales-original` keeps the written keys.
Both are labelled by the chorale's mode, ``major`` or ``minor``, from the same key analysis
(``score.analyze('key').mode``; about 25 ms a chorale): every phrase carries its chorale's mode,
which a conditional model can be asked for.
Other pieces under the corpus's ``bach/`` folder (instrumental doublings with more parts, single-line
Roman-numeral analyses, 3/4 chorales) are skipped and counted on the card.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from ganvas.data.music_builder import Loader, MusicDatasetBuilder, Piece, SkipPiece
from ganvas.music.pianoroll import Note

ORGAN = 19          # General MIDI "Church Organ": every voice audible, as a chorale is often accompanied
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
MAJOR_TONIC, MINOR_TONIC = 0, 9      # C major, A minor
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")           # the labels, in index order


def corpus_paths() -> list[Path]:
    from music21 import corpus

    return sorted(corpus.getComposer("bach"), key=lambda p: p.name)


def transposition(tonic: int, mode: str) -> int:
    """Semitones (−6..+5) taking `tonic` to C (major) or A (minor)."""
    target = MINOR_TONIC if mode == "minor" else MAJOR_TONIC
    shift = (target - tonic) % 12
    return shift - 12 if shift > 5 else shift


def read_chorale(path: Path, to_c: bool, beat_steps: int = 4) -> Piece:
    """The four voices of one chorale as notes in steps from its first full barline."""
    from music21 import converter, meter

    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            score = converter.parse(str(path), forceSource=True)     # forceSource: no pickle cache is written
    except Exception as exc:                     # music21 raises many kinds on malformed files
        raise SkipPiece("unreadable", f"{type(exc).__name__}: {exc}") from None
    parts = list(getattr(score, "parts", []))
    if len(parts) != 4:
        raise SkipPiece("not four parts", f"{len(parts)} parts")
    meters = {ts.ratioString for ts in score.recurse().getElementsByClass(meter.TimeSignature)}
    if meters != {"4/4"}:
        raise SkipPiece("not in 4/4", ", ".join(sorted(meters)) or "no time signature")
    measures = parts[0].getElementsByClass("Measure")
    # the second measure starts on a barline: shift so that barlines fall on multiples of a bar
    pickup = Fraction(measures[1].offset).limit_denominator(96) % 4 if len(measures) > 1 else Fraction(0)
    shift_q = (4 - pickup) % 4
    key = score.analyze("key")        # Krumhansl–Schmuckler: the key, and so the mode (the label)
    if key.mode not in MODES:
        raise SkipPiece("no major or minor key found", str(key))
    semitones = transposition(key.tonic.pitchClass, key.mode) if to_c else 0
    note = f"{PITCH_CLASSES[key.tonic.pitchClass]} {key.mode}" + (f", transposed {semitones:+d}" if to_c else "")
    tracks: list[list[Note]] = []
    steps = 0
    for part in parts:
        notes = []
        for n in part.stripTies().flatten().notes:
            if n.duration.isGrace or n.duration.quarterLength == 0:
                continue
            start = round((Fraction(n.offset).limit_denominator(96) + shift_q) * beat_steps)
            end = round((Fraction(n.offset).limit_denominator(96) + shift_q
                         + Fraction(n.duration.quarterLength).limit_denominator(96)) * beat_steps)
            for p in n.pitches:                   # a chord in one voice (rare): every pitch
                notes.append(Note(p.midi + semitones, start, max(end, start + 1), 100))
            steps = max(steps, end)
        tracks.append(notes)
    if not any(tracks):
        raise SkipPiece("no notes")
    return Piece(tracks, steps, note, key.mode)


class ChoralesBuilder(MusicDatasetBuilder):
    name = "chorales"
    title = "Bach chorales (four voices, in C major / A minor)"
    description = ("J. S. Bach's four-part chorales from the music21 corpus: soprano, alto, tenor and bass as "
                   "four tracks at a sixteenth-note grid, transposed to C major or A minor, in 4-bar phrases "
                   "starting at every bar; labelled by the chorale's mode (major or minor, from music21's "
                   "key analysis).")
    licence = ("Compositions public domain (J. S. Bach, 1685–1750); encodings distributed in the music21 corpus "
               "with the encoders' permission (music21/corpus/license.txt; BSD-licensed software)")
    spdx = ("LicenseRef-PublicDomain", "LicenseRef-music21-corpus")
    attribution = ("Chorales by Johann Sebastian Bach (1685-1750), in the public domain; encodings from the "
                   "music21 corpus (music21, BSD-3-Clause software by Michael Scott Asato Cuthbert and "
                   "contributors), distributed with the encoders' permission: see music21/corpus/license.txt "
                   "for its terms (some corpus encodings restrict commercial use).")
    pypi = ("music21",)
    track_specs = tuple({"name": v, "program": ORGAN, "is_drum": False} for v in VOICES)
    tempo = 80.0
    transpose = True
    label_names = MODES

    def pieces(self) -> Iterator[tuple[str, Loader]]:
        for path in corpus_paths():
            yield path.name, (lambda p=path: read_chorale(p, self.transpose, self.beat_steps))


class OriginalKeyChoralesBuilder(ChoralesBuilder):
    name = "chorales-original"
    title = "Bach chorales (four voices, written keys)"
    description = ("J. S. Bach's four-part chorales from the music21 corpus: soprano, alto, tenor and bass as "
                   "four tracks at a sixteenth-note grid, in their written keys, in 4-bar phrases starting at "
                   "every bar; labelled by the chorale's mode (major or minor, from music21's key analysis).")
    transpose = False
