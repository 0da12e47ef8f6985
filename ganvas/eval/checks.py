"""Input checks shared by every metric: one-line errors that name the array and what was expected.

Metrics are pure functions of feature arrays; their callers (the CLI, the evaluation suite) pass a
name for each array ("REAL.npy", "generated features") so an error points at the file or set at fault.
"""

from __future__ import annotations

import numpy as np

from ganvas.errors import GanvasError


def as_features(x: object, what: str = "features") -> np.ndarray:
    """`x` as a C-contiguous float64 N×D array; NaN, inf, other ranks or types are one-line errors."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise GanvasError(f"{what}: expected a numeric N×D array, got {type(x).__name__} ({exc})") from None
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise GanvasError(f"{what}: expected a numeric N×D array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise GanvasError(f"{what}: expected a 2-D array (samples × feature width), got shape {a.shape}")
    if a.shape[1] == 0:
        raise GanvasError(f"{what}: feature width is 0 (shape {a.shape})")
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(a[row, col]) else "inf"
        raise GanvasError(f"{what}: {int(bad.sum())} NaN or inf values (first: {kind} at row {row}, column {col})")
    return a


def same_width(a: np.ndarray, b: np.ndarray, what_a: str, what_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise GanvasError(f"feature arrays of different widths: {what_a} has {a.shape[1]} columns, "
                          f"{what_b} has {b.shape[1]} (they must come from the same extractor)")


def at_least(x: np.ndarray, n: int, what: str, why: str) -> None:
    if len(x) < n:
        raise GanvasError(f"{what}: {len(x)} samples, but {why} needs at least {n}")
