"""Translation datasets: several domains of images (fonts, icon themes), paired or unpaired.

A built translation set stores each domain ``D`` as ``D.npy`` (training rows) and ``D.test.npy``
(held-out rows, never trained on) with their keys in ``D.keys.txt`` and ``D.test.keys.txt``. In a
paired set every domain holds the same keys in the same order, so row i of any two domains is a
pair (the same character in two fonts); in an unpaired set each domain is its own collection.

Which rows are held out depends only on each item's key (a hash of it), never on what else was
found: the same characters are held out on every machine, whatever fonts are installed, and in an
icon set an application held out in one theme is held out in the other.

A run chooses two domains as ``NAME:A:B`` (``cjk-fonts:sans:kai``); ``NAME`` alone is the set's
default pair. The loaded `ArrayDataset` holds ``a``, ``b``, ``a_test`` and ``b_test``.
"""

from __future__ import annotations

import collections
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganvas.data.builder import DatasetBuilder, Item, package_version
from ganvas.data.dataset import (
    ArrayDataset,
    ItemIndex,
    fingerprint_arrays,
    read_keys,
    resize_images,
    split_spec,
)
from ganvas.data.imageprep import SkipFile, fit_square
from ganvas.data.licences import card_fields
from ganvas.errors import GanvasError, unknown_name
from ganvas.files import atomic_dir, load_npy, save_npy, write_json, write_text

ROLES = ("a", "b", "a_test", "b_test")


def held_out(key: str, every: int) -> bool:
    """Whether item `key` is in the held-out split (about one in `every`), decided by its hash alone."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little") % every == 0


def streams_for(layout: str) -> dict[str, list[str]]:
    """Pairs are drawn together by one sampler; unpaired domains each by their own."""
    return {"pair": ["a", "b"]} if layout == "paired" else {"a": ["a"], "b": ["b"]}


class TranslationBuilder(DatasetBuilder):
    """A built-in set of several image domains; subclasses say what the domains are and how to draw items."""

    layout: ClassVar[str] = "unpaired"              # paired: every domain draws the same keys
    domain_names: ClassVar[dict[str, str]] = {}     # domain key -> title, e.g. {"kai": "AR PL UKai CN"}
    default_pair: ClassVar[tuple[str, str]] = ("", "")   # (A, B) when the run names no variant
    channels: ClassVar[int] = 3                     # 1: grey (glyphs), 3: RGB
    holdout_every: ClassVar[int] = 10               # about one item in this many is held out
    domain_spdx: ClassVar[dict[str, tuple[str, ...]]] = {}   # a domain's own SPDX ids, when narrower than `spdx`
    labelled = False

    def domain_items(self, domain: str) -> Iterator[Item]:
        """(key, label, loader) for every item of `domain`; a loader may raise SkipFile."""
        raise NotImplementedError

    def domain_info(self, domain: str) -> dict[str, Any]:
        """What a checkpoint should remember about a domain (e.g. the font file it was drawn from)."""
        return {"title": self.domain_names[domain]}

    def prepare(self, image: Image.Image) -> np.ndarray:
        """One decoded item as the stored square array (H×W×channels)."""
        im = fit_square(image, self.native_size, self.fit)
        if self.channels == 1:
            return np.asarray(im.convert("L"))[..., None]
        return np.asarray(im)

    def build(self, root: Path, progress: bool | None = None, limit: int | None = None) -> Path:
        """Draw every domain, split off the held-out keys, and write arrays and card atomically.

        `limit` keeps an evenly spaced subset of each domain's items (a quick look, or tests).
        """
        problem = self.missing()
        if problem:
            raise GanvasError(problem)
        quiet = None if progress is None else not progress
        lists = {d: list(self.domain_items(d)) for d in self.domain_names}
        available = {d: len(items) for d, items in lists.items()}
        if self.layout == "paired":      # the same keys in the same order in every domain
            common = set.intersection(*({k for k, _, _ in items} for items in lists.values()))
            order = [k for k, _, _ in next(iter(lists.values())) if k in common]
            by_key = {d: {it[0]: it for it in items} for d, items in lists.items()}
            lists = {d: [by_key[d][k] for k in order] for d in lists}
        if limit is not None:
            lists = {d: [items[i * len(items) // limit] for i in range(limit)] if limit < len(items) else items
                     for d, items in lists.items()}
        images: dict[str, dict[str, np.ndarray]] = {}
        skipped: dict[str, dict[str, int]] = {}
        for d, items in lists.items():
            if not items:
                raise GanvasError(f"dataset '{self.name}': no items found for domain '{d}' under "
                                  f"{', '.join(self.required_paths)}")
            out, counts = {}, collections.Counter()
            for key, _, load in tqdm(items, desc=f"building {self.name} {d}", unit="img", disable=quiet,
                                     leave=False):
                try:
                    out[key] = self.prepare(load())
                except SkipFile as exc:
                    counts[exc.reason] += 1
            images[d], skipped[d] = out, dict(counts)
        if self.layout == "paired":      # a key missing from any domain leaves them all
            keep = set.intersection(*(set(v) for v in images.values()))
            for d in images:
                dropped = len(images[d]) - len(keep)
                if dropped:
                    skipped[d]["partner missing"] = dropped
                images[d] = {k: v for k, v in images[d].items() if k in keep}
        return self._write(root, images, skipped, available)

    def _write(self, root: Path, images: dict[str, dict[str, np.ndarray]], skipped: dict[str, dict[str, int]],
               available: dict[str, int]) -> Path:
        from ganvas.version import __version__

        s, c = self.native_size, self.channels
        domains, files = {}, {}
        with atomic_dir(root) as tmp:
            for d, found in images.items():
                keys = sorted(found)
                splits = {"": [k for k in keys if not held_out(k, self.holdout_every)],
                          ".test": [k for k in keys if held_out(k, self.holdout_every)]}
                for suffix, part in splits.items():
                    array = np.stack([found[k] for k in part]) if part else np.empty((0, s, s, c), np.uint8)
                    stem = f"{d}{suffix}"
                    save_npy(tmp / f"{stem}.npy", array)
                    write_text(tmp / f"{stem}.keys.txt", "".join(f"{k}\n" for k in part))
                    files[stem] = {"count": len(part), "fingerprint": fingerprint_arrays({stem: array})}
                spdx = list(self.domain_spdx.get(d, self.spdx))
                domains[d] = {**self.domain_info(d), "spdx": spdx, "count": len(splits[""]),
                              "held_out": len(splits[".test"]), "available": available[d], "skipped": skipped[d]}
            card = {
                "name": self.name, "title": self.title, "description": self.description, "domain": "image",
                "layout": self.layout, "native_size": s, "channels": c,
                "count": sum(len(v) for v in images.values()),
                "domains": domains, "default_pair": list(self.default_pair),
                "held_out": f"keys whose sha256 is 0 mod {self.holdout_every} (about 1 in {self.holdout_every})",
                "labels": None, **card_fields(self),
                "source": {"packages": {p: package_version(p) for p in self.packages},
                           "paths": list(self.required_paths)},
                "skipped": {f"{d}: {k}": v for d, sk in skipped.items() for k, v in sk.items()},
                "files": files,
                "fingerprint": "sha256:" + hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest(),
                "built_by": f"ganvas {__version__}",
                "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            write_json(tmp / "card.json", card)
            write_text(tmp / "README.md", translation_card_markdown(card))
        return root


def translation_card_markdown(card: dict) -> str:
    """The dataset card for people: domains, counts, held-out split, sources and licence."""
    kind = "paired: row i of every domain shows the same item" if card["layout"] == "paired" else "unpaired"
    lines = [f"# {card['title']} (`{card['name']}`)", "", card["description"], "",
             f"- Layout: {kind}; default pair {card['default_pair'][0]} → {card['default_pair'][1]} "
             f"(choose others as `{card['name']}:A:B`)",
             f"- Stored at {card['native_size']}×{card['native_size']}, "
             f"{'grey' if card['channels'] == 1 else 'RGB'}",
             f"- Held out (never trained on): {card['held_out']}",
             f"- Licence: {card['licence']}"]
    if card.get("attribution"):
        lines.append(f"- Attribution: {card['attribution']}")
    for pkg, version in card["source"]["packages"].items():
        lines.append(f"- Source: Debian package `{pkg}` {version or '(version unknown)'}")
    lines.append(f"- Fingerprint: `{card['fingerprint']}`")
    lines += ["", "| domain | what | training | held out | skipped |", "|---|---|---|---|---|"]
    for d, info in card["domains"].items():
        skipped = ", ".join(f"{v} {k}" for k, v in info["skipped"].items()) or "none"
        lines.append(f"| {d} | {info['title']} | {info['count']} | {info['held_out']} | {skipped} |")
    return "\n".join(lines) + "\n"


def _stored(root: Path, stem: str, card: dict, resolution: int) -> tuple[np.ndarray, str]:
    """One domain split at `resolution` (resized once and cached beside the original) and its fingerprint."""
    native_fp = card["files"][stem]["fingerprint"]
    if resolution == card["native_size"]:
        return load_npy(root / f"{stem}.npy"), native_fp
    cached, fp_file = root / "cache" / f"{stem}-{resolution}.npy", root / "cache" / f"{stem}-{resolution}.sha"
    if cached.exists() and fp_file.exists() and fp_file.read_text().split()[1] == native_fp:
        return load_npy(cached), fp_file.read_text().split()[0]
    images = resize_images(load_npy(root / f"{stem}.npy"), resolution)
    save_npy(cached, images)
    fp = fingerprint_arrays({stem: images})
    write_text(fp_file, f"{fp} {native_fp}\n")
    return images, fp


def load_translation(root: Path, spec: str, resolution: int) -> ArrayDataset:
    """Domains A and B of a built translation set (``NAME`` or ``NAME:A:B``) at `resolution`."""
    name, variant = split_spec(spec)
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    if "layout" not in card:
        raise GanvasError(f"dataset '{name}' is a set of single images and has no variants; "
                          f"use --data {name} without ':{variant}'")
    native = int(card["native_size"])
    if resolution > native:
        raise GanvasError(f"dataset '{name}' is stored at {native} px; ask for --resolution {native} or less")
    domains = list(card["domains"])
    pair = variant.split(":") if variant else list(card["default_pair"])
    if len(pair) != 2:
        raise GanvasError(f"dataset '{spec}': expected {name}:A:B with two of its domains "
                          f"({', '.join(domains)}), e.g. {name}:{domains[0]}:{domains[-1]}")
    for d in pair:
        if d not in card["domains"]:
            raise unknown_name(f"domain of dataset '{name}'", d, domains)
    if pair[0] == pair[1]:
        raise GanvasError(f"dataset '{spec}': A and B are both '{pair[0]}'; choose two different domains")
    arrays, fps, index = {}, {}, {}
    for role, stem in zip(ROLES, (pair[0], pair[1], f"{pair[0]}.test", f"{pair[1]}.test"), strict=True):
        arrays[role], fps[role] = _stored(root, stem, card, resolution)
        keys = read_keys(root / f"{stem}.keys.txt", len(arrays[role]))
        if keys is not None:
            index[role] = ItemIndex(keys, None, None if resolution == native else root / f"{stem}.npy")
    fingerprint = "sha256:" + hashlib.sha256(json.dumps(fps, sort_keys=True).encode()).hexdigest()
    card = {**card, "translation": {"a": {"name": pair[0], **card["domains"][pair[0]]},
                                    "b": {"name": pair[1], **card["domains"][pair[1]]}}}
    return ArrayDataset(spec, card.get("domain", "image"), arrays, card, fingerprint,
                        streams=streams_for(card["layout"]), index=index)
