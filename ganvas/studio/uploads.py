"""Uploads: bounded bodies, parsed in memory, decoded as images only after their size is checked.

A request body is read up to a limit (413 beyond it) and never spooled to a temporary file; a
multipart form is parsed from that memory. An image is opened lazily to read its declared size,
refused when it has more pixels than allowed (decompression bombs declare huge sizes in a few
bytes), and only then decoded, with Pillow's own bomb check turned into an error.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

from ganvas.errors import GanvasError

MAX_UPLOAD_BYTES = 8 * 1024 * 1024      # the default size limit of a request body
MAX_UPLOAD_PIXELS = 16_000_000          # the default pixel limit of an uploaded image
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class UploadError(GanvasError):
    """A rejected upload, with the HTTP status that says why."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    data: bytes | None                              # the file's bytes (None when no file was sent)
    filename: str = ""                              # the name the client gave it
    fields: dict[str, str] = field(default_factory=dict)   # other form fields (text, direction, steps …)


async def read_body(request: Any, limit: int) -> bytes:
    """The whole body, refused with 413 past `limit` bytes (by Content-Length or while streaming).

    A refused body is still read to its end (and dropped; the studio's body limit bounds it): a
    server that answers while the client is still sending resets the connection, and the client
    sees that instead of the 413.
    """
    length = request.headers.get("content-length")
    stream = request.stream()
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise UploadError(f"Content-Length {length!r} is not a number", 400) from None
        if declared > limit:
            async for _ in stream:
                pass
            raise UploadError(f"upload of {declared} bytes is larger than the limit of {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            async for _ in stream:
                pass
            raise UploadError(f"upload is larger than the limit of {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(request: Any, limit: int) -> Upload:
    """A file (raw body, or the first file of a multipart form) and the form's text fields."""
    body = await read_body(request, limit)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return Upload(body or None, request.query_params.get("filename", ""), dict(request.query_params))
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    class InMemoryParser(MultiPartParser):
        spool_max_size = limit + 1                  # the body is already bounded: never roll over to a file

    async def stream():
        yield body
        yield b""

    try:
        form = await InMemoryParser(request.headers, stream(), max_files=4, max_fields=32,
                                    max_part_size=64 * 1024).parse()
    except MultiPartException as exc:
        raise UploadError(f"the multipart form cannot be read: {exc.message}", 400) from None
    data, filename, fields = None, "", dict(request.query_params)
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            if data is None:
                data, filename = await value.read(), value.filename or ""
            await value.close()
        else:
            fields[key] = value
    return Upload(data or None, filename, fields)


def decode_image(data: bytes, what: str = "upload", max_pixels: int = MAX_UPLOAD_PIXELS) -> Any:
    """A fully decoded PIL image of `data`, or an UploadError (415 not an image, 413 too many pixels)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise UploadError(f"{what} is empty: send an image file (PNG, JPEG, WebP, GIF or BMP)", 400)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.format not in IMAGE_FORMATS:
                raise UploadError(f"{what} is a {im.format} image; send PNG, JPEG, WebP, GIF or BMP", 415)
            w, h = im.size
            if w * h > max_pixels:
                raise UploadError(f"{what} is {w}×{h} = {w * h} pixels, more than the limit of {max_pixels}", 413)
            if w < 1 or h < 1:
                raise UploadError(f"{what} has no pixels ({w}×{h})", 400)
            im.load()
            return ImageOps.exif_transpose(im) if im.format == "JPEG" else im
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(f"{what} declares more pixels than the limit of {max_pixels} (a decompression bomb?)",
                          413) from None
    except UnidentifiedImageError:
        raise UploadError(f"{what} is not an image: send a PNG, JPEG, WebP, GIF or BMP file", 415) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UploadError(f"{what} is a corrupt or truncated image: {' '.join(str(exc).split())[:120]}", 400) from None
