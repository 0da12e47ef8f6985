"""What D sees of a tileable run: every image, real or generated, rolled circularly by a random amount.

A tileable G (`ganvas.nets.tileable`) can only be judged on its seams if D looks across them. Rolling
an image by (dy, dx) with wrap-around moves its wrap edges into the middle, where D sees the pixels
of opposite edges side by side: a generator whose outputs do not continue across their edges is
caught there, while a true period of a pattern looks the same however it is rolled. Reals are
rolled too, by the same kind of draw, so D learns nothing from where the seam lies; the training
tiles are made to tile (floors, walls, textures), so their rolled copies are real-looking as well.
Rolls are integer shifts: exact, differentiable for the fakes (G's gradient flows back through
the gather), and drawn from torch's global random stream like the other augmentations.
"""

from __future__ import annotations

from typing import Any

import torch

from ganvas.objectives.augment import Augment


def random_wrap(x: torch.Tensor) -> torch.Tensor:
    """Each image of `x` (N×C×H×W) rolled by its own uniform random (dy, dx), with wrap-around."""
    n, _, h, w = x.shape
    dy = torch.randint(0, h, (n, 1), device=x.device)
    dx = torch.randint(0, w, (n, 1), device=x.device)
    rows = (torch.arange(h, device=x.device) + dy) % h                    # n×h
    cols = (torch.arange(w, device=x.device) + dx) % w                    # n×w
    out = x.gather(2, rows[:, None, :, None].expand(-1, x.shape[1], -1, w))
    out = out.gather(3, cols[:, None, None, :].expand(-1, x.shape[1], h, -1))
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        out = out.contiguous(memory_format=torch.channels_last)
    return out


class WrapShift(Augment):
    """Random circular shifts before another augmentation (`inner`), whose state and feedback it passes on."""

    name = "wrap"

    def __init__(self, inner: Augment) -> None:
        super().__init__(inner.policy)
        self.inner = inner

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(random_wrap(x))

    def observe(self, real_logits: torch.Tensor) -> None:
        self.inner.observe(real_logits)

    def stats(self) -> dict[str, torch.Tensor]:
        return self.inner.stats()

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)
