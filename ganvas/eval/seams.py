"""Does a picture tile? The seam score, and the 3×3 tiling that shows it.

Laid side by side, copies of a picture meet along its wrap edges: its last column against its first,
its last row against its first. The seam score compares the jump across those edges with the jump
across the picture's own interior lines:

    seam = mean |x[..., :, -1] − x[..., :, 0]|, and the same for the rows
    interior = mean |x[..., :, j+1] − x[..., :, j]| over every interior line j, and the same for rows
    score = seam / interior

About 1 for a picture that continues across its edges as it does inside (a texture, a floor tile),
well above 1 for one with a visible seam (a framed picture, an output drawn with zero padding
whose edges differ). Pictures are compared in their pixel values (any range), averaged over a batch
before the ratio, so flat pictures do not divide by nothing.
"""

from __future__ import annotations

import numpy as np
import torch


def _edge_and_interior(x: torch.Tensor) -> tuple[float, float]:
    """Mean absolute jump across the wrap edges and across interior lines of N×C×H×W pixels."""
    t = x.detach().double()
    seam = ((t[..., -1] - t[..., 0]).abs().mean() + (t[..., -1, :] - t[..., 0, :]).abs().mean()) / 2
    inner = ((t[..., 1:] - t[..., :-1]).abs().mean() + (t[..., 1:, :] - t[..., :-1, :]).abs().mean()) / 2
    return float(seam), float(inner)


def seam_score(x: torch.Tensor) -> float:
    """The seam score of a batch of pictures N×C×H×W (see the module's docstring); inf for flat pictures
    with a jump at the edge, 1 for flat ones without."""
    seam, inner = _edge_and_interior(x)
    if inner == 0:
        return 1.0 if seam == 0 else float("inf")
    return seam / inner


def seam_score_hwc(images: np.ndarray) -> float:
    """The seam score of uint8 pictures N×H×W×C, as datasets store them."""
    return seam_score(torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2))


def tile_3x3(image: np.ndarray) -> np.ndarray:
    """An H×W(×C) picture repeated three times across and down: its seams are the two inner lines each way."""
    reps = (3, 3) + (1,) * (image.ndim - 2)
    return np.tile(image, reps)
