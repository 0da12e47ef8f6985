"""FastGAN's objective (Liu et al. 2021): the adversarial game, plus D's reconstruction of the reals it sees.

D's 8×8 features decode to the whole augmented real image, and a random quarter of its 16×16
features to that quarter of the image, each at the decoders' side (the targets are box-filtered
down to it). The paper measures the reconstruction with LPIPS; with no pretrained network at hand
ganvas uses L1 + (1 − SSIM), which between them weigh pixel values and local structure. The term
is added to D's loss on reals, once per D step, in the same forward pass as D's logits
(`AdversarialObjective.judge_real`); the quarter is drawn from torch's random stream, which
checkpoints save, so a resumed run draws the same quarters. Everything else (the loss, lazy R1 and
R2, augmentation, reuse of the fake batch) is `AdversarialObjective`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from ganvas.objectives.adversarial import AdversarialObjective
from ganvas.objectives.base import Stats
from ganvas.objectives.ssim import ssim

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.fastgan import FastGAN


def resize(images: torch.Tensor, side: int) -> torch.Tensor:
    """Box-filtered downsampling to `side` (exact averages of pixel blocks for power-of-two sides)."""
    return images if images.shape[-1] == side else F.adaptive_avg_pool2d(images, side)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 + (1 − SSIM) over the batch, on images in [-1, 1] (SSIM's data range 2), in float32 even
    under mixed precision (SSIM's variances are differences of nearly equal numbers)."""
    recon, target = recon.float(), target.float()
    return (recon - target).abs().mean() + (1 - ssim(recon, target, data_range=2.0)).mean()


def quarter(x: torch.Tensor, q: int) -> torch.Tensor:
    """Quarter `q` (0 top left, 1 top right, 2 bottom left, 3 bottom right) of N×C×H×W maps."""
    h, w = x.shape[-2] // 2, x.shape[-1] // 2
    r, c = divmod(q, 2)
    return x[..., r * h:(r + 1) * h, c * w:(c + 1) * w]


class FastGANObjective(AdversarialObjective):
    def __init__(self, model: FastGAN, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        super().__init__(model, cfg, latent_rng)
        self.recon_weight = model.options.recon_weight

    def reconstruct(self, feats: dict[int, torch.Tensor], real: torch.Tensor, q: int | None = None) -> torch.Tensor:
        """D's reconstruction loss on `real` from its 8² and 16² maps `feats`; quarter `q` (None: a random one)."""
        D = self.model.D
        side = D.recon_side
        if q is None:
            q = int(torch.randint(4, ()).item())
        whole = reconstruction_loss(D.decode_whole(feats[8]), resize(real, side))
        part = reconstruction_loss(D.decode_part(quarter(feats[16], q)), resize(quarter(real, q), side))
        return whole + part

    def judge_real(self, D: Callable[..., torch.Tensor], real: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor | None, Stats]:
        if self.recon_weight == 0:
            return D(real), None, {}
        logits, feats = D(real, True)
        recon = self.reconstruct(feats, real)
        return logits, self.recon_weight * recon, {"D/recon": recon.detach()}
