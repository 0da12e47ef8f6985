"""Outputs as a page and a person receive them: PNG data, piano-roll pictures, MIDI, WAV, bundles.

Interactive pictures are PNGs at the fastest compression level (a 64×64 output encodes in well
under a millisecond). Downloads are bundles: the output files, ``provenance.json`` and the code
(``latent.safetensors``), zipped in memory; PNG files carry their provenance inside too. Nothing
here writes a file, except FluidSynth's scratch files, in the studio's own folder inside the runs
folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from ganvas.explore import provenance as P

MEDIA = {"png": "image/png", "midi": "audio/midi", "wav": "audio/wav", "gif": "image/gif",
         "webp": "image/webp", "zip": "application/zip", "json": "application/json"}
SUFFIX = {"png": ".png", "midi": ".mid", "wav": ".wav"}


def data_url(data: bytes, fmt: str = "png") -> str:
    return f"data:{MEDIA[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


def pictures(G: Any, x: torch.Tensor) -> list[Any]:
    """One PIL picture per output: the image, or a music output's piano-roll (one colour per track)."""
    return G.domain.to_pil(x)


def png(picture: Any, record: dict[str, Any] | None = None) -> bytes:
    return P.png_bytes(picture, record, compress_level=1)


def formats(G: Any) -> tuple[str, ...]:
    return tuple(G.domain.formats)


class AudioCache:
    """Rendered WAVs by piano-roll content and layout (FluidSynth takes a second or two per phrase)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes                  # total size kept
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._items[key] = data
            while sum(len(v) for v in self._items.values()) > self.max_bytes and len(self._items) > 1:
                self._items.popitem(last=False)


def wav_bytes(G: Any, x: torch.Tensor, tmp_dir: Path | None, cache: AudioCache | None = None) -> bytes:
    """One music output as a compact WAV (FluidSynth's General MIDI sound, or the built-in synthesizer)."""
    from ganvas.music.audio import compact_wav

    roll = G.domain.to_array(x[:1])[0]
    d = G.domain
    key = hashlib.sha256(roll.tobytes() + json.dumps([d.args(), d.audio, list(roll.shape)], sort_keys=True,
                                                     default=str).encode()).hexdigest()
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit
    data, _ = compact_wav(d.notes(roll), d.tracks, d.tempo, d.beat_steps, d.audio, tmp_dir)
    if cache is not None:
        cache.put(key, data)
    return data


def midi_bytes(G: Any, x: torch.Tensor) -> bytes:
    roll = G.domain.to_array(x[:1])[0]
    buf = io.BytesIO()
    G.domain.to_midi(roll).write(buf)
    return buf.getvalue()


def export(G: Any, x: torch.Tensor, fmt: str, record: dict[str, Any] | None, tmp_dir: Path | None,
           cache: AudioCache | None = None) -> bytes:
    """One output ([1, …]) as a file's bytes in `fmt` (png, midi or wav, as its domain allows)."""
    if fmt == "png":
        return png(pictures(G, x[:1])[0], record)
    if fmt == "midi":
        return midi_bytes(G, x)
    return wav_bytes(G, x, tmp_dir, cache)


def bundle(items: list[dict[str, Any]], G: Any, tmp_dir: Path | None, cache: AudioCache | None = None) -> bytes:
    """A zip of outputs: per item its files, provenance.json and latent.safetensors (one folder each if several).

    `items`: dicts with ``output`` ([1, …] tensor), ``record`` (provenance), ``final`` (the drawn code),
    ``base`` (the base code) and ``stem`` (the folder/file name).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for it in items:
            folder = f"{it['stem']}/" if len(items) > 1 else ""
            names = []
            for fmt in formats(G):
                name = f"{it['stem']}{SUFFIX[fmt]}"
                names.append(name)
                zf.writestr(folder + name, export(G, it["output"], fmt, it["record"], tmp_dir, cache))
            record = {**it["record"], "files": [*names, "latent.safetensors"]}
            zf.writestr(folder + "latent.safetensors", latent_file(it["base"], it["final"], record))
            zf.writestr(folder + "provenance.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return buf.getvalue()


def latent_file(base: torch.Tensor, final: torch.Tensor, record: dict[str, Any]) -> bytes:
    """The codes as safetensors (see `ganvas.explore.provenance.latent_bytes`)."""
    return P.latent_bytes(base, record.get("latent", {}).get("space", "z"), {"provenance": record}, final)
