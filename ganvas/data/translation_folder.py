"""The user's own translation data: two folders A and B, paired by file name or unpaired.

Layouts understood (``DIR`` is what ``--data`` names):

- ``DIR/A/`` and ``DIR/B/`` (or ``trainA/`` and ``trainB/``, as pytorch-CycleGAN-and-pix2pix
  lays them out), with optional held-out ``DIR/testA/`` and ``DIR/testB/``. For an unpaired model
  the two folders are two collections. For a paired model ``A/cat.png`` pairs with ``B/cat.jpg``:
  the same path below A and B, whatever the image format.
- For a paired model only, side-by-side images, A on the left half and B on the right (the format
  of the pix2pix datasets): ``DIR/*.png`` or ``DIR/train/``, with optional ``DIR/test/``.

What cannot be used is skipped and counted in one line, and listed in ``skipped.txt`` in the cache:
unreadable files, files without a partner, pairs whose two images differ in size (they would not
line up pixel for pixel), side-by-side images that are not twice as wide as high, and entries that are
no file to read (FIFOs, symlink loops, folders named ``*.png``).
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganvas.console import info
from ganvas.data.dataset import ArrayDataset, fingerprint_arrays
from ganvas.data.folder import check_fit
from ganvas.data.imageprep import IMAGE_SUFFIXES, SkipFile, fit_square, open_image
from ganvas.data.licences import user_fields
from ganvas.data.listing import CACHE_FORMAT, FolderListing, Odd, shown, skip_line, walk, warn_if_few
from ganvas.data.translation import ROLES, streams_for
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, load_npy, save_npy, write_json, write_text

SIDES = {"a": ("A", "a", "trainA"), "b": ("B", "b", "trainB"),
         "a_test": ("testA",), "b_test": ("testB",)}


def _subfolder(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _images(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


TRANSLATION_HINT = "train at a small --resolution (32 or 64)"


class _Reader:
    """Decodes files into squares, counting and listing what it skips."""

    def __init__(self, root: Path, resolution: int, fit: str) -> None:
        self.root, self.resolution, self.fit = root, resolution, fit
        self.skipped: collections.Counter[str] = collections.Counter()
        self.lines: list[str] = []

    def skip(self, path: Path, reason: str, detail: str = "") -> None:
        self.skipped[reason] += 1
        self.lines.append(skip_line(path.relative_to(self.root).as_posix(), Odd(path, reason, detail)))

    def square(self, im: Image.Image) -> np.ndarray:
        return np.asarray(fit_square(im, self.resolution, self.fit))

    def usable(self, folder: Path) -> list[Path]:
        """The image files below `folder`; anything else (FIFOs, symlink loops, ...) is skipped and counted."""
        found = []
        files, odd = walk(folder, IMAGE_SUFFIXES)
        for o in odd:
            self.skip(o.path, o.reason, o.detail)
        for path in files:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                found.append(path)
            else:
                self.skip(path, "not an image", f"suffix {path.suffix or '(none)'}")
        return found

    def single(self, folder: Path, quiet: bool | None) -> np.ndarray:
        out = []
        for path in tqdm(self.usable(folder), desc=f"reading {shown(folder.name)}", unit="file", disable=quiet,
                         leave=False):
            try:
                out.append(self.square(open_image(path)))
            except SkipFile as exc:
                self.skip(path, exc.reason, exc.detail)
        return _stack(out, self.resolution)

    def pairs(self, a_dir: Path, b_dir: Path, quiet: bool | None) -> tuple[np.ndarray, np.ndarray]:
        def by_stem(folder: Path) -> dict[str, list[Path]]:
            found: dict[str, list[Path]] = {}
            for p in self.usable(folder):
                found.setdefault(p.relative_to(folder).with_suffix("").as_posix(), []).append(p)
            return found

        a_files, b_files = by_stem(a_dir), by_stem(b_dir)
        stems = []
        for stem in sorted(set(a_files) | set(b_files)):
            pa, pb = a_files.get(stem, []), b_files.get(stem, [])
            if len(pa) > 1 or len(pb) > 1:
                for p in pa + pb:
                    self.skip(p, "ambiguous name", f"{len(pa)} in {a_dir.name}/ and {len(pb)} in "
                                                   f"{b_dir.name}/ named {stem}.*")
            elif not pb:
                self.skip(pa[0], f"no partner in {b_dir.name}/")
            elif not pa:
                self.skip(pb[0], f"no partner in {a_dir.name}/")
            else:
                stems.append(stem)
        out_a, out_b = [], []
        for stem in tqdm(stems, desc="reading pairs", unit="pair", disable=quiet, leave=False):
            pa, pb = a_files[stem][0], b_files[stem][0]
            try:
                ia = open_image(pa)
            except SkipFile as exc:
                self.skip(pa, exc.reason, exc.detail)
                continue
            try:
                ib = open_image(pb)
            except SkipFile as exc:
                self.skip(pb, exc.reason, exc.detail)
                continue
            if ia.size != ib.size:
                self.skip(pa, "pair of different sizes", f"{ia.size[0]}×{ia.size[1]} in A, "
                                                         f"{ib.size[0]}×{ib.size[1]} in B")
                continue
            out_a.append(self.square(ia))
            out_b.append(self.square(ib))
        return _stack(out_a, self.resolution), _stack(out_b, self.resolution)

    def side_by_side(self, folder: Path, quiet: bool | None) -> tuple[np.ndarray, np.ndarray]:
        out_a, out_b = [], []
        for path in tqdm(self.usable(folder), desc="reading pairs", unit="file", disable=quiet, leave=False):
            try:
                im = open_image(path)
            except SkipFile as exc:
                self.skip(path, exc.reason, exc.detail)
                continue
            w, h = im.size
            if w != 2 * h:
                self.skip(path, "not side by side", f"{w}×{h}, expected a width of 2 × {h}")
                continue
            out_a.append(self.square(im.crop((0, 0, h, h))))
            out_b.append(self.square(im.crop((h, 0, w, h))))
        return _stack(out_a, self.resolution), _stack(out_b, self.resolution)


def _stack(images: list[np.ndarray], size: int) -> np.ndarray:
    return np.stack(images) if images else np.empty((0, size, size, 3), np.uint8)


def _read(folder: Path, layout: str, reader: _Reader, quiet: bool | None) -> tuple[dict[str, np.ndarray], str]:
    sides = {role: _subfolder(folder, names) for role, names in SIDES.items()}
    arrays: dict[str, np.ndarray] = {}
    if sides["a"] and sides["b"]:
        form = "A/ and B/ folders"
        for suffix in ("", "_test"):
            a_dir, b_dir = sides["a" + suffix], sides["b" + suffix]
            if a_dir is None or b_dir is None:
                if a_dir or b_dir:
                    raise GanvasError(f"data folder '{shown(str(folder))}' has {(a_dir or b_dir).name}/ but no "
                                      f"{'testB' if a_dir else 'testA'}/; held-out images need both")
                continue
            if layout == "paired":
                arrays["a" + suffix], arrays["b" + suffix] = reader.pairs(a_dir, b_dir, quiet)
            else:
                arrays["a" + suffix] = reader.single(a_dir, quiet)
                arrays["b" + suffix] = reader.single(b_dir, quiet)
    elif layout == "paired" and (folder / "train").is_dir():
        form = "side-by-side A|B images in train/"
        arrays["a"], arrays["b"] = reader.side_by_side(folder / "train", quiet)
        test = _subfolder(folder, ("test", "val"))
        if test is not None:
            arrays["a_test"], arrays["b_test"] = reader.side_by_side(test, quiet)
    elif layout == "paired" and _images(folder) and not any(p.is_dir() for p in folder.iterdir()):
        form = "side-by-side A|B images"
        arrays["a"], arrays["b"] = reader.side_by_side(folder, quiet)
    else:
        also = " or side-by-side A|B images (A left, B right)" if layout == "paired" else ""
        raise GanvasError(f"data folder '{shown(str(folder))}' is not translation data: expected sub-folders A/ and B/ "
                          f"(or trainA/ and trainB/){also}")
    for role in ROLES:
        arrays.setdefault(role, np.empty((0, reader.resolution, reader.resolution, 3), np.uint8))
    return arrays, form


def load_translation_folder(folder: Path, resolution: int, layout: str, fit: str = "crop",
                            home: Path | None = None, progress: bool | None = None) -> ArrayDataset:
    """Domains A and B from the user's folder, decoded once and cached until a file changes."""
    check_fit(fit)
    expected = f"a folder with A/ and B/ sub-folders of images ({' '.join(IMAGE_SUFFIXES)})"
    listing = FolderListing.open(folder, expected, f"{resolution}-{fit}-{layout}", home)
    card = listing.cached_card()
    if card is not None:
        arrays = {role: load_npy(listing.cache / f"{role}.npy") for role in ROLES}
        ds = ArrayDataset(str(listing.folder), "image", arrays, card, card["fingerprint"], streams_for(layout))
    else:
        ds = _build(listing, resolution, layout, fit, progress)
    ds = dataclasses.replace(ds, skipped_list=listing.cache / "skipped.txt")
    side = min("ab", key=lambda role: len(ds.arrays[role]))
    if layout == "paired":
        warn_if_few(listing.folder, len(ds.arrays["a"]), "pair", f"add pairs, or {TRANSLATION_HINT}")
    else:
        warn_if_few(listing.folder, len(ds.arrays[side]), "image", f"add images, or {TRANSLATION_HINT}",
                    f" in {side.upper()}/")
    return ds


def _build(listing: FolderListing, resolution: int, layout: str, fit: str, progress: bool | None) -> ArrayDataset:
    folder, digest, cache = listing.folder, listing.digest, listing.cache
    reader = _Reader(folder, resolution, fit)
    quiet = None if progress is None else not progress          # None: a bar only on a terminal
    arrays, form = _read(folder, layout, reader, quiet)
    summary = ", ".join(f"{n} {reason}" for reason, n in reader.skipped.most_common())
    for role in ("a", "b"):
        if not len(arrays[role]):
            what = "pairs" if layout == "paired" else f"images in {role.upper()}/"
            raise GanvasError(f"data folder '{shown(str(folder))}' ({form}) holds no usable {what}"
                              + (f" (skipped {summary})" if summary else ""))
    card = {
        "name": str(folder), "title": folder.name, "domain": "image", "layout": layout,
        "description": f"Translation data from the folder {folder} ({form})",
        "count": sum(len(v) for v in arrays.values()), "native_size": resolution, "fit": fit, "labels": None,
        "translation": {side: {"name": side.upper(), "title": f"{folder.name} {side.upper()}"} for side in "ab"},
        "counts": {role: len(v) for role, v in arrays.items()},
        **user_fields("images"), "source": {"folder": str(folder)},
        "skipped": dict(reader.skipped), "listing": digest, "format": CACHE_FORMAT,
        "fingerprint": fingerprint_arrays(arrays),
    }
    with atomic_dir(cache) as tmp:
        for role, array in arrays.items():
            save_npy(tmp / f"{role}.npy", array)
        write_text(tmp / "skipped.txt", "".join(f"{line}\n" for line in reader.lines))
        write_json(tmp / "card.json", card)
    if reader.skipped:
        info(f"{shown(str(folder))}: skipped {sum(reader.skipped.values())} files ({summary}); "
             f"listed in {cache / 'skipped.txt'}")
    return ArrayDataset(str(folder), "image", arrays, card, card["fingerprint"], streams_for(layout))
