"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Everything ganvas writes that a later step relies on (checkpoints, dataset arrays, cards, samples)
goes through these helpers: write to a temporary name in the same folder, flush to disk, rename.
Latent-code files (studio, `sample --from-w`) are read back through one checked reader.

A process killed mid-write leaves its temporary (``.NAME.XXXXXXXX.tmp``) behind; whoever next writes
into that folder alone (a training run at its start) sweeps them with `remove_stale_temporaries`. A
write that fails because the disk is full or read-only is a one-line `GanvasError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ganvas.errors import GanvasError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()   # temporary files are created private (0600); finished ones get the usual mode
# what tempfile.mkstemp/mkdtemp names a temporary here: "." + name + "." + 8 random characters + ".tmp"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
_TRASH = re.compile(r"^\.(?P<name>.+)\.old$")         # a folder set aside while atomic_dir replaces it
# write errors that are the machine's state, not a bug: said in words, in one line
_WRITE_ERRORS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
                 errno.EROFS: "the file system is read-only", errno.EFBIG: "the file is too large for the file system"}
_OS_ERROR = re.compile(r"\(os error (\d+)\)")     # how safetensors (Rust) reports an errno, in words


class WriteError(GanvasError):
    """A write that failed for a reason outside ganvas (disk full, read-only, quota); `errno` says which."""

    def __init__(self, message: str, errno_: int | None) -> None:
        super().__init__(message)
        self.errno = errno_


def write_error(path: str | Path, exc: Exception) -> WriteError:
    """The one-line error for a failed write of `path`."""
    code = _errno_of(exc)
    reason = _WRITE_ERRORS.get(code) or (getattr(exc, "strerror", None) or os.strerror(code or 0)).lower()
    name = f" ({errno.errorcode[code]})" if code in errno.errorcode else ""
    return WriteError(f"cannot write '{path}': {reason}{name}", code)


def _errno_of(exc: Exception) -> int | None:
    if isinstance(exc, OSError):
        return exc.errno
    found = _OS_ERROR.search(str(exc))
    return int(found[1]) if found else None


@contextlib.contextmanager
def _explained(path: Path, any_error: bool) -> Iterator[None]:
    """Failed writes of `path` become one-line errors: any OSError of ganvas's own steps (`any_error`:
    they touch nothing else), and of the caller's body only errors that can only come from writing
    (the body may read other files, whose errors are not this path's)."""
    try:
        yield
    except GanvasError:
        raise
    except Exception as exc:
        code = _errno_of(exc)
        if code is None or not (code in _WRITE_ERRORS or (any_error and isinstance(exc, OSError))):
            raise
        raise write_error(path, exc) from None


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
    with _explained(path, any_error=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        with _explained(path, any_error=False):
            yield tmp_path
        with _explained(path, any_error=True):
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp_path, 0o666 & ~_UMASK)
            os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_bytes(obj: Any) -> bytes:
    """`obj` as UTF-8 JSON. A file name holding bytes that are not UTF-8 (a surrogate-escaped str) is
    written with \\u escapes: Python reads it back to the same name, and `os.fsencode` to the same bytes."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def write_json(path: str | Path, obj: Any) -> None:
    write_bytes(path, json_bytes(obj))


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
    with _explained(path, any_error=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        with _explained(path, any_error=False):
            yield tmp
        with _explained(path, any_error=True):
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


def remove_dir(path: str | Path) -> None:
    """Delete a folder so that a crash midway leaves no half of it under its own name: it is first
    renamed to a temporary name, which `remove_stale_temporaries` sweeps if the deletion is cut short."""
    path = Path(path)
    doomed = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        os.replace(path, doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Sweep what writers killed midway left in `folder` (not its subfolders): temporary files and
    folders are removed; a folder caught while `atomic_dir` was replacing it (``.NAME.old`` with no
    ``NAME``) is put back. Call it only where no other process is writing at the same time.
    Returns what was removed or put back."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    swept = []
    for entry in sorted(folder.iterdir()):
        trash = _TRASH.match(entry.name)
        if entry.is_symlink() or not (_TEMPORARY.match(entry.name) or (trash and entry.is_dir())):
            continue
        if trash and not (folder / trash["name"]).exists():
            os.replace(entry, folder / trash["name"])
        elif entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        swept.append(entry)
    return swept


def read_code_file(path: str | Path, what: str, keys: tuple[str, ...]) -> tuple[Any, dict[str, Any]]:
    """Latent codes from a .safetensors file (the first of `keys` it holds, with ganvas's metadata)
    or any float .npy array, as a float32 tensor; anything else is a one-line error naming `what`.

    Both formats load without running code from the file: .npy with pickles refused, safetensors by
    design; the magic bytes are checked first so a renamed file gets a clear message.
    """
    import torch

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
