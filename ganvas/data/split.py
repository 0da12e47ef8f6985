"""The held-out split: a fixed share of a dataset kept out of training, so evaluation can tell
copying (closer to the training images than new data is) from learning.

The split is a function of the dataset's content and the share alone: the same data and
``holdout`` give the same held-out images on any machine and at any resolution (built-in datasets
are keyed by the fingerprint of their stored native-size arrays), so a run and its later
evaluation agree on which images the model never saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np

from ganvas.data.dataset import ArrayDataset
from ganvas.errors import GanvasError

MAX_HOLDOUT = 0.5


def split_key(dataset: ArrayDataset) -> str:
    """What the split is seeded from: the native arrays' fingerprint for built-ins, else the data's own."""
    return str(dataset.card.get("fingerprint") or dataset.fingerprint)


def holdout_indices(dataset: ArrayDataset, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices), both sorted; round(fraction × N) held out, seeded by the data."""
    if not 0.0 <= fraction <= MAX_HOLDOUT:
        raise GanvasError(f"holdout must be a share in [0, {MAX_HOLDOUT}], got {fraction}")
    n = len(dataset)
    k = int(round(n * fraction))
    if fraction > 0 and (k < 2 or n - k < 2):
        raise GanvasError(f"holdout {fraction} of the {n} samples of '{dataset.name}' leaves {k} held out and "
                          f"{n - k} to train on; both need at least 2")
    seed = int.from_bytes(hashlib.sha256(f"{split_key(dataset)}:holdout:{fraction!r}".encode()).digest()[:8], "little")
    held = np.sort(np.random.default_rng(seed).permutation(n)[:k])
    train = np.setdiff1d(np.arange(n), held)
    return train, held


def split_info(dataset: ArrayDataset, fraction: float) -> dict:
    train, held = holdout_indices(dataset, fraction)
    return {"holdout": fraction, "n_total": len(dataset), "n_train": int(len(train)), "n_heldout": int(len(held)),
            "seeded_by": split_key(dataset)}


def training_part(dataset: ArrayDataset, fraction: float) -> ArrayDataset:
    """The dataset without its held-out share (the same object when `fraction` is 0).

    The fingerprint stays that of the whole dataset, which is what a resumed run checks.
    """
    if fraction <= 0:
        return dataset
    train, _ = holdout_indices(dataset, fraction)
    arrays = {k: v[train] for k, v in dataset.arrays.items()}
    return replace(dataset, arrays=arrays, card={**dataset.card, "split": split_info(dataset, fraction)})
