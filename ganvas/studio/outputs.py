"""Outputs as a page and a person receive them: data URLs, PNGs of pictures, cached files, zips.

What a file of one output holds is its domain's business (`Domain.encode`: a PNG, a MIDI file, a
WAV); this module only packs those bytes. Interactive pictures are PNGs at the fastest compression
level. Downloads are zipped in memory: per output its files, ``provenance.json`` and the code
(``latent.safetensors``; texts have none: a seed and its requests name one text). Nothing here writes a file.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch

from ganvas.explore import provenance as P

MEDIA = {"png": "image/png", "midi": "audio/midi", "wav": "audio/wav", "gif": "image/gif",
         "webp": "image/webp", "zip": "application/zip", "json": "application/json",
         "txt": "text/plain; charset=utf-8"}
SUFFIX = {"png": ".png", "midi": ".mid", "wav": ".wav", "txt": ".txt", "json": ".json"}


def data_url(data: bytes, fmt: str = "png") -> str:
    return f"data:{MEDIA[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


def png(picture: Any, record: dict[str, Any] | None = None) -> bytes:
    """A picture (grids, strips, translations) as a PNG at the fastest level, with `record` inside when given."""
    return P.png_bytes(picture, record, compress_level=1)


class EncodedCache:
    """Encoded files by what they encode (FluidSynth takes a second or two per phrase), `max_bytes` in all."""

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


@dataclass(frozen=True)
class BundleEntry:
    """One output of a zip: its files (name → bytes, in order), record, folder name, and its base and drawn
    codes (None for a text, which its recipe names)."""

    files: dict[str, bytes]
    record: dict[str, Any]
    base: torch.Tensor | None
    final: torch.Tensor | None
    stem: str


def bundle(entries: list[BundleEntry]) -> bytes:
    """A zip of outputs: per entry its files, latent.safetensors (when it has codes) and provenance.json (one
    folder each if several)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for e in entries:
            folder = f"{e.stem}/" if len(entries) > 1 else ""
            for name, data in e.files.items():
                zf.writestr(folder + name, data)
            record = {**e.record, "files": [*e.files, *(["latent.safetensors"] if e.base is not None else [])]}
            if e.base is not None:
                zf.writestr(folder + "latent.safetensors", latent_file(e.base, e.final, record))
            zf.writestr(folder + "provenance.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return buf.getvalue()


def latent_file(base: torch.Tensor, final: torch.Tensor, record: dict[str, Any]) -> bytes:
    """The codes as safetensors (see `ganvas.explore.provenance.latent_bytes`)."""
    return P.latent_bytes(base, record.get("latent", {}).get("space", "z"), {"provenance": record}, final)
