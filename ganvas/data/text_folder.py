"""The user's texts as a text dataset: a ``.txt`` file, or a folder of them.

- A file holds one text per line, or texts as blocks of lines separated by blank lines (poems, quotes
  with their author). ``split`` (``data_args``) says which; ``auto`` (the default) reads blocks when any
  blank line separates two blocks of text anywhere in the data, lines otherwise. The card says which.
- A folder: every ``.txt`` file below it (other files are skipped and counted); each text's code
  ``source`` is its file's name without ``.txt`` (``poems/li-bai.txt`` → ``poems/li-bai``), so a model
  can be asked for one file's kind of text. A labels file at the folder's root (``labels.csv``:
  ``file,label`` rows, or ``labels.json``, as for image folders: `ganvas.data.labelfile`) gives the
  code ``label`` instead, every ``.txt`` file one label.
- Text is UTF-8 (a byte-order mark allowed); a NUL byte (a binary file) or bytes that are not UTF-8 are a
  one-line error naming the file and the byte offset. Texts longer than ``max_chars`` (default 512)
  are skipped and counted; no text at all is an error.
- The language (``zh`` when Han characters are at least half the letters, else ``en``; ``language``
  sets it) picks the font pictures are drawn in and how texts are judged.

Reading is quick (3.2 MB of fortunes as 83,000 lines in 1.7 s, as 681 blocks in 0.3 s, one core), so
nothing is cached: the arrays are rebuilt on every load and
their fingerprint depends only on the texts, their order and their codes. Options come from the run's
``data_args``, e.g. ``--set data_args.split=lines``.
"""

from __future__ import annotations

import collections
import dataclasses
import textwrap
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ganvas.console import info
from ganvas.data.dataset import ArrayDataset, ItemIndex
from ganvas.data.labelfile import LABEL_FILES, find_label_file, read_label_file
from ganvas.data.licences import user_fields
from ganvas.data.listing import shown, walk
from ganvas.data.text_builder import Text, decode_text, text_arrays, text_card
from ganvas.errors import GanvasError, unknown_name

TEXT_SUFFIXES = (".txt",)
SPLITS = ("auto", "lines", "blocks")
LANGUAGES = ("auto", "zh", "en")
ACCEPTED = ("a .txt file of texts (one per line, or blocks separated by blank lines), a folder of .txt files, "
            "or a built-in text dataset (tang-poems, fortunes-en)")
FEW = 100          # fewer texts than this get a warning: a language model copies them


@dataclass
class TextOptions:
    split: str = "auto"             # auto | lines | blocks
    max_chars: int = 512            # longer texts are skipped (and counted)
    language: str = "auto"          # auto | zh | en


def parse_options(args: dict | None) -> TextOptions:
    names = [f.name for f in dataclasses.fields(TextOptions)]
    for key in args or {}:
        if key not in names:
            raise unknown_name("data_args option for texts", key, names)
    opts = TextOptions(**(args or {}))
    if opts.split not in SPLITS:
        raise unknown_name("data_args value for 'split'", str(opts.split), list(SPLITS))
    if opts.language not in LANGUAGES:
        raise unknown_name("data_args value for 'language'", str(opts.language), list(LANGUAGES))
    if not isinstance(opts.max_chars, int) or isinstance(opts.max_chars, bool) or opts.max_chars < 1:
        raise GanvasError(f"data_args: 'max_chars' must be a whole number >= 1, got {opts.max_chars!r}")
    return opts


def is_text_data(path: Path) -> bool:
    """A .txt file, or a folder whose files (a labels file aside) are all .txt files, is read as texts."""
    if path.is_file():
        return path.suffix.lower() in TEXT_SUFFIXES
    if not path.is_dir():
        return False
    suffixes = {p.suffix.lower() for p in walk(path)[0] if not (p.parent == path and p.name in LABEL_FILES)}
    return bool(suffixes) and suffixes <= set(TEXT_SUFFIXES)


def has_blocks(text: str) -> bool:
    """Whether a blank line separates two lines of text somewhere in `text`."""
    seen_text = blank_after_text = False
    for line in text.split("\n"):
        if line.strip():
            if blank_after_text:
                return True
            seen_text = True
        elif seen_text:
            blank_after_text = True
    return False


def pieces(text: str, mode: str) -> list[tuple[int, str]]:
    """(first line number, text) of each text of a file: its non-blank lines, or its blocks of lines."""
    out: list[tuple[int, str]] = []
    block: list[str] = []
    start = 0
    for n, line in enumerate(text.split("\n") + [""], start=1):
        line = line.replace("\t", " ").rstrip()
        if mode == "lines":
            if line.strip():
                out.append((n, line.strip()))
        elif line.strip():
            start = start or n
            block.append(line)
        elif block:
            out.append((start, textwrap.dedent("\n".join(block))))
            block, start = [], 0
    return out


def is_han(c: str) -> bool:
    return "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or "\U00020000" <= c <= "\U0003134f"


def guess_language(texts: list[Text]) -> str:
    han = letters = 0
    for t in texts:
        for c in t.text:
            if c.isalpha():
                letters += 1
                han += is_han(c)
    return "zh" if han * 2 >= max(letters, 1) else "en"


def file_labels(label_file: Path, folder: Path, names: list[str]) -> dict[str, str]:
    """Each text file's label from the folder's labels file, checked both ways (a typo stops the load)."""
    entries = read_label_file(label_file)
    where = f"labels file '{shown(str(label_file))}'"
    unknown = [n for n in entries if n not in set(names)]
    if unknown:
        raise GanvasError(f"{where} names '{shown(unknown[0])}', which is not a .txt file in '{shown(str(folder))}'"
                          + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                          + "; expected paths relative to the folder, e.g. poems/li-bai.txt")
    missing = [n for n in names if n not in entries]
    if missing:
        raise GanvasError(f"{where} gives no label to {len(missing)} of {len(names)} text files, e.g. "
                          f"'{shown(missing[0])}'; label every .txt file (or move it out of the folder)")
    return entries


def load_text_data(path: Path, home: Path | None = None, progress: bool | None = None,
                   args: dict | None = None) -> ArrayDataset:
    """The texts of a .txt file or of a folder's .txt files as a text dataset (see the module's notes).

    `home` and `progress` are accepted as the other readers take them: nothing is cached or slow."""
    opts = parse_options(args)
    path = Path(path).expanduser()
    where = shown(str(path))
    if not path.exists():
        raise GanvasError(f"text data '{where}' does not exist; expected {ACCEPTED}")
    skipped: collections.Counter[str] = collections.Counter()
    label_file = None
    if path.is_dir():
        folder = path.resolve()
        found, odd = walk(folder)
        skipped.update(o.reason for o in odd)
        label_file = find_label_file(folder)
        files = []
        for p in found:
            if p == label_file:
                continue
            if p.suffix.lower() in TEXT_SUFFIXES:
                files.append(p)
            else:
                skipped["not a .txt file"] += 1
        if not files:
            raise GanvasError(f"data folder '{where}' holds no .txt files; expected {ACCEPTED}")
    else:
        folder, files = path.resolve().parent, [path.resolve()]
    names = [p.relative_to(folder).as_posix() for p in files]
    contents = [decode_text(p.read_bytes(), f"text file '{shown(str(p))}'") for p in files]
    mode = opts.split if opts.split != "auto" else ("blocks" if any(map(has_blocks, contents)) else "lines")
    labels = file_labels(label_file, folder, names) if label_file is not None else None
    field = "label" if labels is not None else "source"
    texts: list[Text] = []
    for name, content in zip(names, contents, strict=True):
        code = labels[name] if labels is not None else name[: -len(PurePosixPath(name).suffix) or None]
        for line, text in pieces(content, mode):
            if len(text) > opts.max_chars:
                skipped[f"longer than {opts.max_chars} characters"] += 1
                continue
            texts.append(Text(text, f"{name}:{line}", {field: code} if path.is_dir() else {}))
    if not texts:
        too_long = sum(v for k, v in skipped.items() if k.startswith("longer"))
        if too_long:
            raise GanvasError(f"'{where}' holds no text to train on: all {too_long} texts are longer than "
                              f"{opts.max_chars} characters; raise data_args.max_chars")
        raise GanvasError(f"'{where}' holds no text to train on: its {len(files)} .txt file(s) are empty or blank; "
                          f"expected {ACCEPTED}")
    codes = {field: sorted({t.codes[field] for t in texts})} if path.is_dir() else {}
    language = opts.language if opts.language != "auto" else guess_language(texts)
    arrays = text_arrays(texts, codes)
    card = text_card(str(path), texts, arrays, codes, language, title=path.name,
                     description=f"The user's texts in '{where}'.", source={"path": str(path.resolve())},
                     **user_fields("texts"),
                     files=names if len(names) <= 50 else [*names[:50], f"… {len(names) - 50} more"],
                     split=f"{mode} ({'detected' if opts.split == 'auto' else 'asked for'})",
                     max_chars=opts.max_chars, skipped=dict(sorted(skipped.items())),
                     keys=[t.key for t in texts])
    if skipped:
        info(f"skipped in '{where}': " + ", ".join(f"{v} {k}" for k, v in sorted(skipped.items())))
    if len(texts) < FEW:
        info(f"warning: '{where}' holds only {len(texts)} text(s); a model trained on so few can at best copy "
             "them: add more (thousands of lines)")
    return ArrayDataset(str(path), "text", arrays, card, card["fingerprint"],
                        index={"x": ItemIndex([t.key for t in texts])})
