"""One output's bytes → the bytes that leave ganvas: watermarked, with a signed manifest, with C2PA
content credentials where the format has them.

The order matters. The watermark changes pixels, so it goes first; the manifest's content hash is taken
of the marked content and signed; the manifest is embedded (or becomes a sidecar); C2PA credentials go
last, since they hash the whole file, our manifest included.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganvas.errors import GanvasError
from ganvas.publish import containers, manifest
from ganvas.publish.keys import SigningKey, key_number, signing_key

C2PA_FORMATS = {"png": "image/png", "wav": "audio/wav"}
VOLATILE = ("made", "guard", "files")        # record fields that differ between two makings of one output
IMAGE_FORMATS = ("png",)                 # formats whose pixels publish_bytes watermarks itself
ANIMATION_FORMATS = ("gif", "webp")      # their frames are watermarked before encoding (`watermark_image`)


@dataclass(frozen=True)
class Published:
    """An output ready to write: its bytes, its manifest (also inside `data`, or as `sidecar`)."""

    data: bytes
    sidecar: bytes | None               # the manifest file to write beside it, for formats without room inside
    manifest: dict[str, Any]
    fmt: str


def output_number(record: dict[str, Any]) -> int:
    """The 16-bit output number a watermark carries: from what made the output (the record without its time),
    so the same command makes the same pixels, and the number names the recipe."""
    stable = {k: v for k, v in record.items() if k not in VOLATILE}
    return int.from_bytes(hashlib.sha256(manifest.canonical(stable)).digest()[:2], "big")


def payload_for(key: SigningKey, record: dict[str, Any]) -> int:
    """32 bits: the signing key's number (16) and the output's (16): `ganvas verify` checks both."""
    return (key_number(key.id) << 16) | output_number(record)


def watermark_array(image: np.ndarray, payload: int) -> np.ndarray:
    """uint8 H×W, H×W×1, ×3 or ×4 pixels with the watermark (same shape)."""
    from ganvas.publish.watermark import embed

    image = np.ascontiguousarray(image)
    if image.ndim == 2:
        return embed(image[..., None], payload)[..., 0]
    return embed(image, payload)


def watermark_image(image: Any, payload: int) -> Any:
    """A PIL picture with the watermark (grey stays grey, transparency is kept; palettes become RGB(A))."""
    from PIL import Image

    if image.mode not in ("L", "RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
    return Image.fromarray(watermark_array(np.asarray(image), payload))


def _watermark_png(data: bytes, payload: int) -> bytes:
    from PIL import Image, PngImagePlugin

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        info = PngImagePlugin.PngInfo()
        for k, v in getattr(im, "text", {}).items():
            info.add_itxt(k, v)
        marked = watermark_image(im, payload)
    buf = io.BytesIO()
    marked.save(buf, format="PNG", pnginfo=info, compress_level=1)
    return buf.getvalue()


def publish_bytes(data: bytes, fmt: str, record: dict[str, Any], *, watermark: bool = True,
                  frames_marked: bool = False, key: SigningKey | None = None, c2pa: bool = True,
                  unmarked_because: str = "turned off (--no-watermark)") -> Published:
    """`data` (a file in `fmt`: png, wav, mid, txt, json, gif, webp) published for `record`.

    `watermark`: mark pictures (False: not marked, for the reason `unmarked_because`, which the manifest
    records); `frames_marked`: an animation whose frames the caller marked with `watermark_image`.
    """
    key = key or signing_key()
    payload = payload_for(key, record)
    if fmt in IMAGE_FORMATS and watermark:
        data = _watermark_png(data, payload)
        mark = {"embedded": True, "payload": f"{payload:08x}", "method": "ganvas-stdm-v1"}
    elif fmt in ANIMATION_FORMATS and watermark and frames_marked:
        mark = {"embedded": True, "payload": f"{payload:08x}", "method": "ganvas-stdm-v1", "in": "every frame"}
    elif fmt in IMAGE_FORMATS + ANIMATION_FORMATS:
        mark = {"embedded": False, "reason": unmarked_because}
    else:
        mark = {"embedded": False, "reason": f"no watermark for {fmt} files"}
    media = containers.MEDIA_TYPES.get(fmt)
    if media is None:
        raise GanvasError(f"cannot publish a '{fmt}' file: ganvas publishes {', '.join(containers.MEDIA_TYPES)}")
    digest, of = containers.content_hash(data, fmt)
    signed = manifest.sign(manifest.make_claim(record, media, digest, of, mark), key)
    blob = manifest.to_bytes(signed)
    sidecar = None
    if fmt in containers.EMBEDDED:
        data = containers.embed(data, fmt, blob)
    else:
        sidecar = blob
    if c2pa and fmt in C2PA_FORMATS:
        from ganvas.publish.c2pa_credentials import sign as c2pa_sign

        data = c2pa_sign(data, C2PA_FORMATS[fmt], c2pa_claim(signed), key.folder)
    return Published(data, sidecar, signed, fmt)


def c2pa_claim(signed: dict[str, Any]) -> dict[str, Any]:
    """What the C2PA assertion repeats of our manifest: the record and who signed it."""
    claim = signed["claim"]
    return {"provenance": claim["provenance"], "watermark": claim["watermark"],
            "ganvas_key_id": signed["signature"]["key_id"]}


def sidecar_path(path: Path) -> Path:
    """Where a file's manifest goes when its format cannot hold one: NAME.EXT.ganvas.json beside it."""
    return path.with_name(path.name + ".ganvas.json")

