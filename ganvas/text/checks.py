"""Does a poem keep its form, its rhyme, its tones? The three checks of regulated verse, as pass/fail.

**Form** (`form_pass`), exact: the form's number of verses, each of its number of Chinese characters
(`pingshui.is_hanzi`); "，" after every odd verse, one of "。？！" after every even verse; the couplets separated by
"\\n" (one trailing "\\n" is tolerated); nothing else (no spaces, no other punctuation).

**Rhyme** (`rhyme_pass`): the verses (split at punctuation, `forms.verses`) come in couplets (an even
count, at least two), and the last characters of the even verses (2nd, 4th, …) share one 平声 group of
the Pingshui tables. A character with several readings (多音字) fits if any of its 平声 groups is shared.
The first verse may rhyme or not; it is not read. Repeating a rhyme character is not checked here (the
decoder avoids it).

**Tones** (`tonal_pass`), the lenient rule (`lenient=True`), on the even-numbered characters only
(一三五不论, 二四六分明):
  1. 二四分明: in each verse, the 2nd and 4th characters have opposite tones, and in 7-character verses
     the 4th and 6th as well;
  2. 对: in each couplet, the 2nd characters of its two verses have opposite tones;
  3. 粘: the 2nd character of a couplet's first verse has the tone of the 2nd character of the previous
     couplet's second verse.
A character counts as 平 or 仄 only when all its readings agree (`pingshui.tone_of` has one element); a
character of both tones (多音字) or of unknown tone satisfies every comparison it is in. The verses must all
have 5 or all 7 characters, in couplets; otherwise the check fails. `lenient=False` adds the rules the
lenient one leaves out: 对 and 粘 on the 4th (and 6th) characters too, and the verse ends: every even
verse ends 平, every odd verse but the first ends 仄 (characters of both or unknown tone still pass).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ganvas.text import pingshui
from ganvas.text.forms import FORMS, form_of, layout, verses
from ganvas.text.pingshui import HANZI_RANGES

ODD_END = "，"
EVEN_ENDS = "。？！"
def _form_pattern(form: str) -> re.Pattern[str]:
    count, chars = layout(form)
    verse = f"[{HANZI_RANGES}]{{{chars}}}"
    couplet = f"{verse}{ODD_END}{verse}[{EVEN_ENDS}]"
    return re.compile(f"(?:{couplet}\\n){{{count // 2 - 1}}}{couplet}\\n?")


_PATTERNS = {f: _form_pattern(f) for f in FORMS}


def form_pass(text: str, form: str) -> bool:
    """`text` is exactly a poem of `form` (五绝, 七绝, 五律, 七律), laid out as the anthologies print it."""
    layout(form)                                  # a one-line error for an unknown form
    return _PATTERNS[form].fullmatch(text) is not None


def rhyme_pass(text: str) -> bool:
    """The even verses of `text` end on characters sharing one 平声 rhyme group (see the module's rule)."""
    vs = verses(text)
    if len(vs) < 2 or len(vs) % 2:
        return False
    common: set[pingshui.Group] | None = None
    for v in vs[1::2]:
        groups = set(pingshui.ping_groups(v[-1]))
        common = groups if common is None else common & groups
        if not common:
            return False
    return True


def tone_class(c: str) -> str | None:
    """平 or 仄 when every reading of `c` has that tone; None (free) for both tones or an unknown character."""
    tones = pingshui.tone_of(c)
    return next(iter(tones)) if len(tones) == 1 else None


def _differ(a: str, b: str) -> bool:
    ta, tb = tone_class(a), tone_class(b)
    return ta is None or tb is None or ta != tb


def _same(a: str, b: str) -> bool:
    ta, tb = tone_class(a), tone_class(b)
    return ta is None or tb is None or ta == tb


def tone_positions(chars: int) -> tuple[int, ...]:
    """The 0-based places of a verse whose tone the rule fixes: 2nd and 4th (and 6th) characters."""
    return (1, 3, 5) if chars == 7 else (1, 3)


def tonal_pass(text: str, lenient: bool = True) -> bool:
    """`text` keeps the 平仄 rule of the module's docstring (lenient by default)."""
    vs = verses(text)
    lengths = {len(v) for v in vs}
    if len(vs) < 2 or len(vs) % 2 or lengths not in ({5}, {7}):
        return False
    places = tone_positions(len(vs[0]))
    across = places if not lenient else places[:1]        # where 对 and 粘 are checked
    for v in vs:
        if not all(_differ(v[a], v[b]) for a, b in zip(places, places[1:], strict=False)):
            return False                                   # 二四分明
    for i in range(0, len(vs), 2):
        if not all(_differ(vs[i][p], vs[i + 1][p]) for p in across):
            return False                                   # 对
        if i and not all(_same(vs[i][p], vs[i - 1][p]) for p in across):
            return False                                   # 粘
    if not lenient:
        for i, v in enumerate(vs):
            want = pingshui.PING if i % 2 else pingshui.ZE
            if i and tone_class(v[-1]) not in (None, want):
                return False
    return True


def pass_rates(texts: Sequence[str] | Iterable[str], form: str | None = None) -> dict[str, float]:
    """The share of `texts` passing each check: {"form", "rhyme", "tonal"} in [0, 1] (0 for no texts).

    `form` None counts a text as passing form if it is exactly any of the four forms."""
    texts = list(texts)
    if not texts:
        return {"form": 0.0, "rhyme": 0.0, "tonal": 0.0}

    def form_ok(t: str) -> bool:
        if form is not None:
            return form_pass(t, form)
        name = form_of(t)
        return name in FORMS and form_pass(t, name)

    n = len(texts)
    return {"form": sum(map(form_ok, texts)) / n,
            "rhyme": sum(map(rhyme_pass, texts)) / n,
            "tonal": sum(map(tonal_pass, texts)) / n}
