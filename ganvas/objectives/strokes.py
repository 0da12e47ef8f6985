"""What a hand does to a drawing: augmentation of a sketch model's input strokes in training.

A sketch-to-image pix2pix learns from drawings made by a program (`ganvas.data.sketch`): lines
exactly on the picture's outlines, all one width, never broken. A person drawing with a mouse
wobbles, presses harder or lighter, and leaves gaps; a model that has only seen perfect edge maps
answers such a drawing with smudges. So, per batch, the input side of each pair goes through:

1. **thickness**: the ink dilated by a 2×2 max (a pen one pixel wider) with probability 1/3, and its
   darkness scaled by U(0.6, 1) (a lighter, anti-aliased pen);
2. **jitter**: an elastic displacement, a smooth random field (4×4 control points, bicubic) of up to
   `jitter` × side pixels, plus a random similarity transform (scale 0.92–1.08, rotation ±6°,
   translation ±3% of the side), applied with one bilinear resampling (paper outside stays white);
3. **dropped segments**: 0–3 discs of radius 4–12% of the side erased from the ink.

Each image is augmented with probability `p` (0.85), so clean edge maps are still seen. The target
(the picture) is never changed: the model learns that a wobbly, broken drawing still means the
clean picture. Inputs are N×C×H×W in [-1, 1] with ink dark (−1) on white (+1), grey or RGB (the
ink is the channel mean; the result is grey in every channel), and keep their size.

Randomness comes from the augmentation's own generator, seeded from the run's seed (one stream
per rank) and saved in the objective's JSON state, so a resumed run draws what an uninterrupted one
would have. `INPUT_AUGMENTS` in `ganvas/registry.py` names these (pix2pix's ``input_augment``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ganvas import seeds


class InputAugment:
    """No augmentation: G's input as it is. The interface of every input augmentation."""

    name = "none"

    def __init__(self, seed: int = 0) -> None:
        self.rng = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def reseed(self, seed: int) -> None:
        self.rng.manual_seed(seed)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": seeds.rng_to_json(self.rng.get_state())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.set_state(seeds.rng_from_json(state["rng"]))


class StrokeAugment(InputAugment):
    """Thickness, jitter (elastic + similarity) and dropped segments of drawn lines (module docstring)."""

    name = "strokes"

    def __init__(self, seed: int = 0, p: float = 0.85, jitter: float = 0.025) -> None:
        super().__init__(seed)
        self.p = p                  # share of images augmented
        self.jitter = jitter        # largest elastic displacement, as a share of the side

    def _u(self, *shape: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=self.rng)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        ink = ((1 - x.mean(1, keepdim=True)) / 2).clamp(0, 1)                     # 1 = ink, 0 = paper
        on = (self._u(n) < self.p).view(n, 1, 1, 1).to(x.device)
        # 1. thickness
        thick = (self._u(n) < 1 / 3).view(n, 1, 1, 1).to(x.device)
        ink = torch.where(thick, F.max_pool2d(F.pad(ink, (0, 1, 0, 1)), 2, 1), ink)
        ink = ink * self._u(n, lo=0.6, hi=1.0).view(n, 1, 1, 1).to(x.device)
        # 2. jitter: elastic field + similarity transform, one bilinear resampling
        angle = self._u(n, lo=-1, hi=1) * math.radians(6)
        scale = self._u(n, lo=0.92, hi=1.08)
        shift = self._u(n, 2, lo=-0.06, hi=0.06)                                  # ±3% of the side ([-1, 1] spans 2)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
        field = self._u(n, 2, 4, 4, lo=-1, hi=1) * (2 * self.jitter)
        field = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
        warped = F.grid_sample(ink, (grid + field).to(x.device, x.dtype), mode="bilinear", padding_mode="zeros",
                               align_corners=False)
        # 3. dropped segments: 0-3 discs erased
        yy = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
        xx = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
        count = torch.randint(0, 4, (n,), generator=self.rng)
        centre = self._u(n, 3, 2) * torch.tensor([h, w])
        radius = self._u(n, 3, lo=0.04, hi=0.12) * min(h, w)
        used = (torch.arange(3).view(1, 3) < count.view(n, 1)).view(n, 3, 1, 1)
        d2 = (yy - centre[..., 0].view(n, 3, 1, 1)) ** 2 + (xx - centre[..., 1].view(n, 3, 1, 1)) ** 2
        erased = ((d2 <= radius.view(n, 3, 1, 1) ** 2) & used).any(1, keepdim=True).to(x.device)
        warped = warped.masked_fill(erased, 0.0)
        return torch.where(on, (1 - 2 * warped).expand(n, c, h, w), x).contiguous()
