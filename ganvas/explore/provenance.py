"""Provenance: what made an output, written beside it, so it can be credited and made again.

An output's provenance names the model and checkpoint (name, training step), the recipe (seed or
the code itself, truncation, direction edits), the dataset the model learned from (name,
fingerprint, licence, source packages) and the ganvas and torch versions. It travels three ways:
as ``provenance.json`` in a download, inside PNG files (a ``ganvas:provenance`` text chunk), and
as the metadata of the code file (``latent.safetensors``), which ``ganvas explore render`` and, for
w codes, ``ganvas sample --from-w`` read back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from PIL import Image


FORMAT = "ganvas-provenance"
PNG_KEY = "ganvas:provenance"
MANIFEST_KEY = "ganvas:manifest"        # the signed manifest's PNG chunk (ganvas.publish.containers)
LATENT_FORMAT = "ganvas-latent"


def dataset_info(G: Any) -> dict[str, Any]:
    d = G.meta.get("dataset", {}) or {}
    keep = ("name", "fingerprint", "licence", "spdx", "attribution", "count", "source")
    out = {k: d[k] for k in keep if k in d}
    if d.get("excluded"):
        out["excluded"] = len(d["excluded"])            # how many items were opted out (their hashes stay private)
    return out


def checkpoint_digest(G: Any) -> str | None:
    """The SHA-256 of the checkpoint's weights (``nets.safetensors``), computed once per loaded model."""
    cached = getattr(G, "_checkpoint_sha256", None)
    if cached is None:
        try:
            h = hashlib.sha256()
            with open(Path(G.path) / "nets.safetensors", "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except (OSError, TypeError, AttributeError):
            return None
        cached = "sha256:" + h.hexdigest()
        G._checkpoint_sha256 = cached
    return cached


def model_info(G: Any, name: str | None = None, checkpoint: str | None = None) -> dict[str, Any]:
    progress = G.meta.get("progress", {})
    info = {"name": name or G.path.parent.parent.name, "model": G.name,
            "checkpoint": checkpoint or str(G.path), "step": int(progress.get("step", 0)),
            "kimg": progress.get("kimg"), "created": G.meta.get("created"), "sha256": checkpoint_digest(G)}
    options = G.meta.get("model", {}).get("options")
    if options is not None:
        info["options"] = options
    return info


def latent_digest(code: torch.Tensor) -> str:
    return "sha256:" + hashlib.sha256(code.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()).hexdigest()


def provenance(G: Any, recipe: dict[str, Any], code: torch.Tensor | None = None, name: str | None = None,
               checkpoint: str | None = None, files: list[str] | None = None) -> dict[str, Any]:
    """The provenance record of one output made from `recipe` (see the module docstring)."""
    from ganvas.train.checkpoint import versions

    out: dict[str, Any] = {
        "format": FORMAT, "format_version": 1,
        "made": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": model_info(G, name, checkpoint),
        "recipe": recipe,
        "dataset": dataset_info(G),
        "versions": {k: v for k, v in versions().items() if k in ("ganvas", "torch")},
    }
    if code is not None:
        out["latent"] = {"space": recipe.get("space"), "shape": list(code.shape[1:] if code.dim() > 1 else code.shape),
                         "sha256": latent_digest(code)}
    if files:
        out["files"] = files
    return out


def png_text(record: dict[str, Any]) -> dict[str, str]:
    """The PNG text chunk that carries `record` (what `read_png` reads back)."""
    return {PNG_KEY: json.dumps(record, ensure_ascii=False, separators=(",", ":"))}


def png_bytes(image: Image.Image, record: dict[str, Any] | None = None, compress_level: int = 1) -> bytes:
    """A PNG of `image`, with `record` as a text chunk when given (fast compression: studio speed)."""
    from ganvas.domains.base import png_bytes as encode

    return encode(image, None if record is None else png_text(record), compress_level)


def read_png(path: Any) -> dict[str, Any] | None:
    """The provenance embedded in a PNG written by ganvas (a path or file object), or None: the record of its
    signed manifest (``ganvas:manifest``, see ganvas.publish; not checked here: `ganvas verify` does that),
    or of a plain provenance chunk (pictures shown on the studio's page)."""
    from PIL import Image

    with Image.open(path) as im:
        texts = getattr(im, "text", {})
        text, signed = texts.get(PNG_KEY), texts.get(MANIFEST_KEY)
    if signed:
        return json.loads(signed).get("claim", {}).get("provenance")
    return json.loads(text) if text else None


def latent_bytes(codes: torch.Tensor, space: str, info: dict[str, Any] | None = None,
                 final: torch.Tensor | None = None) -> bytes:
    """Codes [n, …] as safetensors bytes: tensor ``latent`` (base codes in `space`), and ``final`` (the
    codes drawn, after truncation and edits) when given; for w codes also ``ws`` (the drawn codes),
    which ``ganvas sample --from-w`` reads. `info` (a recipe, a provenance record) goes in the metadata."""
    from safetensors.torch import save

    codes = codes.detach().to("cpu", torch.float32).contiguous()
    tensors = {"latent": codes}
    if final is not None:
        tensors["final"] = final.detach().to("cpu", torch.float32).contiguous()
    if space == "w":
        tensors["ws"] = tensors.get("final", codes).clone()
    meta = {"format": LATENT_FORMAT, "space": space, "shape": list(codes.shape), **(info or {})}
    return save(tensors, metadata={"ganvas": json.dumps(meta, ensure_ascii=False)})


def save_latent(path: str | Path, codes: torch.Tensor, space: str, info: dict[str, Any] | None = None,
                final: torch.Tensor | None = None) -> Path:
    """`latent_bytes` written to `path` atomically."""
    from ganvas.files import write_bytes

    path = Path(path)
    if path.suffix != ".safetensors":
        raise GanvasError(f"latent file '{path}' must end in .safetensors")
    write_bytes(path, latent_bytes(codes, space, info, final))
    return path


def read_latent(path: str | Path) -> tuple[torch.Tensor, dict[str, Any]]:
    """A code file written by `latent_bytes` (or any .npy array): the codes [n, …] and their metadata."""
    from ganvas.files import read_code_file

    return read_code_file(path, "latent file", ("latent", "ws"))
