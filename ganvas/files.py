"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Everything ganvas writes that a later step relies on (checkpoints, dataset arrays, cards, samples)
goes through these helpers: write to a temporary name in the same folder, flush to disk, rename.
Latent-code files (studio, `sample --from-w`) are read back through one checked reader.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()   # temporary files are created private (0600); finished ones get the usual mode


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def load_npy(path: str | Path, mmap: bool = False) -> np.ndarray:
    """Load an array without ever unpickling (object arrays are refused)."""
    return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)


def save_image(path: str | Path, image: Any) -> None:
    """Save a PIL image atomically; the format comes from the suffix (PNG carries no timestamp)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format=(path.suffix.lstrip(".") or "png").upper().replace("JPG", "JPEG"))


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place when complete.

    An existing folder at `path` is replaced only after the new one is fully written, so a crash at
    any moment leaves either the old folder or the new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for child in tmp.rglob("*"):
            if child.is_file():
                with open(child, "rb+") as fh:
                    os.fsync(fh.fileno())
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            trash = path.with_name(f".{path.name}.old")
            shutil.rmtree(trash, ignore_errors=True)
            os.replace(path, trash)
            os.replace(tmp, path)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_code_file(path: str | Path, what: str, keys: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """Latent codes from a .safetensors file (the first of `keys` it holds, with ganvas's metadata)
    or any float .npy array, as a float32 tensor; anything else is a one-line error naming `what`.

    Both formats load without running code from the file: .npy with pickles refused, safetensors by
    design; the magic bytes are checked first so a renamed file gets a clear message.
    """
    import torch

    from ganvas.errors import GanvasError

    path = Path(path)
    if not path.is_file():
        raise GanvasError(f"{what} '{path}' does not exist")
    try:
        if path.suffix == ".npy":
            with open(path, "rb") as fh:
                if fh.read(6) != b"\x93NUMPY":
                    raise GanvasError(f"{what} '{path}' is not a NumPy .npy array file")
            return torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32)), {}
        if path.suffix != ".safetensors":
            raise GanvasError(f"{what} '{path}' must end in .safetensors or .npy")
        from safetensors import safe_open

        with safe_open(str(path), "pt") as fh:
            names = list(fh.keys())
            key = next((k for k in keys if k in names), None)
            if key is None:
                wanted = " or ".join(f"'{k}'" for k in keys)
                raise GanvasError(f"{what} '{path}' holds no tensor {wanted} (tensors: {', '.join(names)})")
            meta = json.loads((fh.metadata() or {}).get("ganvas", "{}"))
            return fh.get_tensor(key).float(), meta
    except GanvasError:
        raise
    except Exception as exc:  # numpy and safetensors raise their own types for corrupt files
        raise GanvasError(f"{what} '{path}' is not readable: {' '.join(str(exc).split())}") from None
