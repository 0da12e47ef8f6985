"""The music domain: multi-track piano-rolls, tracks × time steps × pitches.

Stored samples are uint8 arrays ``N × tracks × steps × pitches`` at a sixteenth-note grid (4 steps
per beat, 16 per 4/4 bar): 0/1 for a binary roll, the MIDI velocity otherwise. Models see floats in
[-1, 1] where the sign says whether a note sounds: −1 is silence, +1 a note (binary), v/127 a note
of velocity v. So a model's tanh output is read back by its sign, and binarising at 0 is the
natural threshold.

A domain instance is laid out by its ``domain_args`` (stored in the dataset card and in every
checkpoint): the lowest pitch, the steps per beat and bar, the tracks (name, General MIDI program,
drum flag), binary or velocity, and the tempo written to MIDI and audio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganvas.console import info
from ganvas.domains.base import Domain, one_output, png_bytes, stored_tensor
from ganvas.errors import GanvasError
from ganvas.files import save_image
from ganvas.music.midi import TrackSpec

CHORALE_TRACKS = ("Soprano", "Alto", "Tenor", "Bass")


class MusicDomain(Domain):
    name = "music"
    file_suffix = ".mid"
    formats = ("midi", "wav", "png")
    default_formats = ("midi", "wav", "png")
    output_options = ("tempo", "programs", "audio")

    def __init__(self,
                 low: int = 36,                         # MIDI pitch of the lowest row (36 = C2)
                 pitches: int | None = None,            # rows; None = from the data (checked on use)
                 beat_steps: int = 4,                   # time steps per quarter note (4 = sixteenths)
                 bar_steps: int = 16,                   # time steps per bar (16 = a 4/4 bar of sixteenths)
                 tracks: Sequence[dict | str] = CHORALE_TRACKS,   # names, or {name, program, is_drum}
                 velocity: bool = False,                # velocity roll (True) or binary roll (False)
                 tempo: float = 100.0,                  # quarter notes per minute in MIDI and WAV files
                 programs: Sequence[int] | None = None,  # override each track's General MIDI program
                 audio: str = "auto",                   # WAV engine: auto | fluidsynth | builtin
                 ) -> None:
        specs = [TrackSpec(t) if isinstance(t, str) else TrackSpec(str(t["name"]), int(t.get("program", 0)),
                                                                    bool(t.get("is_drum", False)))
                 for t in tracks]
        if programs is not None:
            if len(programs) != len(specs) or not all(isinstance(p, int) and 0 <= p <= 127 for p in programs):
                raise GanvasError(f"programs must be {len(specs)} General MIDI numbers 0..127 (one per track: "
                                  f"{', '.join(s.name for s in specs)}), got {programs!r}")
            specs = [TrackSpec(s.name, int(p), s.is_drum) for s, p in zip(specs, programs, strict=True)]
        if not (isinstance(tempo, int | float) and 10 <= tempo <= 400):
            raise GanvasError(f"tempo must be a number of beats per minute in 10..400, got {tempo!r}")
        if audio not in ("auto", "fluidsynth", "builtin"):
            raise GanvasError(f"audio must be auto | fluidsynth | builtin, got {audio!r}")
        if beat_steps < 1 or bar_steps < beat_steps or bar_steps % beat_steps:
            raise GanvasError(f"bar_steps ({bar_steps}) must be a whole number of beats of {beat_steps} steps")
        self.low, self.pitches, self.velocity = int(low), pitches, bool(velocity)
        self.beat_steps, self.bar_steps, self.tempo, self.audio = int(beat_steps), int(bar_steps), float(tempo), audio
        self.tracks = specs

    def args(self) -> dict[str, Any]:
        """The domain_args that rebuild this layout (what a dataset card and a checkpoint store)."""
        return {"low": self.low, "pitches": self.pitches, "beat_steps": self.beat_steps,
                "bar_steps": self.bar_steps, "tracks": [t.to_dict() for t in self.tracks],
                "velocity": self.velocity, "tempo": self.tempo}

    # --- tensors ---------------------------------------------------------------------------------

    def to_tensor(self, batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        x = stored_tensor(batch, device)
        if self.velocity:
            return torch.where(x > 0, x.float() / 127.0, torch.full_like(x, -1, dtype=torch.float32))
        return x.float().mul_(2.0).sub_(1.0)

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        x = x.detach().float().cpu()
        if self.velocity:
            return torch.where(x > 0, (x * 127).round().clamp(1, 127), torch.zeros_like(x)).to(torch.uint8).numpy()
        return (x > 0).to(torch.uint8).numpy()

    # --- notes -----------------------------------------------------------------------------------

    def notes(self, roll: np.ndarray) -> list:
        """One roll (tracks × steps × pitches) as notes per track."""
        from ganvas.music.pianoroll import roll_to_notes

        return roll_to_notes(roll, self.low, self.velocity)

    def to_midi(self, roll: np.ndarray):
        """One roll as a pretty_midi object, one instrument per track."""
        from ganvas.music.midi import notes_to_midi

        self._check(roll)
        return notes_to_midi(self.notes(roll), self.tracks, self.tempo, self.beat_steps)

    def _check(self, roll: np.ndarray) -> None:
        if roll.ndim != 3 or roll.shape[0] != len(self.tracks):
            raise GanvasError(f"expected a piano-roll of {len(self.tracks)} tracks × steps × pitches, "
                              f"got shape {tuple(roll.shape)}")

    # --- pictures --------------------------------------------------------------------------------

    def picture(self, roll: np.ndarray, legend: bool = True) -> np.ndarray:
        from ganvas.music import picture

        self._check(roll)
        img = picture.roll_picture(roll, self.low, self.beat_steps, self.bar_steps)
        if not legend:
            return img
        return np.concatenate([picture.legend([t.name for t in self.tracks], img.shape[1]), img])

    def to_pil(self, x: torch.Tensor) -> list[Image.Image]:
        return [Image.fromarray(self.picture(r)) for r in self.to_array(x)]

    def preview(self, x: torch.Tensor, nrow: int | None = None, pad: int = 4) -> Image.Image:
        from ganvas.domains.base import make_grid
        from ganvas.music import picture

        pics = np.stack([self.picture(r, legend=False) for r in self.to_array(x)])
        nrow = nrow or max(1, math.ceil(math.sqrt(len(pics))))
        grid = np.asarray(make_grid(pics, nrow=nrow, pad=pad, fill=255))
        return Image.fromarray(np.concatenate([picture.legend([t.name for t in self.tracks], grid.shape[1]), grid]))

    # --- files -----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"tracks": [t.name for t in self.tracks], "tempo": self.tempo}

    def encode(self, x: torch.Tensor, format: str, *, text: dict[str, str] | None = None,
               scratch: Path | None = None, compress_level: int = 1) -> bytes:
        """One phrase as MIDI, a compact WAV (22 kHz mono, FluidSynth's General MIDI sound or the built-in
        synthesizer, cut a second after the last note) or a PNG of its piano-roll (`text` goes there)."""
        self.check_formats((format,))
        roll = self.to_array(one_output(x))[0]
        if format == "midi":
            import io

            buf = io.BytesIO()
            self.to_midi(roll).write(buf)
            return buf.getvalue()
        if format == "wav":
            from ganvas.music.audio import compact_wav

            return compact_wav(self.notes(roll), self.tracks, self.tempo, self.beat_steps, self.audio, scratch)[0]
        return png_bytes(Image.fromarray(self.picture(roll)), text, compress_level)

    def save(self, x: torch.Tensor, out_dir: Path, stems: list[str], formats: tuple[str, ...] | None = None
             ) -> list[Path]:
        from ganvas.music.audio import fluidsynth_setup, render_wav
        from ganvas.music.midi import write_midi

        formats = self.check_formats(formats)
        out_dir = Path(out_dir)
        if "wav" in formats and self.audio == "auto" and isinstance(setup := fluidsynth_setup(), str):
            info(setup)
        paths: list[Path] = []
        for roll, stem in zip(self.to_array(x), stems, strict=True):
            for fmt in formats:
                if fmt == "midi":
                    path = out_dir / f"{stem}.mid"
                    write_midi(self.to_midi(roll), path)
                elif fmt == "wav":
                    path = out_dir / f"{stem}.wav"
                    render_wav(self.notes(roll), self.tracks, self.tempo, path, self.beat_steps, self.audio)
                else:
                    path = out_dir / f"{stem}.png"
                    save_image(path, Image.fromarray(self.picture(roll)))
                paths.append(path)
        return paths
