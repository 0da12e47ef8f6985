"""A folder of the user's own images as a dataset, decoded once and cached as a uint8 array.

Images in sub-folders are labelled by their top sub-folder (as torchvision's ImageFolder does), so a
folder of ``cats/`` and ``dogs/`` is a labelled set. A labels file at the folder's root, ``labels.csv``
(``file,label`` rows) or ``labels.json`` (``{"file": "label"}``), labels the images instead and takes
precedence over sub-folders (`ganvas.data.labelfile`); its content is part of the cache's key.
Files that cannot be used are skipped, counted, and listed in ``skipped.txt`` in the cache (one line
per file, names escaped to one line); the cache is rebuilt when any file's size or time changes.
``files.json`` in the cache lists the images kept, in the order of the array, exactly (JSON holds any
file name; `read_file_list` reads it back).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ganvas.console import info, skipped_summary
from ganvas.data.dataset import ArrayDataset, ItemIndex, fingerprint_arrays
from ganvas.data.imageprep import FITS, IMAGE_SUFFIXES, MAX_PIXELS, SkipFile, fit_square, open_image
from ganvas.data.labelfile import content_digest, find_label_file, labels_for, read_label_file
from ganvas.data.licences import user_fields
from ganvas.data.listing import (
    CACHE_FORMAT,
    FolderListing,
    read_file_list,
    scan,
    shown,
    skip_line,
    warn_if_few,
)
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, load_npy, save_npy, write_json, write_text

__all__ = ["FolderListing", "check_fit", "load_folder", "read_file_list", "scan"]
IMAGE_FOLDER = (f"a folder of images ({' '.join(IMAGE_SUFFIXES)}; sub-folders are classes) or a built-in dataset "
                "name (`ganvas data list`)")
IMAGE_HINT = "train with --set augment=diffaugment, and at a small --resolution (32 or 64)"


def check_fit(fit: str) -> None:
    if fit not in FITS:
        raise GanvasError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")


def load_folder(folder: Path, resolution: int, fit: str = "crop", home: Path | None = None,
                progress: bool | None = None) -> ArrayDataset:
    check_fit(fit)
    listing = FolderListing.open(folder, IMAGE_FOLDER, f"{resolution}-{fit}", home, IMAGE_SUFFIXES)
    label_file = find_label_file(listing.folder)
    if label_file is not None:       # not an image to decode; its content keys the cache as well as its size and time
        digest = hashlib.sha256(f"{listing.digest}\0{label_file.name}\0{content_digest(label_file)}".encode())
        listing = dataclasses.replace(listing, files=[p for p in listing.files if p != label_file],
                                      digest=digest.hexdigest())
    card = listing.cached_card()
    if card is not None:
        arrays = {"x": load_npy(listing.cache / "images.npy")}
        if (listing.cache / "labels.npy").exists():
            arrays["y"] = load_npy(listing.cache / "labels.npy")
        ds = ArrayDataset(str(listing.folder), "image", arrays, card, card["fingerprint"],
                          index=folder_index(listing.folder, read_file_list(listing.cache)))
    else:
        ds = _build(listing, resolution, fit, progress, label_file)
    warn_if_few(listing.folder, len(ds), "image", IMAGE_HINT)
    return dataclasses.replace(ds, skipped_list=listing.cache / "skipped.txt")


def _build(listing: FolderListing, resolution: int, fit: str, progress: bool | None,
           label_file: Path | None = None) -> ArrayDataset:
    folder, files, cache = listing.folder, listing.files, listing.cache
    from_file: dict[str, str] | None = None
    if label_file is not None:      # checked before any decoding: a typo in it stops the build at once
        images_named = [listing.rel(p) for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        from_file = labels_for(label_file, read_label_file(label_file), images_named)
    skipped: collections.Counter[str] = collections.Counter(o.reason for o in listing.odd)
    skipped_lines = [skip_line(listing.rel(o.path), o) for o in listing.odd]
    images = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    kept: list[Path] = []
    shrunk: list[str] = []          # images over MAX_PIXELS, read at a reduced size
    quiet = None if progress is None else not progress          # None: a bar only on a terminal
    for path in tqdm(files, desc=f"reading {shown(folder.name)}", unit="file", disable=quiet, leave=False):
        try:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                raise SkipFile("not an image", f"suffix {path.suffix or '(none)'}")
            before = len(shrunk)
            images[len(kept)] = np.asarray(fit_square(open_image(path, shrunk), resolution, fit))
            if len(shrunk) > before:
                shrunk[-1] = f"{shown(listing.rel(path))} ({shrunk[-1]})"
        except SkipFile as exc:
            skipped[exc.reason] += 1
            skipped_lines.append(skip_line(listing.rel(path), exc))
            continue
        kept.append(path)
    where = shown(str(folder))
    summary = skipped_summary(dict(skipped), listing.total, where)
    if not kept:
        what = f" ({summary})" if summary else ""
        raise GanvasError(f"data folder '{where}' holds no usable images ({' '.join(IMAGE_SUFFIXES)}){what}")
    arrays = {"x": images[:len(kept)]}
    label_names, per_file, source = _labels(listing, kept, from_file, label_file)
    if per_file:
        arrays["y"] = np.asarray([label_names.index(label) for label in per_file], dtype=np.int64)
    card = {
        "name": str(folder), "title": folder.name, "domain": "image",
        "description": f"Images from the folder {folder}",
        "count": len(kept), "native_size": resolution, "fit": fit,
        "labels": ({"names": label_names, "counts": np.bincount(arrays["y"], minlength=len(label_names)).tolist(),
                    "source": source} if label_names else None),
        **user_fields("images"),
        "source": {"folder": str(folder)},
        "skipped": dict(skipped), "shrunk": len(shrunk), "listing": listing.digest, "format": CACHE_FORMAT,
        "fingerprint": fingerprint_arrays(arrays),
    }
    with atomic_dir(cache) as tmp:
        save_npy(tmp / "images.npy", arrays["x"])
        if "y" in arrays:
            save_npy(tmp / "labels.npy", arrays["y"])
        write_json(tmp / "files.json", [listing.rel(p) for p in kept])  # any name survives JSON
        write_text(tmp / "skipped.txt", "".join(f"{line}\n" for line in skipped_lines))
        write_json(tmp / "card.json", card)
    if summary:
        info(f"{summary} (listed in {cache / 'skipped.txt'})")
    if shrunk:
        info(f"read {len(shrunk)} image(s) of over {MAX_PIXELS // 1_000_000} million pixels at a reduced size "
             f"(enough for {resolution} px): {'; '.join(shrunk[:3])}{'; ...' if len(shrunk) > 3 else ''}")
    return ArrayDataset(str(folder), "image", arrays, card, card["fingerprint"],
                        index=folder_index(folder, [listing.rel(p) for p in kept]))


def folder_index(folder: Path, names: list[str]) -> dict[str, ItemIndex]:
    """{"x": the index} of a folder's rows: each file's path in the folder, and the file itself."""
    return {"x": ItemIndex(names, lambda: [str(folder / n) for n in names])}


def _labels(listing: FolderListing, kept: list[Path], from_file: dict[str, str] | None,
            label_file: Path | None) -> tuple[list[str], list[str], str]:
    """(sorted label names, the label of each kept image, where they came from); no labels: ([], [], "")."""
    if from_file is not None and label_file is not None:
        per_file = [from_file[listing.rel(p)] for p in kept]
        return sorted(set(per_file)), per_file, label_file.name
    tops = [p.relative_to(listing.folder).parts for p in kept]
    if all(len(parts) > 1 for parts in tops):
        per_file = [parts[0] for parts in tops]
        return sorted(set(per_file)), per_file, "sub-folders"
    return [], [], ""
