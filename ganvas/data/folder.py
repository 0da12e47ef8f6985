"""A folder of the user's own images as a dataset, decoded once and cached as a uint8 array.

Images in sub-folders are labelled by their top sub-folder (as torchvision's ImageFolder does), so a
folder of ``cats/`` and ``dogs/`` is a labelled set. Files that cannot be used are skipped, counted,
and listed in ``skipped.txt`` in the cache; the cache is rebuilt when any file's size or time changes.
"""

from __future__ import annotations

import collections
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ganvas.console import info, skipped_summary
from ganvas.data import data_home
from ganvas.data.dataset import ArrayDataset, fingerprint_arrays
from ganvas.data.imageprep import FITS, IMAGE_SUFFIXES, SkipFile, fit_square, open_image
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, load_npy, save_npy, write_json, write_text


def scan(folder: Path) -> list[Path]:
    """Every non-hidden file below `folder`, in a stable order."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def listing_digest(folder: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@dataclass
class FolderListing:
    """A user's data folder, its files, and the cache folder its decoded arrays are kept in."""

    folder: Path        # absolute
    files: list[Path]   # every non-hidden file below it, in a stable order
    digest: str         # changes when any file is added, removed, resized or touched
    cache: Path         # <data home>/folders/<hash of the path>/<what was decoded, and how>

    @classmethod
    def open(cls, folder: Path, expected: str, variant: str, home: Path | None = None) -> FolderListing:
        """The listing of `folder`, or a one-line error saying it is missing or a file (`expected`
        says what should be there). `variant` names the decoding, so each gets its own cache."""
        folder = Path(folder).expanduser().resolve()
        if not folder.exists():
            raise GanvasError(f"data folder '{folder}' does not exist")
        if not folder.is_dir():
            raise GanvasError(f"data '{folder}' is a file; expected {expected}")
        files = scan(folder)
        key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
        return cls(folder, files, listing_digest(folder, files), (home or data_home()) / "folders" / key / variant)

    def cached_card(self) -> dict[str, Any] | None:
        """The cache's card if the cache was built from exactly these files, else None."""
        path = self.cache / "card.json"
        if not path.exists():
            return None
        card = json.loads(path.read_text(encoding="utf-8"))
        return card if card.get("listing") == self.digest else None


def check_fit(fit: str) -> None:
    if fit not in FITS:
        raise GanvasError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")


def load_folder(folder: Path, resolution: int, fit: str = "crop", home: Path | None = None,
                progress: bool | None = None) -> ArrayDataset:
    check_fit(fit)
    listing = FolderListing.open(folder, "a folder of images or a built-in dataset name", f"{resolution}-{fit}", home)
    folder, cache = listing.folder, listing.cache
    card = listing.cached_card()
    if card is not None:
        arrays = {"x": load_npy(cache / "images.npy")}
        if (cache / "labels.npy").exists():
            arrays["y"] = load_npy(cache / "labels.npy")
        return ArrayDataset(str(folder), "image", arrays, card, card["fingerprint"])
    return _build(folder, listing.files, listing.digest, cache, resolution, fit, progress)


def _build(folder: Path, files: list[Path], digest: str, cache: Path, resolution: int, fit: str,
           progress: bool | None) -> ArrayDataset:
    skipped: collections.Counter[str] = collections.Counter()
    skipped_lines: list[str] = []
    images = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    kept: list[Path] = []
    quiet = None if progress is None else not progress          # None: a bar only on a terminal
    for path in tqdm(files, desc=f"reading {folder.name}", unit="file", disable=quiet, leave=False):
        rel = path.relative_to(folder).as_posix()
        try:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise SkipFile("not an image", f"suffix {path.suffix or '(none)'}")
            images[len(kept)] = np.asarray(fit_square(open_image(path), resolution, fit))
        except SkipFile as exc:
            skipped[exc.reason] += 1
            skipped_lines.append(f"{rel}\t{exc}")
            continue
        kept.append(path)
    summary = skipped_summary(dict(skipped), len(files), str(folder))
    if not kept:
        what = f" ({summary})" if summary else ""
        raise GanvasError(f"data folder '{folder}' holds no usable images "
                          f"({' '.join(IMAGE_SUFFIXES)}){what}")
    arrays = {"x": images[:len(kept)]}
    tops = [p.relative_to(folder).parts for p in kept]
    label_names: list[str] = []
    if all(len(parts) > 1 for parts in tops):
        label_names = sorted({parts[0] for parts in tops})
        arrays["y"] = np.asarray([label_names.index(parts[0]) for parts in tops], dtype=np.int64)
    card = {
        "name": str(folder), "title": folder.name, "domain": "image",
        "description": f"Images from the folder {folder}",
        "count": len(kept), "native_size": resolution, "fit": fit,
        "labels": ({"names": label_names, "counts": np.bincount(arrays["y"]).tolist()}
                   if label_names else None),
        "licence": "unknown (the user's own images)",
        "source": {"folder": str(folder)},
        "skipped": dict(skipped), "listing": digest,
        "fingerprint": fingerprint_arrays(arrays),
    }
    with atomic_dir(cache) as tmp:
        save_npy(tmp / "images.npy", arrays["x"])
        if "y" in arrays:
            save_npy(tmp / "labels.npy", arrays["y"])
        write_text(tmp / "files.txt", "\n".join(p.relative_to(folder).as_posix() for p in kept) + "\n")
        write_text(tmp / "skipped.txt", "\n".join(skipped_lines) + ("\n" if skipped_lines else ""))
        write_json(tmp / "card.json", card)
    if summary:
        info(f"{summary} (listed in {cache / 'skipped.txt'})")
    return ArrayDataset(str(folder), "image", arrays, card, card["fingerprint"])
