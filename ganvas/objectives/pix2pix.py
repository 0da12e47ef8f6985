"""pix2pix's objective (Isola et al. 2017): a conditional D on (input, output) pairs, and G's L1 to the target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ganvas.objectives.base import Batch, Stats
from ganvas.objectives.translation import TranslationObjective, check_batch

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.pix2pix import Pix2Pix


class Pix2PixObjective(TranslationObjective):
    """D judges (input, output) pairs; G fools it while staying within L1 reach of the target."""

    def __init__(self, model: Pix2Pix, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.l1_weight = model.options.l1_weight
        self._fake: torch.Tensor | None = None

    def _judge_fn(self, a: torch.Tensor):
        return lambda x: self.model.D(torch.cat([a, x], 1))

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        check_batch(batch, self.model.name)
        a, b = batch["a"], batch["b"]
        if self.reuse:
            self._fake = self.model.G(a)
            fake = self._fake.detach()
        else:
            with torch.no_grad():
                fake = self.model.G(a)
        loss, stats = self.judge(self._judge_fn(a), b, fake, "D")
        self.d_steps += 1
        return loss, stats

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        a, b = batch["a"], batch["b"]
        fake, self._fake = self._fake, None
        if fake is None:
            fake = self.model.G(a)
        adv = self.g_adversarial(self._judge_fn(a), fake, b)
        l1 = (fake - b).abs().mean()
        loss = adv + self.l1_weight * l1
        return loss, {"loss/G": loss.detach(), "G/adv": adv.detach(), "G/L1": l1.detach()}
