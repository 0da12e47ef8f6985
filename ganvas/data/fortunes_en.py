"""`fortunes-en`: short English aphorisms and quips from Debian's `fortunes` (and `fortunes-min`).

Which files: the English fortune files these packages install in /usr/share/games/fortunes, named in
`FILES` (a fixed list, so the set does not change when another package drops files there). Left out:

- the offensive set: Debian's `fortunes-off` installs it under ``off/``, which is never read (see
  /usr/share/doc/fortunes/Offensive for what the maintainers moved there);
- ``ascii-art`` (pictures drawn in characters, not sentences) and ``translate-me`` (Latin and other
  non-English quotes); ``chinese``, ``tang300``, ``song100`` are fortunes-zh's Chinese (see `tang-poems`).
  ``art`` is kept: despite its name it holds quotes about the arts, television and celebrities.

Short entries only: at most `MAX_LINES` lines and `MAX_CHARS` characters once normalised, so a
character model learns aphorisms, not stories or dialogues (about 10,000 of the 18,000 entries).
Normalised: backspace overstrikes (``_\\bX``: underlined or bold X) become the letter, bells are
dropped, tabs and other spaces become one space, each line is trimmed, blank lines inside an entry
are dropped (text mis-encoded twice, UTF-8 read as Latin-1, is repaired). Exact duplicates (the same
quip in two files) are kept once. Code ``source``: the fortune file.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ganvas.data.text_builder import Text, TextDatasetBuilder, decode_text, fortune_entries

FORTUNES = Path("/usr/share/games/fortunes")
FILES = ("art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education", "ethnic",
         "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie",
         "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people",
         "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
         "startrek", "tao", "wisdom", "work", "zippy")
EXCLUDED = {"off/": "offensive (fortunes-off)", "ascii-art": "pictures, not sentences",
            "translate-me": "not English", "chinese": "Chinese (fortunes-zh)", "tang300": "Chinese (tang-poems)",
            "song100": "Chinese (tang-poems)"}
MAX_LINES, MAX_CHARS = 4, 160
OVERSTRIKE = re.compile(r"[^\n]\x08")
SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def normalise(entry: str) -> str | None:
    """An entry as plain lines of text (see the module's notes); None when it holds control characters."""
    while "\x08" in entry:
        fixed = OVERSTRIKE.sub("", entry, count=1)
        if fixed == entry:
            break
        entry = fixed
    entry = entry.replace("\x07", "").replace("\x08", "")
    for _ in range(3):          # C1 controls: UTF-8 bytes read as Latin-1 once (or twice) too often
        if not any("\x80" <= c <= "\x9f" for c in entry):
            break
        try:
            entry = entry.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return None
    entry = unicodedata.normalize("NFC", entry)
    lines = [SPACES.sub(" ", line).strip() for line in entry.split("\n")]
    text = "\n".join(line for line in lines if line)
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
        return None
    return text


class FortunesEnBuilder(TextDatasetBuilder):
    name = "fortunes-en"
    title = "English fortunes (short entries)"
    description = ("Short English aphorisms, quips and quotations from the BSD fortune database as Debian ships it "
                   f"(packages fortunes and fortunes-min), at most {MAX_LINES} lines and {MAX_CHARS} characters, "
                   "the offensive set excluded; coded by the fortune file they come from.")
    licence = ("BSD-3-Clause, as the fortune-mod distribution (Copyright (c) 1991 The Regents of the University of "
               "California; /usr/share/doc/fortunes/copyright); the quotations are their authors'")
    spdx = ("BSD-3-Clause",)
    attribution = ("Quotations from the fortune-mod distribution's English fortune files (Debian packages "
                   "fortunes and fortunes-min), copyright (c) 1991 The Regents of the University of California, "
                   "under a BSD licence (full text: /usr/share/doc/fortunes/copyright; keep its copyright notice, "
                   "conditions and disclaimer); each quotation remains its author's.")
    language = "en"
    packages = ("fortunes", "fortunes-min")
    required_paths = (str(FORTUNES / "fortunes"), str(FORTUNES / "computers"))
    max_chars = MAX_CHARS

    def files(self) -> list[str]:
        return [f for f in FILES if (FORTUNES / f).is_file()]

    def codes(self, texts: list[Text]) -> dict[str, list[str]]:
        used = {t.codes["source"] for t in texts}
        return {"source": [f for f in self.files() if f in used]}      # a file with no short entry (tao): no code

    def texts(self, skipped: collections.Counter) -> Iterator[Text]:
        seen: set[str] = set()
        for file in self.files():
            path = FORTUNES / file
            for i, entry in enumerate(fortune_entries(decode_text(path.read_bytes(), f"fortune file '{path}'")),
                                      start=1):
                text = normalise(entry)
                if not text:
                    skipped["control characters" if text is None else "empty"] += 1
                    continue
                if text.count("\n") >= MAX_LINES:
                    skipped[f"more than {MAX_LINES} lines"] += 1
                    continue
                if len(text) > MAX_CHARS:           # counted here, by this rule, rather than by the build's
                    skipped[f"longer than {MAX_CHARS} characters"] += 1
                    continue
                if text in seen:
                    skipped["duplicate"] += 1
                    continue
                seen.add(text)
                yield Text(text, f"{file}:{i}", {"source": file}, {"title": "", "author": "", "source": file,
                                                                   "entry": i})

    def extra_card(self, texts: list[Text]) -> dict:
        files = self.files()
        return {"max_lines": MAX_LINES, "files": files,
                "notes": [f"Read: {len(files)} English fortune files of the {len(FILES)} listed",
                          "A file with no entry short enough (tao: long passages) has no code value",
                          "Left out: " + ", ".join(f"{k} ({v})" for k, v in EXCLUDED.items()),
                          "Normalised: overstrikes, bells, tabs and odd spaces; blank lines inside an entry dropped"]}
