"""Where a manifest lives inside each kind of file, and what of the file its content hash covers.

- PNG: an ``iTXt`` chunk ``ganvas:manifest`` before ``IEND``; the hash covers the decoded pixels (mode,
  size, bytes), so a lossless re-save that keeps the chunk still verifies and an edited pixel does not.
- WAV: a RIFF chunk ``gnvs`` after the others; the hash covers the ``fmt `` and ``data`` chunks.
- MIDI: a sequencer-specific meta event (``FF 7F``) opening track 0, its data ``ganvas-manifest\\0`` + JSON;
  the hash covers the file without that event (the bytes as the domain wrote them).
- Anything else (text, JSON, GIF and WebP animations): a sidecar ``NAME.EXT.ganvas.json`` beside the file;
  the hash covers the file's bytes.

C2PA content credentials (PNG, WAV) are added after the manifest and hash everything but their own
chunk, so the two never disturb each other.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ganvas.errors import GanvasError

PNG_SIG = b"\x89PNG\r\n\x1a\n"
PNG_KEY = b"ganvas:manifest"
WAV_CHUNK = b"gnvs"
MIDI_PREFIX = b"ganvas-manifest\x00"
MEDIA_TYPES = {"png": "image/png", "wav": "audio/wav", "mid": "audio/midi", "txt": "text/plain",
               "json": "application/json", "gif": "image/gif", "webp": "image/webp", "jpeg": "image/jpeg"}
EMBEDDED = ("png", "wav", "mid")       # formats that carry their manifest inside


class CorruptFile(GanvasError):
    """A file whose structure cannot be read (truncated, damaged): `verify` reports it as an error."""


def sniff(data: bytes) -> str | None:
    """The format of `data` by its first bytes (None: not one ganvas knows by its signature)."""
    if data.startswith(PNG_SIG):
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"MThd"):
        return "mid"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------- PNG
def _png_chunks(data: bytes, where: str) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(type, payload, start, end) of each chunk; a truncated or damaged file is a `CorruptFile`."""
    pos = len(PNG_SIG)
    while pos < len(data):
        if pos + 8 > len(data):
            raise CorruptFile(f"{where}: truncated PNG (a chunk header is cut off at byte {pos})")
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise CorruptFile(f"{where}: truncated PNG (chunk {kind.decode('latin-1')!r} runs past the end)")
        payload = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + payload) != struct.unpack(">I", data[end - 4:end])[0]:
            raise CorruptFile(f"{where}: damaged PNG (bad CRC in chunk {kind.decode('latin-1')!r})")
        yield kind, payload, pos, end
        pos = end
        if kind == b"IEND":
            return
    raise CorruptFile(f"{where}: truncated PNG (no IEND chunk)")


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_embed(data: bytes, manifest: bytes) -> bytes:
    itxt = PNG_KEY + b"\x00\x00\x00" + b"\x00" + b"\x00" + manifest   # keyword, no compression, no language
    out, kept = bytearray(PNG_SIG), False
    for kind, payload, start, end in _png_chunks(data, "PNG"):
        if kind == b"iTXt" and payload.startswith(PNG_KEY + b"\x00"):
            continue
        if kind == b"IEND":
            out += _png_chunk(b"iTXt", itxt)
            kept = True
        out += data[start:end]
    assert kept
    return bytes(out)


def png_extract(data: bytes, where: str) -> bytes | None:
    for kind, payload, _, _ in _png_chunks(data, where):
        if kind == b"iTXt" and payload.startswith(PNG_KEY + b"\x00"):
            rest = payload[len(PNG_KEY) + 1:]
            if rest[:1] != b"\x00":
                raise CorruptFile(f"{where}: the ganvas:manifest chunk is compressed, which ganvas never writes")
            rest = rest[2:]                                   # compression flag and method
            rest = rest[rest.index(b"\x00") + 1:]              # language tag
            return rest[rest.index(b"\x00") + 1:]              # translated keyword
    return None


def png_content(data: bytes, where: str) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            head = f"{im.mode}:{im.size[0]}x{im.size[1]}:".encode()
            return sha256(head + im.tobytes())
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise CorruptFile(f"{where}: the PNG's pixels cannot be decoded ({' '.join(str(exc).split())[:100]})") from None


# ---------------------------------------------------------------------------------------------- WAV
def _riff_chunks(data: bytes, where: str) -> Iterator[tuple[bytes, bytes, int, int]]:
    if len(data) < 12:
        raise CorruptFile(f"{where}: truncated WAV (no RIFF header)")
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[pos:pos + 8])
        end = pos + 8 + length + (length & 1)
        if pos + 8 + length > len(data):
            raise CorruptFile(f"{where}: truncated WAV (chunk {kind.decode('latin-1')!r} runs past the end)")
        yield kind, data[pos + 8:pos + 8 + length], pos, min(end, len(data))
        pos = end


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def wav_embed(data: bytes, manifest: bytes) -> bytes:
    body = b"".join(data[s:e] for kind, _, s, e in _riff_chunks(data, "WAV") if kind != WAV_CHUNK)
    return _riff(body + _riff_chunk(WAV_CHUNK, manifest))


def wav_extract(data: bytes, where: str) -> bytes | None:
    return next((payload for kind, payload, _, _ in _riff_chunks(data, where) if kind == WAV_CHUNK), None)


def wav_content(data: bytes, where: str) -> str:
    parts = {kind: payload for kind, payload, _, _ in _riff_chunks(data, where) if kind in (b"fmt ", b"data")}
    if set(parts) != {b"fmt ", b"data"}:
        raise CorruptFile(f"{where}: a WAV needs 'fmt ' and 'data' chunks; found {sorted(k.decode() for k in parts)}")
    return sha256(b"fmt " + parts[b"fmt "] + b"data" + parts[b"data"])


# ---------------------------------------------------------------------------------------------- MIDI
def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def _read_varlen(data: bytes, pos: int) -> tuple[int, int]:
    n = 0
    for _ in range(4):
        if pos >= len(data):
            raise IndexError
        b = data[pos]
        pos += 1
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            return n, pos
    raise ValueError("variable-length number longer than 4 bytes")


@dataclass
class _Midi:
    header: bytes                  # MThd chunk, whole
    first: tuple[int, int]         # track 0's payload span in the file
    event: tuple[int, int] | None  # our event's span inside track 0's payload (relative), when present
    manifest: bytes | None


def _midi(data: bytes, where: str) -> _Midi:
    if len(data) < 14 or data[:4] != b"MThd":
        raise CorruptFile(f"{where}: truncated MIDI (no complete MThd header)")
    hlen = struct.unpack(">I", data[4:8])[0]
    pos = 8 + hlen
    if data[pos:pos + 4] != b"MTrk" or pos + 8 > len(data):
        raise CorruptFile(f"{where}: truncated MIDI (no track after the header)")
    tlen = struct.unpack(">I", data[pos + 4:pos + 8])[0]
    start, end = pos + 8, pos + 8 + tlen
    if end > len(data):
        raise CorruptFile(f"{where}: truncated MIDI (track 0 runs past the end)")
    track = data[start:end]
    try:
        delta, p = _read_varlen(track, 0)
        if delta == 0 and track[p:p + 2] == b"\xff\x7f":
            length, q = _read_varlen(track, p + 2)
            payload = track[q:q + length]
            if payload.startswith(MIDI_PREFIX):
                return _Midi(data[:8 + hlen], (start, end), (0, q + length), payload[len(MIDI_PREFIX):])
    except (IndexError, ValueError):
        raise CorruptFile(f"{where}: damaged MIDI (track 0 does not start with a valid event)") from None
    return _Midi(data[:8 + hlen], (start, end), None, None)


def midi_strip(data: bytes, where: str) -> bytes:
    m = _midi(data, where)
    if m.event is None:
        return data
    s, e = m.first
    track = data[s:e]
    track = track[m.event[1]:]
    return data[:s - 8] + b"MTrk" + struct.pack(">I", len(track)) + track + data[e:]


def midi_embed(data: bytes, manifest: bytes) -> bytes:
    data = midi_strip(data, "MIDI")
    m = _midi(data, "MIDI")
    s, e = m.first
    payload = MIDI_PREFIX + manifest
    track = b"\x00\xff\x7f" + _varlen(len(payload)) + payload + data[s:e]
    return data[:s - 8] + b"MTrk" + struct.pack(">I", len(track)) + track + data[e:]


def midi_extract(data: bytes, where: str) -> bytes | None:
    return _midi(data, where).manifest


def midi_content(data: bytes, where: str) -> str:
    return sha256(midi_strip(data, where))


# ---------------------------------------------------------------------------------------------- any
EMBED = {"png": png_embed, "wav": wav_embed, "mid": midi_embed}
EXTRACT = {"png": png_extract, "wav": wav_extract, "mid": midi_extract}
CONTENT = {"png": png_content, "wav": wav_content, "mid": midi_content}
HASH_OF = {"png": "pixels", "wav": "audio (fmt and data chunks)", "mid": "file without the manifest event"}


def content_hash(data: bytes, fmt: str, where: str = "file") -> tuple[str, str]:
    """(sha256:…, what it covers) of `data` in `fmt`."""
    fn = CONTENT.get(fmt)
    return (fn(data, where), HASH_OF[fmt]) if fn else (sha256(data), "file bytes")


def embed(data: bytes, fmt: str, manifest: bytes) -> bytes:
    return EMBED[fmt](data, manifest)


def extract(data: bytes, fmt: str, where: str = "file") -> bytes | None:
    """The manifest bytes embedded in `data`, or None; a damaged container is a `CorruptFile`."""
    return EXTRACT[fmt](data, where)
