"""Edge agreement: does a sketch model's output follow the drawing it was given?

L1 and SSIM against the true picture say whether the output looks like the picture; they do not say
whether it keeps the lines the person drew (a blurry average can score well). So the output's own
edges, found by the same line extractor that made the training drawings (`ganvas.data.sketch`), are
compared with the input drawing's lines (thinned to one pixel):

- **Chamfer distance** (pixels, ↓): the mean distance from each input line pixel to the nearest
  output edge, and from each output edge to the nearest input line, averaged (symmetric).
- **Edge F-score** (↑, in [0, 1]): precision = share of output edges within `tolerance` pixels of
  an input line, recall = share of input line pixels within `tolerance` of an output edge, and
  their harmonic mean (as in the BSDS boundary benchmark, with a distance tolerance instead of a
  one-to-one matching).

Both are per image, then averaged; an image with no edges on one side gets F = 0 and the Chamfer
distance of the image's diagonal. The true picture's own edges, scored the same way, are the
reference: a model cannot be expected to agree with the drawing better than the picture it was made
from does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganvas.data.sketch import edges_of


def drawn_lines(sketches: np.ndarray) -> np.ndarray:
    """The lines of uint8 N×H×W×C drawings (dark on white), thinned to one pixel (boolean N×H×W)."""
    from skimage.morphology import skeletonize

    grey = sketches.astype(np.float64).mean(axis=3)
    return np.stack([skeletonize(g < 128) for g in grey]) if len(grey) else np.zeros(grey.shape, bool)


def _distance_to(mask: np.ndarray) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~mask) if mask.any() else np.full(mask.shape, float(np.hypot(*mask.shape)))


def agreement(lines: np.ndarray, edges: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-image symmetric Chamfer distance and edge F-score of boolean N×H×W `edges` against `lines`."""
    chamfer, f = np.empty(len(lines)), np.empty(len(lines))
    diagonal = float(np.hypot(*lines.shape[1:]))
    for i, (want, got) in enumerate(zip(lines, edges, strict=True)):
        if not want.any() or not got.any():
            chamfer[i], f[i] = diagonal, 0.0
            continue
        to_got, to_want = _distance_to(got)[want], _distance_to(want)[got]
        chamfer[i] = 0.5 * (to_got.mean() + to_want.mean())
        recall, precision = (to_got <= tolerance).mean(), (to_want <= tolerance).mean()
        f[i] = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return chamfer, f


def edge_agreement(sketches: np.ndarray, outputs: np.ndarray, targets: np.ndarray | None, method: str,
                   tolerance: float | None = None) -> dict[str, Any]:
    """Chamfer distance and edge F-score of the outputs' edges (and the targets', as the reference) to the drawings.

    `method` is how the training drawings were made (the dataset card's ``lines.method``);
    `tolerance` defaults to 1/32 of the side (2 px at 64).
    """
    side = sketches.shape[1]
    tol = float(tolerance if tolerance is not None else max(1.0, side / 32))
    lines = drawn_lines(sketches)
    out: dict[str, Any] = {"method": method, "tolerance_px": tol}
    sides = {"model": outputs, **({"target": targets} if targets is not None else {})}
    for name, images in sides.items():
        chamfer, f = agreement(lines, edges_of(images, method), tol)
        out[name] = {"chamfer_px": float(chamfer.mean()), "f_score": float(f.mean())}
    return out
