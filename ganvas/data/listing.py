"""Listing a user's data folder: every file in it, and every entry that is no file to read, with why.

A user's folder can hold anything: names that are not UTF-8 (Python holds their bytes as surrogate
escapes), names with newlines, FIFOs (opening one blocks for ever), sockets, devices, folders named
``x.png``, dangling symlinks and symlinks that loop. Nothing here opens a file: entries are looked
at with ``stat`` only. Symlinked folders are followed (as a user who links a collection in expects),
except when they lead back to a folder above them. Hidden names (``.git``, ``.DS_Store``) are ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganvas.console import info
from ganvas.data import data_home
from ganvas.data.imageprep import not_regular, stat_failure
from ganvas.errors import GanvasError

CACHE_FORMAT = 2     # caches of another format (1: files.txt, 16-bit images clipped) are rebuilt
FEW, VERY_FEW = 100, 10   # fewer samples than these get a warning, and a stronger one


def shown(name: str) -> str:
    """`name` as one printable line: control characters (newline, tab...), line separators and
    bytes that are not UTF-8 written as escapes, so a listing or an error stays one line per name."""
    if name.isprintable():
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:                  # a byte that was not UTF-8 (surrogate escape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs"):
            out.append(ch.encode("unicode_escape").decode("ascii") if code < 0xD800 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@dataclass
class Odd:
    """An entry of the folder that is not a file to read."""

    path: Path
    reason: str         # the summary bucket: "is a folder", "not a regular file (FIFO)", "symlink loop"...
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def walk(folder: Path, suffixes: tuple[str, ...] = ()) -> tuple[list[Path], list[Odd]]:
    """Every regular file below `folder` (symlinks to files included) in a stable order, and every
    entry that is not one. A folder named with one of `suffixes` (``x.png/``) is listed as odd too,
    since its name promises a file; its contents are still read, as any sub-folder's."""
    folder = Path(folder)
    try:
        os.stat(folder)
    except OSError as exc:
        raise GanvasError(f"folder '{shown(str(folder))}' cannot be read: {exc.strerror or exc}") from None
    files: list[Path] = []
    odd: list[Odd] = []
    stack: list[tuple[Path, tuple[tuple[int, int], ...]]] = [(folder, _above(folder))]
    while stack:
        here, above = stack.pop()
        try:
            with os.scandir(here) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if here == folder:
                raise GanvasError(f"folder '{shown(str(folder))}' cannot be read: {exc.strerror or exc}") from None
            odd.append(Odd(here, "unreadable folder", exc.strerror or str(exc)))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                st = os.stat(path)
            except OSError as exc:
                bad = stat_failure(path, exc)
                odd.append(Odd(path, bad.reason, bad.detail))
                continue
            if stat.S_ISREG(st.st_mode):
                files.append(path)
            elif stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in above:
                    odd.append(Odd(path, "symlink loop", "the link leads back to a folder above it"))
                    continue
                if path.suffix.lower() in suffixes:
                    odd.append(Odd(path, "is a folder", "named like a file; its files are read as a sub-folder's"))
                stack.append((path, (*above, key)))
            else:
                odd.append(Odd(path, not_regular(st.st_mode)))
    return sorted(files), sorted(odd, key=lambda o: o.path)


def _above(folder: Path) -> tuple[tuple[int, int], ...]:
    """(device, inode) of `folder` and every folder above it: a link to any of them leads back into
    `folder` (a link to the home folder would otherwise read all of it, and the data folder again)."""
    keys = []
    for p in (folder, *Path(os.path.abspath(folder)).parents):
        try:
            st = os.stat(p)
        except OSError:
            continue
        keys.append((st.st_dev, st.st_ino))
    return tuple(keys)


def scan(folder: Path) -> list[Path]:
    """Every non-hidden regular file below `folder`, in a stable order."""
    return walk(folder)[0]


def listing_digest(folder: Path, files: list[Path], odd: list[Odd] = ()) -> str:
    """Changes when a file is added, removed, resized or touched, or an odd entry comes or goes."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(os.fsencode(p.relative_to(folder).as_posix()) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for o in odd:
        h.update(os.fsencode(o.path.relative_to(folder).as_posix()) + f"\0{o.reason}\n".encode())
    return h.hexdigest()


@dataclass
class FolderListing:
    """A user's data folder, its files, and the cache folder its decoded arrays are kept in."""

    folder: Path        # absolute
    files: list[Path]   # every non-hidden regular file below it, in a stable order
    odd: list[Odd]      # entries that are no file to read (skipped, counted and listed by the readers)
    digest: str         # changes when any file is added, removed, resized or touched
    cache: Path         # <data home>/folders/<hash of the path>/<what was decoded, and how>

    @classmethod
    def open(cls, folder: Path, expected: str, variant: str, home: Path | None = None,
             suffixes: tuple[str, ...] = ()) -> FolderListing:
        """The listing of `folder`, or a one-line error saying it is missing or a file (`expected`
        says what should be there). `variant` names the decoding, so each gets its own cache;
        `suffixes` are the names of files the reader wants (a folder so named is listed as odd)."""
        folder = Path(folder).expanduser().resolve()
        where = shown(str(folder))
        if not folder.exists():
            raise GanvasError(f"data folder '{where}' does not exist; expected {expected}")
        if not folder.is_dir():
            raise GanvasError(f"data '{where}' is a file; expected {expected}")
        files, odd = walk(folder, suffixes)
        key = hashlib.sha256(os.fsencode(str(folder))).hexdigest()[:16]
        return cls(folder, files, odd, listing_digest(folder, files, odd),
                   (home or data_home()) / "folders" / key / variant)

    @property
    def total(self) -> int:
        """Entries looked at: the files and the odd entries."""
        return len(self.files) + len(self.odd)

    def rel(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()

    def cached_card(self) -> dict[str, Any] | None:
        """The cache's card if the cache was built from exactly these files by this version, else None."""
        path = self.cache / "card.json"
        if not path.exists():
            return None
        card = json.loads(path.read_text(encoding="utf-8"))
        return card if card.get("listing") == self.digest and card.get("format") == CACHE_FORMAT else None


def skip_line(rel: str, why: Exception | Odd) -> str:
    """One line of ``skipped.txt``: the file's name and why it was skipped (``reason: detail``),
    escaped to one line."""
    return f"{shown(rel)}\t{shown(str(why))}"


def read_file_list(cache: Path) -> list[str]:
    """The names (relative to the folder) of the files a folder cache was built from, in array order."""
    return list(json.loads((cache / "files.json").read_text(encoding="utf-8")))


_warned: set[tuple[str, int]] = set()


def warn_if_few(folder: Path, count: int, noun: str, hint: str, where: str = "") -> None:
    """Say plainly, once per process, that `count` samples is very few to train a GAN on, and what to do.

    Below `FEW` a GAN's discriminator memorises the data and samples repeat or collapse; below
    `VERY_FEW` there is next to nothing to learn from. `noun` is one sample ("image"), `where` is
    the part of the folder counted (" in A"), `hint` says what helps for this kind of data.
    """
    if count >= FEW or (str(folder), count) in _warned:
        return
    _warned.add((str(folder), count))
    if count < VERY_FEW:
        what = f"far too few to train a GAN on (it can at best copy them); collect more (hundreds at least): {hint}"
    else:
        what = (f"few for a GAN (under {FEW}, D memorises them and samples repeat or collapse); "
                f"add more if you can: {hint}")
    unit = noun if count == 1 else f"{noun}s"
    info(f"warning: the data folder '{shown(str(folder))}' holds only {count} {unit}{where}, {what}")


# what each skip reason means, for people (a run folder's skipped.txt); unknown reasons are shown as they are
PLAIN_REASONS = {
    "zero-byte": "the file is empty (0 bytes)",
    "not an image": "not a file ganvas reads as {kind}",
    "unreadable": "could not be decoded: damaged, cut short, or in a form ganvas does not read",
    "too large": "over Pillow's decompression-bomb limit (about 89 million pixels), so it was never opened: "
                 "a file can claim any size, and one this big would take gigabytes; save a smaller copy",
    "is a folder": "a folder named like a file (its files are read as a sub-folder's)",
    "symlink loop": "a symbolic link that leads back to itself or to a folder above it",
    "broken symlink": "a symbolic link to something that does not exist",
    "unreadable folder": "a folder that could not be opened (permissions?)",
}


def plain_skipped(listed: Path, folder: str, kind: str, suffixes: tuple[str, ...] = ()) -> tuple[int, str]:
    """(how many, the text) of a run folder's ``skipped.txt``: each file of `folder` its data left out and why,
    in words, from a cache's `listed` skipped.txt (``name<TAB>reason: detail`` lines); (0, "") when none.
    `kind` names what the folder should hold ("an image"); `suffixes` are the file names read."""
    lines = listed.read_text(encoding="utf-8").splitlines() if listed.is_file() else []
    if not lines:
        return 0, ""
    reads = f" ({' '.join(suffixes)})" if suffixes else ""
    out = [f"# {len(lines)} file(s) of {shown(folder)} were left out of this run's data, and why.",
           "# Fix, convert or remove them and train again: the folder is read again when any file changes.", ""]
    for line in lines:
        name, _, why = line.partition("\t")
        reason, _, detail = why.partition(": ")
        plain = PLAIN_REASONS.get(reason, reason).format(kind=f"{kind}{reads}")
        out.append(f"{name}: {plain}" + (f" [{detail}]" if detail else ""))
    return len(lines), "\n".join(out) + "\n"
