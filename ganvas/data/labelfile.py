"""A user folder's labels file: ``labels.csv`` or ``labels.json`` at the folder's root, file → label.

- ``labels.csv``: two columns, ``file,label``, one image per row; a first row ``file,label`` is a
  header and is skipped; blank lines are skipped; fields are trimmed of spaces; UTF-8 (a BOM is allowed).
- ``labels.json``: one object, ``{"cats/1.png": "cat", "dog.jpg": "dog"}``.

File names are paths relative to the folder's root with ``/`` between folders, as the folder holds them.
Every image of the folder needs a label, and every name must be a file of the folder: a labels file is
read when a dataset is built, so a typo must stop the build, not silently drop or mislabel images.
Anything else (a malformed row, an empty label, a name given twice, both files at once) is a one-line
error naming the labels file, the line (CSV) or key (JSON), and what was expected.

A labels file takes precedence over sub-folders: with one, the folder's sub-folders are only where
files are. Its content is part of the folder cache's key (`content_digest`), so an edited labels file
rebuilds the cache even when its size and time did not change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path, PurePosixPath

from ganvas.data.listing import shown
from ganvas.errors import GanvasError

LABEL_FILES = ("labels.csv", "labels.json")
HEADER = ("file", "label")
SHOWN_MISSING = 5          # unlabelled files named in the error; the rest are counted


def find_label_file(folder: Path) -> Path | None:
    """The labels file at `folder`'s root, None when there is none; both at once is an error."""
    present = [folder / name for name in LABEL_FILES if (folder / name).is_file()]
    if len(present) > 1:
        raise GanvasError(f"data folder '{shown(str(folder))}' holds both labels.csv and labels.json; "
                          "keep one labels file")
    return present[0] if present else None


def content_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_label_file(path: Path) -> dict[str, str]:
    """{relative file name: label} as the file says, each entry checked for form (not yet for existence)."""
    where = f"labels file '{shown(str(path))}'"
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GanvasError(f"{where} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise GanvasError(f"{where} cannot be read: {exc.strerror or exc}") from None
    return _read_json(text, where) if path.suffix == ".json" else _read_csv(text, where)


def _read_csv(text: str, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            line = reader.line_num
            fields = [f.strip() for f in row]
            if not any(fields):
                continue                                  # a blank line
            if not out and not first_line and tuple(f.lower() for f in fields) == HEADER:
                continue                                  # the header
            if len(fields) != 2:
                raise GanvasError(f"{where} line {line}: expected two columns (file,label), got {len(fields)}: "
                                  f"{shown(','.join(row))[:80]!r}")
            name, label = fields
            _check_entry(where, f"line {line}", name, label)
            name = _normal(where, f"line {line}", name)
            if name in first_line:
                raise GanvasError(f"{where} line {line}: '{shown(name)}' is labelled again (first on line "
                                  f"{first_line[name]}); give each file one label")
            first_line[name] = line
            out[name] = label
    except csv.Error as exc:
        raise GanvasError(f"{where} line {reader.line_num}: not valid CSV ({exc}); "
                          "expected rows of file,label") from None
    return out


def _read_json(text: str, where: str) -> dict[str, str]:
    def no_repeats(pairs: list[tuple[str, object]]) -> dict:
        seen: dict[str, object] = {}
        for k, v in pairs:
            if k in seen:
                raise GanvasError(f"{where} key '{shown(k)}': given twice; give each file one label")
            seen[k] = v
        return seen

    try:
        data = json.loads(text, object_pairs_hook=no_repeats)
    except json.JSONDecodeError as exc:
        raise GanvasError(f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                          'expected an object {"file": "label", ...}') from None
    if not isinstance(data, dict):
        raise GanvasError(f"{where}: expected an object {{\"file\": \"label\", ...}}, got a {type(data).__name__}")
    out: dict[str, str] = {}
    for name, label in data.items():
        if not isinstance(label, str):
            raise GanvasError(f"{where} key '{shown(name)}': expected a label (a string), got {json.dumps(label)[:40]}")
        _check_entry(where, f"key '{shown(name)}'", name, label.strip())
        out[_normal(where, f"key '{shown(name)}'", name)] = label.strip()
    return out


def _check_entry(where: str, at: str, name: str, label: str) -> None:
    if not name:
        raise GanvasError(f"{where} {at}: empty file name; expected a file of the folder, e.g. cats/1.png")
    if not label:
        raise GanvasError(f"{where} {at}: empty label for '{shown(name)}'; expected a label name")


def _normal(where: str, at: str, name: str) -> str:
    """`name` as the folder listing writes it (``a/b.png``); absolute names and ``..`` are refused."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise GanvasError(f"{where} {at}: '{shown(name)}' is not inside the folder; expected a path relative "
                          "to the folder, e.g. cats/1.png")
    return p.as_posix()


def labels_for(path: Path, entries: dict[str, str], files: list[str]) -> dict[str, str]:
    """The label of each of `files` (relative names of the folder's images), checked both ways.

    A name in the labels file that is no file of the folder, or an image the file gives no label to,
    is a one-line error (a few names shown, the rest counted).
    """
    where = f"labels file '{shown(str(path))}'"
    present = set(files)
    unknown = [n for n in entries if n not in present]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise GanvasError(f"{where} names '{shown(unknown[0])}', which is not an image file in the folder{more}; "
                          "expected paths relative to the folder, e.g. cats/1.png")
    missing = [n for n in files if n not in entries]
    if missing:
        few = ", ".join(shown(n) for n in missing[:SHOWN_MISSING])
        rest = f", … ({len(missing) - SHOWN_MISSING} more)" if len(missing) > SHOWN_MISSING else ""
        raise GanvasError(f"{where} gives no label to {len(missing)} of {len(files)} images: {few}{rest}; "
                          "label every image (or move it out of the folder)")
    return {n: entries[n] for n in files}
