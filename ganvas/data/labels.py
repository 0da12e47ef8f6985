"""Rare classes of a labelled dataset: finding them (a warning at the start of a conditional run) and
merging them (``min_class_count``), as pure functions of an `ArrayDataset`.

A class with a handful of examples cannot be learned by a conditional GAN: its embedding sees too
few reals, D's projection for it overfits, and samples asked of it copy or collapse. The built-in
sets have such classes (openclipart's ``buttons`` holds 3 images, ``computer`` over 2,000). So:

- `rare_classes(ds, threshold)` says which classes have fewer than `threshold` examples, with a
  one-line warning (`RareClasses.warning`) that names them and the option that merges them;
- `merge_rare_classes(ds, min_count)` returns a new dataset in which those classes are one class,
  ``other`` — or, when ``other`` itself would still have fewer than `min_count` examples, drops their
  examples (a class that small is no better merged than alone). The choice is reported.

Labels are ``arrays["y"]`` (int64, one per example) and ``card["labels"]`` (``names``, ``counts``);
counts are taken from ``y``, so a training part (`ganvas.data.split.training_part`) is counted as it is.
Call `merge_rare_classes` before the held-out split: ``card["fingerprint"]`` (what the split is seeded
from) is kept, and the same data and `min_count` always give the same classes, rows and fingerprint.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ganvas.data.dataset import ArrayDataset, fingerprint_arrays
from ganvas.errors import GanvasError

OTHER = "other"
SHOWN = 5              # rare classes named in a warning; the rest are counted


def class_counts(dataset: ArrayDataset) -> list[tuple[str, int]]:
    """(name, examples) of each class, in label order; a one-line error when the data has no labels."""
    y = dataset.arrays.get("y")
    names = dataset.label_names
    if y is None or not names:
        raise GanvasError(f"dataset '{dataset.name}' has no labels; a labelled dataset is a built-in one with "
                          "labels, or a folder with one sub-folder per label or a labels.csv / labels.json")
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(names)):
        raise GanvasError(f"dataset '{dataset.name}': labels run from {int(y.min())} to {int(y.max())}, but "
                          f"the card names {len(names)} classes; rebuild the dataset")
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(names))
    return [(n, int(c)) for n, c in zip(names, counts, strict=True)]


@dataclass(frozen=True)
class RareClasses:
    """The classes of a dataset with fewer than `threshold` examples, smallest first."""

    threshold: int
    rare: list[tuple[str, int]]             # (name, examples)
    classes: int                            # classes in the dataset

    def __bool__(self) -> bool:
        return bool(self.rare)

    def warning(self) -> str | None:
        """One line for the start of a conditional run, or None when no class is rare."""
        if not self.rare:
            return None
        listed = ", ".join(f"{n} ({c})" for n, c in self.rare[:SHOWN])
        more = f", … ({len(self.rare) - SHOWN} more)" if len(self.rare) > SHOWN else ""
        k = len(self.rare)
        return (f"{k} {'class has' if k == 1 else 'classes have'} fewer than {self.threshold} examples: "
                f"{listed}{more}; merge them with --set min_class_count={self.threshold}")


def rare_classes(dataset: ArrayDataset, threshold: int) -> RareClasses:
    """The classes with fewer than `threshold` examples (a class with none counts: it is in the card)."""
    _check_count("threshold", threshold)
    counts = class_counts(dataset)
    rare = sorted(((n, c) for n, c in counts if c < threshold), key=lambda nc: (nc[1], nc[0]))
    return RareClasses(threshold, rare, len(counts))


@dataclass(frozen=True)
class MergeReport:
    """What `merge_rare_classes` did: which classes became ``other``, which were dropped, the new counts."""

    min_count: int
    merged: list[str] = field(default_factory=list)     # classes folded into ``other``
    dropped: list[str] = field(default_factory=list)    # classes whose examples were removed
    dropped_examples: int = 0
    names: list[str] = field(default_factory=list)      # the classes after merging, in label order
    counts: list[int] = field(default_factory=list)
    mapping: dict[str, str | None] = field(default_factory=dict)   # old class → new class (None: dropped)

    @property
    def changed(self) -> bool:
        return bool(self.merged or self.dropped)

    def summary(self) -> str:
        """One line for the run's log."""
        if not self.changed:
            return f"every class has at least {self.min_count} examples; none merged"
        if self.merged:
            other = self.counts[self.names.index(OTHER)]
            return (f"merged {len(self.merged)} classes with fewer than {self.min_count} examples into "
                    f"'{OTHER}' ({other} examples): {', '.join(self.merged)}; {len(self.names)} classes remain")
        return (f"dropped {len(self.dropped)} classes with fewer than {self.min_count} examples "
                f"({self.dropped_examples} examples; together still fewer than {self.min_count}, too few for "
                f"a class '{OTHER}'): {', '.join(self.dropped)}; {len(self.names)} classes remain")


def merge_rare_classes(dataset: ArrayDataset, min_count: int) -> tuple[ArrayDataset, MergeReport]:
    """A new dataset in which every class with fewer than `min_count` examples is merged or dropped.

    The rare classes become one class, ``other`` (appended after the kept classes; an existing class
    named ``other`` that is not rare absorbs them in its place). When all their examples together are
    still fewer than `min_count`, an ``other`` class would be as rare as they were: their examples are
    dropped instead (from every array sampled with ``y``). Fewer than two classes left is a one-line
    error, since a conditional model needs a choice. `dataset` is not changed; nothing rare returns it
    as is. The card's labels carry ``merged`` / ``dropped`` and ``min_count``, so the card says what was done.
    """
    _check_count("min_count", min_count)
    counts = class_counts(dataset)
    rare = {n for n, c in counts if c < min_count}
    if not rare:
        names = [n for n, _ in counts]
        return dataset, MergeReport(min_count, names=names, counts=[c for _, c in counts],
                                    mapping={n: n for n in names})
    pooled = sum(c for n, c in counts if n in rare)
    merge = pooled >= min_count
    kept = [n for n, _ in counts if n not in rare]
    if merge and OTHER not in kept:
        kept.append(OTHER)
    mapping: dict[str, str | None] = {n: (n if n not in rare else OTHER if merge else None) for n, _ in counts}
    if len(kept) < 2:
        raise GanvasError(f"min_class_count={min_count} leaves {len(kept)} class of dataset '{dataset.name}' "
                          f"({', '.join(kept) or 'none'}; classes: {', '.join(f'{n} ({c})' for n, c in counts)}); "
                          "a conditional model needs at least 2: lower min_class_count")
    old_to_new = np.asarray([kept.index(m) if m is not None else -1 for m in mapping.values()], dtype=np.int64)
    y_new = old_to_new[np.asarray(dataset.arrays["y"], dtype=np.int64)]
    arrays = dict(dataset.arrays)
    if merge:
        arrays["y"] = y_new
    else:
        keep = y_new >= 0
        together = next((keys for keys in dataset.streams.values() if "y" in keys), ["y"])
        for key in together:
            arrays[key] = dataset.arrays[key][keep]
        arrays["y"] = y_new[keep]
    new_counts = np.bincount(arrays["y"], minlength=len(kept)).tolist()
    ordered = [n for n, _ in counts if n in rare]
    report = MergeReport(min_count, merged=ordered if merge else [], dropped=[] if merge else ordered,
                         dropped_examples=0 if merge else pooled, names=kept, counts=new_counts, mapping=mapping)
    labels = {**(dataset.card.get("labels") or {}), "names": kept, "counts": new_counts, "min_count": min_count,
              ("merged" if merge else "dropped"): ordered}
    labels.pop("pieces", None)          # per-class piece counts of the source no longer line up
    card = {**dataset.card, "labels": labels, "count": int(len(arrays["y"]))}
    return dataclasses.replace(dataset, arrays=arrays, card=card, fingerprint=fingerprint_arrays(arrays)), report


def _check_count(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise GanvasError(f"{what} must be a whole number >= 1, got {value!r}")
