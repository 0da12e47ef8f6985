"""What ganvas knows about licences: SPDX ids → families, which combinations conflict, attribution text.

A dataset lists every licence that covers some of its items as a tuple of SPDX ids (``spdx``, an AND of
parts: cjk-fonts holds fonts under four licences), and the notice a person must publish with outputs
(``attribution``). Both live on the builder class and travel in the dataset card, in
`ArrayDataset.summary` and so in every run's config and checkpoint (``meta["dataset"]``).

Why families and "targets" rather than a table of pairs: a copyleft licence requires that a work
derived from its items be shared under it (or a licence it names), so a training set mixing two
copyleft sources has no licence its outputs could carry when those sets of allowed licences do not
meet (GPL-2.0-only with GPL-3.0; GPL with CC-BY-SA-3.0; the OFL or the Arphic licence with the GPL,
both judged GPL-incompatible by the FSF). Permissive and public-domain items constrain nothing, with
one listed exception (Apache-2.0 cannot join GPL-2.0-only). An id ganvas does not know, or the user's
own data, is "unknown": always a warning to check. This is guidance for people, not legal advice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

PERMISSIVE = "permissive"
PUBLIC_DOMAIN = "public-domain"
WEAK_COPYLEFT = "weak copyleft"
GPL2_ONLY = "strong copyleft (GPL v2 only)"
GPL2_PLUS = "strong copyleft (GPL v2 or later)"
GPL3 = "strong copyleft (GPL v3)"
FONT = "font licence (copyleft for fonts)"
CC_BY_SA = "CC-BY-SA (share-alike)"
UNKNOWN = "unknown"

COPYRIGHT = "/usr/share/doc/{}/copyright"          # every Debian package's copyright and licence file
USER = "LicenseRef-user"          # the user's own folder: ganvas cannot know its licence

# SPDX id → family. An id with " WITH <exception>" is looked up by its licence part.
FAMILIES: dict[str, str] = {
    "MIT": PERMISSIVE, "BSD-2-Clause": PERMISSIVE, "BSD-3-Clause": PERMISSIVE, "Apache-2.0": PERMISSIVE,
    "ISC": PERMISSIVE, "Zlib": PERMISSIVE, "Unicode-DFS-2015": PERMISSIVE, "Unicode-DFS-2016": PERMISSIVE,
    "Unicode-3.0": PERMISSIVE, "mplus": PERMISSIVE, "CC-BY-3.0": PERMISSIVE, "CC-BY-4.0": PERMISSIVE,
    "LicenseRef-music21-corpus": PERMISSIVE,
    "CC0-1.0": PUBLIC_DOMAIN, "CC-PDDC": PUBLIC_DOMAIN, "Unlicense": PUBLIC_DOMAIN,
    "LicenseRef-PublicDomain": PUBLIC_DOMAIN,
    "LGPL-2.1-only": WEAK_COPYLEFT, "LGPL-2.1-or-later": WEAK_COPYLEFT, "LGPL-3.0-only": WEAK_COPYLEFT,
    "LGPL-3.0-or-later": WEAK_COPYLEFT, "MPL-2.0": WEAK_COPYLEFT,
    "GPL-2.0-only": GPL2_ONLY, "GPL-2.0-or-later": GPL2_PLUS,
    "GPL-3.0-only": GPL3, "GPL-3.0-or-later": GPL3, "AGPL-3.0-only": GPL3, "AGPL-3.0-or-later": GPL3,
    "OFL-1.1": FONT, "Arphic-1999": FONT, "LicenseRef-Arphic-Public-License": FONT,
    "CC-BY-SA-3.0": CC_BY_SA, "CC-BY-SA-4.0": CC_BY_SA,
    USER: UNKNOWN,
}

# copyleft id → the licences a work combining its items may be shared under (absent: no constraint)
TARGETS: dict[str, frozenset[str]] = {
    "GPL-2.0-only": frozenset({"GPL-2"}),
    "GPL-2.0-or-later": frozenset({"GPL-2", "GPL-3"}),
    "GPL-3.0-only": frozenset({"GPL-3"}), "GPL-3.0-or-later": frozenset({"GPL-3"}),
    "AGPL-3.0-only": frozenset({"GPL-3"}), "AGPL-3.0-or-later": frozenset({"GPL-3"}),   # AGPL §13 joins GPL-3
    "OFL-1.1": frozenset({"OFL-1.1"}),
    "Arphic-1999": frozenset({"Arphic"}), "LicenseRef-Arphic-Public-License": frozenset({"Arphic"}),
    "CC-BY-SA-3.0": frozenset({"CC-BY-SA-3.0", "CC-BY-SA-4.0"}),      # 3.0 allows adaptations under later versions
    "CC-BY-SA-4.0": frozenset({"CC-BY-SA-4.0", "GPL-3"}),             # one-way compatible with GPL-3 (CC, 2015)
}
# pairs that conflict although one side is permissive (the GPL v2 forbids Apache's patent terms)
EXTRA_CONFLICTS: frozenset[frozenset[str]] = frozenset({frozenset({"Apache-2.0", "GPL-2.0-only"})})

# SPDX id → how a notice names it (any one of these): a dataset's attribution must name each of its licences
NOTICE_NAMES: dict[str, tuple[str, ...]] = {
    "OFL-1.1": ("Open Font License",), "Unicode-DFS-2016": ("Unicode License",),
    "CC-PDDC": ("Public Domain Dedication",), "CC0-1.0": ("CC0",), "LicenseRef-PublicDomain": ("public domain",),
    "LicenseRef-music21-corpus": ("music21",), "BSD-3-Clause": ("BSD",), "mplus": ("M+ FONTS License",),
    "Arphic-1999": ("Arphic Public License",), "LicenseRef-Arphic-Public-License": ("Arphic Public License",),
    "GPL-2.0-only": ("General Public License version 2", "GPL version 2"),
    "GPL-2.0-or-later": ("version 2 or later",),
    "GPL-3.0-only": ("General Public License version 3", "GPL version 3"),
    "GPL-3.0-or-later": ("version 3 or later",),
    "Apache-2.0": ("Apache License",), "MIT": ("MIT",),
    "CC-BY-SA-3.0": ("Attribution-ShareAlike 3.0",), "CC-BY-SA-4.0": ("Attribution-ShareAlike 4.0",),
}

FULL_TEXT: dict[str, str] = {       # where a person reads the whole licence
    "GPL-2.0-only": "/usr/share/common-licenses/GPL-2, https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-2.0-or-later": "/usr/share/common-licenses/GPL-2, https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
    "GPL-3.0-only": "/usr/share/common-licenses/GPL-3, https://www.gnu.org/licenses/gpl-3.0.html",
    "GPL-3.0-or-later": "/usr/share/common-licenses/GPL-3, https://www.gnu.org/licenses/gpl-3.0.html",
    "Apache-2.0": "/usr/share/common-licenses/Apache-2.0, https://www.apache.org/licenses/LICENSE-2.0",
    "CC0-1.0": "/usr/share/common-licenses/CC0-1.0, https://creativecommons.org/publicdomain/zero/1.0/",
    "OFL-1.1": "https://openfontlicense.org",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
}


def base_id(spdx_id: str) -> str:
    """``GPL-2.0-only WITH Font-exception-2.0`` → ``GPL-2.0-only``."""
    return spdx_id.split(" WITH ", 1)[0].strip()


def family(spdx_id: str) -> str:
    """The family of an SPDX id (see the module docstring); `UNKNOWN` for ids ganvas does not know."""
    return FAMILIES.get(base_id(spdx_id), UNKNOWN)


def is_known(spdx_id: str) -> bool:
    return base_id(spdx_id) in FAMILIES


def fields_of(card_or_summary: Mapping[str, Any], builder: Any = None) -> dict[str, Any]:
    """licence, spdx, attribution of a card or summary; a card written before these fields existed
    falls back to the builder's class attributes (`builder`, or the built-in found by the card's name)."""
    spdx = card_or_summary.get("spdx")
    attribution = card_or_summary.get("attribution")
    licence = card_or_summary.get("licence")
    source = card_or_summary.get("source") or {}
    users = isinstance(source, Mapping) and ("folder" in source or "path" in source)   # never a built-in's
    if (not spdx or not attribution) and not users:
        builder = builder or _builtin(str(card_or_summary.get("name", "")))
        if builder is not None:
            spdx = spdx or list(getattr(builder, "spdx", ()))
            attribution = attribution or getattr(builder, "attribution", "")
            licence = licence or getattr(builder, "licence", "")
    if not spdx:
        spdx, licence = [USER], licence or "unknown (user data)"
        attribution = attribution or USER_ATTRIBUTION.format(what="data")
    return {"licence": licence or "unknown", "spdx": list(spdx), "attribution": attribution or ""}


def _builtin(name: str) -> Any:
    """The builder class of a built-in dataset named `name` (``NAME:A:B`` allowed), or None."""
    from ganvas.registry import DATASETS

    base = name.partition(":")[0]
    return DATASETS.get(base) if base in DATASETS else None


USER_ATTRIBUTION = ("These outputs were made by a model trained on the user's own {what}, whose licence ganvas "
                    "does not know: credit the people who made the source works as their licences require, "
                    "and publish those licences' notices with the outputs.")


def card_fields(builder: Any) -> dict[str, Any]:
    """What a built-in dataset's card says about its licence (one place: the builder's class attributes)."""
    return {"licence": builder.licence, "spdx": list(builder.spdx), "attribution": builder.attribution}


def user_fields(what: str) -> dict[str, Any]:
    """The licence fields of a card of the user's own data (`what`: "images", "MIDI files", "texts")."""
    return {"licence": f"unknown (the user's own {what})", "spdx": [USER],
            "attribution": USER_ATTRIBUTION.format(what=what)}


def attribution_text(card_or_summary: Mapping[str, Any]) -> str:
    """The text a person must publish with outputs made from this data: name, licence, notice, full text."""
    f = fields_of(card_or_summary)
    name = card_or_summary.get("name", "(unnamed data)")
    lines = [f"Dataset: {name}",
             f"Licence: {f['licence']}",
             f"SPDX: {' AND '.join(f['spdx'])}",
             f"Notice: {f['attribution']}"]
    texts = full_text_locations(card_or_summary)
    if texts:
        lines.append("Full licence text: " + "; ".join(texts))
    return "\n".join(lines)


def full_text_locations(card_or_summary: Mapping[str, Any]) -> list[str]:
    """Where the whole licences are: "ID: path, URL" per known id, and each source package's copyright file."""
    f = fields_of(card_or_summary)
    texts = [f"{i}: {FULL_TEXT[base_id(i)]}" for i in f["spdx"] if base_id(i) in FULL_TEXT]
    source = card_or_summary.get("source") or {}
    copyright = source.get("copyright") if isinstance(source, Mapping) else None
    if not copyright and isinstance(source, Mapping):       # sets whose card names no copyright files
        copyright = {p: COPYRIGHT.format(p) for p in (source.get("packages") or {})
                     if Path(COPYRIGHT.format(p)).is_file()}
    return texts + [f"{pkg}: {path}" for pkg, path in (copyright or {}).items()]


def _entries(spdx_lists: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]]
             ) -> list[tuple[str, str]]:
    items = spdx_lists.items() if isinstance(spdx_lists, Mapping) else spdx_lists
    return [(str(label), str(i)) for label, ids in items for i in dict.fromkeys(ids)]


def conflict(a: str, b: str) -> bool:
    """Whether items under SPDX ids `a` and `b` cannot be combined into one work's outputs."""
    ba, bb = base_id(a), base_id(b)
    if frozenset({ba, bb}) in EXTRA_CONFLICTS:
        return True
    ta, tb = TARGETS.get(ba), TARGETS.get(bb)
    return ta is not None and tb is not None and not (ta & tb)


def compatibility(spdx_lists: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """Warnings (one line each, naming both datasets and licences) for data combined in one training set.

    `spdx_lists`: {dataset or domain label: SPDX ids}, or (label, ids) pairs. Every unknown id is one
    warning to check; every conflicting pair of ids (within one label or across two) is one warning.
    """
    entries = _entries(spdx_lists)
    warnings: list[str] = []
    for label, i in entries:
        if family(i) == UNKNOWN:
            what = "the user's own data" if base_id(i) == USER else f"licence '{i}' is not one ganvas knows"
            warnings.append(f"licence unknown: check you may use these items ('{label}': {what}) to train and "
                            "publish outputs, and credit their makers (ganvas credits RUN)")
    seen: set[frozenset[str]] = set()
    for n, (la, a) in enumerate(entries):
        for lb, b in entries[n + 1:]:
            key = frozenset({a, b})
            if a == b or key in seen or not conflict(a, b):
                continue
            seen.add(key)
            warnings.append(f"incompatible licences: '{la}' is {a} ({family(a)}) and '{lb}' is {b} ({family(b)}); "
                            "outputs of a model trained on both have no licence that satisfies both")
    return warnings


def run_licences(summary: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """(label, SPDX ids) of the data a run trains on: each domain of a translation set, else the dataset."""
    translation = summary.get("translation") or {}
    name = str(summary.get("name", "data"))
    builder = _builtin(name)
    parts = []
    for role in ("a", "b"):
        domain = translation.get(role)
        if not isinstance(domain, Mapping):
            continue
        spdx = domain.get("spdx") or getattr(builder, "domain_spdx", {}).get(domain.get("name"))
        if spdx:        # a set built before domains carried their ids: the builder's, by domain name
            parts.append((f"{name} {role} ({domain.get('name', role)})", list(spdx)))
    if len(parts) == 2:
        return parts
    return [(name, fields_of(summary)["spdx"])]
