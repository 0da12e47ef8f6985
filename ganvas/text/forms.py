"""The forms of regulated Chinese verse (近体诗) that ganvas codes and checks: 五绝, 七绝, 五律, 七律.

A poem is stored as the anthologies print it: one couplet (联) per line, its two verses (句) ended by
punctuation, e.g. ``白日依山尽，黄河入海流。`` A form is a number of verses × characters per verse;
anything else (old-style 古体 of other lengths, 词 with verses of mixed lengths) is ``other``.
"""

from __future__ import annotations

import re

FORMS: dict[str, tuple[int, int]] = {    # form → (verses, characters per verse)
    "五绝": (4, 5),
    "七绝": (4, 7),
    "五律": (8, 5),
    "七律": (8, 7),
}
OTHER = "other"
FORM_NAMES = (*FORMS, OTHER)            # the values of the ``form`` code, in code order
PUNCTUATION = "，。？！；：、,.?!;:"     # what ends a verse (full-width, and ASCII as people type it)
VERSE_END = re.compile(f"[{re.escape(PUNCTUATION)}\\n]+")


def verses(text: str) -> list[str]:
    """The verses of a poem: its text split at punctuation and line breaks, spaces removed, empties dropped."""
    return [v for v in (s.replace(" ", "").replace("\u3000", "") for s in VERSE_END.split(text)) if v]


def form_of(text: str) -> str:
    """The form a poem has (see `FORMS`), or ``other``: every verse the same length, in a form's count."""
    vs = verses(text)
    lengths = {len(v) for v in vs}
    for name, (count, chars) in FORMS.items():
        if len(vs) == count and lengths == {chars}:
            return name
    return OTHER


def layout(form: str) -> tuple[int, int]:
    """(verses, characters per verse) of `form`; a one-line error listing the forms otherwise."""
    if form not in FORMS:
        from ganvas.errors import GanvasError

        raise GanvasError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
    return FORMS[form]
