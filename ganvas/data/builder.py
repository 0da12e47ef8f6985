"""Building a dataset from installed Debian packages into the data home, with its card."""

from __future__ import annotations

import collections
import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image
from tqdm import tqdm

from ganvas.data.dataset import fingerprint_arrays
from ganvas.data.imageprep import SkipFile, fit_square
from ganvas.data.licences import card_fields
from ganvas.errors import GanvasError
from ganvas.files import atomic_dir, save_npy, write_json, write_text

Item = tuple[str, str, Callable[[], Image.Image]]   # (key, label, loader)
COPYRIGHT = "/usr/share/doc/{}/copyright"          # every Debian package's copyright and licence file


def package_version(package: str) -> str | None:
    """The installed version of a Debian package, or None when it is not installed."""
    if shutil.which("dpkg-query") is None:
        return None
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status}|${Version}", package],
                         capture_output=True, text=True, check=False)
    status, _, version = out.stdout.partition("|")
    return version if out.returncode == 0 and status.endswith("installed") else None


def missing_packages(name: str, packages: tuple[str, ...], paths: tuple[str, ...]) -> str | None:
    """None when every path a built-in dataset is read from exists, else a one-line instruction to install."""
    if all(Path(p).exists() for p in paths):
        return None
    return (f"dataset '{name}' is built from the Debian package(s) {', '.join(packages)}; "
            f"install them with: sudo apt-get install -y {' '.join(packages)}")


class DatasetBuilder:
    """One built-in dataset: where its files are, how to read each, and what its card says."""

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    packages: ClassVar[tuple[str, ...]]     # Debian packages the files come from
    required_paths: ClassVar[tuple[str, ...]]  # files/folders that must exist to build
    licence: ClassVar[str]                  # for people: the licence(s) and where they are stated
    spdx: ClassVar[tuple[str, ...]]         # SPDX ids of every licence covering some items (ganvas.data.licences)
    attribution: ClassVar[str]              # the notice to publish with outputs: makers, licence, full text
    native_size: ClassVar[int] = 128        # stored side in pixels; smaller resolutions derive from it
    fit: ClassVar[str] = "pad"              # icons and clip art are padded, never cropped
    labelled: ClassVar[bool] = True
    distinct: ClassVar[bool] = False        # keep exact duplicates (as stored) once: game art repeats tiles
    dropped: collections.Counter            # what `items` passed over and why (atlas fragments...), for the card

    def items(self) -> Iterator[Item]:
        raise NotImplementedError

    def missing(self) -> str | None:
        """None when buildable, else a one-line instruction naming what to install."""
        return missing_packages(self.name, self.packages, self.required_paths)

    def build(self, root: Path, progress: bool | None = None, limit: int | None = None) -> Path:
        """Decode every item into one uint8 array and write it with its card, atomically.

        `limit` builds an evenly spaced subset (every label stays represented): a quick look, or tests.
        """
        problem = self.missing()
        if problem:
            raise GanvasError(problem)
        self.dropped = collections.Counter()
        items = list(self.items())
        if not items:
            raise GanvasError(f"dataset '{self.name}': no source files found under {self.required_paths}")
        available = len(items)
        if limit is not None and limit < available:
            items = [items[i * available // limit] for i in range(limit)]
        s = self.native_size
        images = np.empty((len(items), s, s, 3), dtype=np.uint8)
        label_names = sorted({label for _, label, _ in items}) if self.labelled else []
        labels, keys, skipped = [], [], collections.Counter(self.dropped)
        seen: set[bytes] = set()
        n = 0
        quiet = None if progress is None else not progress      # None: a bar only on a terminal
        for key, label, load in tqdm(items, desc=f"building {self.name}", unit="img", disable=quiet, leave=False):
            try:
                images[n] = np.asarray(fit_square(load(), s, self.fit))
            except SkipFile as exc:
                skipped[exc.reason] += 1
                continue
            if self.distinct:
                digest = hashlib.sha256(images[n].tobytes()).digest()
                if digest in seen:
                    skipped["duplicate"] += 1
                    continue
                seen.add(digest)
            labels.append(label_names.index(label) if self.labelled else 0)
            keys.append(key)
            n += 1
        images = images[:n]
        arrays = {"x": images}
        if self.labelled:
            arrays["y"] = np.asarray(labels, dtype=np.int64)
        card = self.card(arrays, label_names, dict(skipped))
        card["available"] = available         # items in the source; more than count if limited or skipped
        with atomic_dir(root) as tmp:
            save_npy(tmp / "images.npy", images)
            if self.labelled:
                save_npy(tmp / "labels.npy", arrays["y"])
            write_text(tmp / "keys.txt", "\n".join(keys) + "\n")
            write_json(tmp / "card.json", card)
            write_text(tmp / "README.md", card_markdown(card))
        return root

    def card(self, arrays: dict[str, np.ndarray], label_names: list[str], skipped: dict[str, int]) -> dict:
        from ganvas.version import __version__

        counts = np.bincount(arrays["y"], minlength=len(label_names)).tolist() if self.labelled else []
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "domain": "image",
            "count": int(len(arrays["x"])),
            "native_size": self.native_size,
            "labels": {"names": label_names, "counts": counts} if self.labelled else None,
            **card_fields(self),
            "source": {"packages": {p: package_version(p) for p in self.packages},
                       "paths": list(self.required_paths),
                       "copyright": {p: str(COPYRIGHT.format(p)) for p in self.packages
                                     if Path(COPYRIGHT.format(p)).is_file()}},
            "skipped": skipped,
            "fingerprint": fingerprint_arrays(arrays),
            "built_by": f"ganvas {__version__}",
            "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def card_markdown(card: dict) -> str:
    """The dataset card for people: what it is, where it came from, its licence and contents."""
    lines = [f"# {card['title']} (`{card['name']}`)", "", card["description"], "",
             f"- Images: {card['count']} of {card.get('available', card['count'])} in the source, "
             f"stored at {card['native_size']}×{card['native_size']} RGB",
             f"- Licence: {card['licence']}"]
    if card.get("attribution"):
        lines.append(f"- Attribution: {card['attribution']}")
    copyright = card["source"].get("copyright", {})
    for pkg, version in card["source"]["packages"].items():
        lines.append(f"- Source: Debian package `{pkg}` {version or '(version unknown)'}"
                     + (f", copyright and licences in `{copyright[pkg]}`" if pkg in copyright else ""))
    if card["source"].get("paths"):
        lines.append("- Files: " + ", ".join(f"`{p}`" for p in card["source"]["paths"]))
    if card.get("skipped"):
        lines.append("- Skipped while building: " + ", ".join(f"{v} {k}" for k, v in card["skipped"].items()))
    lines.append(f"- Fingerprint: `{card['fingerprint']}`")
    if card.get("labels"):
        lines += ["", "| label | images |", "|---|---|"]
        lines += [f"| {n} | {c} |" for n, c in zip(card["labels"]["names"], card["labels"]["counts"], strict=True)]
    return "\n".join(lines) + "\n"
