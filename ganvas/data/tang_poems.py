"""`tang-poems`: classical Chinese verse from Debian's fortunes-zh, 唐诗三百首 (tang300) and 宋诗 (song100).

Each fortune entry (between lines holding ``%``) is a heading, 《title》 (song100: ``题目:《title》``),
an author line, ``作者：name`` (song100: ``作者:name（dates）``), then the poem, one couplet per line.
The files colour the heading and the author with ANSI escapes; they are removed. Title, author and
the author's dates go to ``meta.json``, never into the text.

- A title with ``并序`` has a prose preface before a blank line: it goes to ``meta.json`` as ``preface``.
- An entry holding several poems (``其一``/``其二`` headings, or poems separated by a blank line, as
  song100's ``《沈园》``) is split into its poems, titled ``…·其一``, ``…·其二``: two 七绝 printed as one
  entry would otherwise read as a 七律.
- Characters are simplified with zhconv (``zh-cn``); lines are stripped of spaces.
- Codes: ``form`` (`ganvas.text.forms.form_of`: 五绝, 七绝, 五律, 七律, other) and ``era`` (tang, song).
- Poems longer than `MAX_CHARS` characters (line breaks and punctuation counted) are left out and counted:
  the long 古体 ballads (琵琶行: 700 characters) would set every text's padded width, for a handful of poems.
"""

from __future__ import annotations

import collections
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ganvas.data.text_builder import ANSI_ESCAPE, Text, TextDatasetBuilder, fortune_entries
from ganvas.errors import GanvasError
from ganvas.text.forms import FORM_NAMES, form_of

FORTUNES = Path("/usr/share/games/fortunes")
SOURCES = (("tang300", "tang"), ("song100", "song"))     # file, era
ERAS = ("tang", "song")
MAX_CHARS = 200
SUB_HEADING = re.compile(r"^其[一二三四五六七八九十]+$")
AUTHOR = re.compile(r"^作者[:：]\s*(?P<name>[^（(]*)(?:[（(](?P<note>.*)[）)])?\s*$")
TITLE = re.compile(r"^(?:题目[:：]\s*)?《(?P<title>.*)》(?P<rest>.*)$")


def simplified(s: str) -> str:
    import zhconv

    return zhconv.convert(s, "zh-cn")


def parse_entry(entry: str, where: str) -> tuple[dict, str | None, list[tuple[str, str]]]:
    """(meta: title, author, author_note; the preface or None; [(part name, poem text)]) of one entry."""
    lines = [line.strip(" \t\u3000") for line in ANSI_ESCAPE.sub("", entry).split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    if len(lines) < 3:
        raise GanvasError(f"{where}: expected a title, an author and a poem, got {len(lines)} lines")
    title, author = TITLE.match(lines[0]), AUTHOR.match(lines[1])
    if title is None or author is None:
        raise GanvasError(f"{where}: expected a 《title》 line and a 作者 line, got {lines[0]!r}, {lines[1]!r}")
    heading = (title["title"] + title["rest"].strip()).replace("・", "·")      # the katakana dot as the Chinese one
    meta = {"title": simplified(heading), "author": simplified(author["name"].strip())}
    if author["note"]:
        meta["author_note"] = unicodedata.normalize("NFKC", author["note"]).replace("-", "–")
    parts: list[tuple[str, list[str]]] = [("", [])]
    for line in lines[2:]:
        if SUB_HEADING.match(line):
            parts.append((line, []))
        elif not line:
            if parts[-1][1]:
                parts.append(("", []))
        else:
            parts[-1][1].append(line)
    parts = [(name, body) for name, body in parts if body]
    preface = None
    if "并序" in meta["title"] and len(parts) > 1:
        preface = simplified("\n".join(parts.pop(0)[1]))
    if len(parts) > 1:
        numerals = "一二三四五六七八九十"
        parts = [(name or f"其{numerals[i] if i < 10 else i + 1}", body) for i, (name, body) in enumerate(parts)]
    return meta, preface, [(name, simplified("\n".join(body))) for name, body in parts]


class TangPoemsBuilder(TextDatasetBuilder):
    name = "tang-poems"
    title = "Tang and Song poems (唐诗三百首, 宋诗)"
    description = ("Classical Chinese verse from Debian's fortunes-zh: the 300 Tang poems (tang300) and a hundred "
                   "Song poems (song100), one poem per text as the anthology prints it (one couplet per line), "
                   "simplified characters, coded by form (五绝 七绝 五律 七律 other) and era (tang, song).")
    licence = ("GPL-3.0-or-later, as Debian's fortunes-zh compilation (copyright 2001-2009 Yu Guanghui, 2015-2019 "
               "Mo Zhou, 2020-2021 xiao sheng wen); the poems themselves are over 700 years old and in the public "
               "domain")
    spdx = ("GPL-3.0-or-later",)
    attribution = ("Classical Chinese poems (Tang and Song, in the public domain) as compiled in Debian's "
                   "fortunes-zh, copyright 2001-2009 Yu Guanghui, 2015-2019 Mo Zhou, 2020-2021 xiao sheng wen, "
                   "licensed under the GNU General Public License version 3 or later (full text: "
                   "/usr/share/common-licenses/GPL-3, https://www.gnu.org/licenses/gpl-3.0.html; "
                   "/usr/share/doc/fortunes-zh/copyright).")
    language = "zh"
    packages = ("fortunes-zh",)
    required_paths = tuple(str(FORTUNES / f) for f, _ in SOURCES)
    max_chars = MAX_CHARS

    def codes(self, texts: list[Text]) -> dict[str, list[str]]:
        return {"form": list(FORM_NAMES), "era": list(ERAS)}

    def texts(self, skipped: collections.Counter) -> Iterator[Text]:
        self.entries = 0
        for file, era in SOURCES:
            path = FORTUNES / file
            raw = path.read_text(encoding="utf-8")
            for i, entry in enumerate(fortune_entries(raw), start=1):
                self.entries += 1
                meta, preface, poems = parse_entry(entry, f"{path} entry {i}")
                for part, text in poems:
                    m = {**meta, "title": meta["title"] + (f"·{part}" if part else ""), "source": file,
                         "entry": i, "era": era}
                    if preface:
                        m["preface"] = preface
                    yield Text(text, f"{file}:{i}" + (f":{part}" if part else ""),
                               {"form": form_of(text), "era": era}, m)

    def extra_card(self, texts: list[Text]) -> dict:
        return {"source_entries": self.entries,
                "notes": [f"{self.entries} fortune entries; entries holding several poems (其一, 其二…) are split "
                          "into them; prefaces (并序) and titles/authors are kept in meta.json, not in the texts",
                          "Simplified with zhconv (zh-cn)"]}
