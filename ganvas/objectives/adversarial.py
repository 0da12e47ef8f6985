"""The classic adversarial game as an objective: D's step on real against generated, G's step through D."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ganvas.accel import twice_differentiable
from ganvas.objectives.augment import Augment, build_augment
from ganvas.objectives.base import Batch, Objective, Stats
from ganvas.objectives.losses import get_loss
from ganvas.objectives.penalties import gradient_penalty, r1_penalty

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.base import GanModel


class AdversarialObjective(Objective):
    """The classic game: D tells real from generated, G tries to fool D, under a chosen loss.

    With one D step per G step, the fake batch made for D's step is reused for G's step (as the
    reference DCGAN does): one generator forward per iteration instead of two. Every image D sees,
    real or generated, goes through `augment` (config field ``augment``); adaptive augmentations
    get D's real logits after each D step.
    """

    def __init__(self, model: GanModel, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        self.model = model
        self.loss = get_loss(cfg.loss)
        self.gp_weight = cfg.gp_weight
        self.r1_gamma = cfg.r1_gamma
        self.r1_every = cfg.r1_every
        self.latent_rng = latent_rng
        self.reuse_fake = cfg.n_critic == 1
        self.augment: Augment = build_augment(cfg, model.spec.domain)      # what D sees of any image
        self.d_steps = 0
        self._fake: torch.Tensor | None = None

    def _fake_batch(self, n: int, phase: str) -> torch.Tensor:
        """`n` generated samples for D's step (phase "D") or G's step ("G")."""
        z = self.model.sample_latent(n, self.latent_rng)
        return self.model.generate(z)

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        real = batch["x"]
        if self.reuse_fake:
            self._fake = self._fake_batch(real.shape[0], "D")
            fake = self._fake.detach()
        else:
            with torch.no_grad():
                fake = self._fake_batch(real.shape[0], "D")
        r1_now = self.r1_gamma > 0 and self.d_steps % self.r1_every == 0
        if r1_now:
            real = real.detach().requires_grad_(True)
        D = self.model.D
        if r1_now or self.loss.gradient_penalty:    # gradients of gradients: eagerly, in float32 (accel)
            D, fake = twice_differentiable(D), fake.float()
        real_logits, fake_logits = D(self.augment(real)), D(self.augment(fake))
        self.augment.observe(real_logits)
        adv = self.loss.d(real_logits, fake_logits)
        loss = adv
        stats: Stats = {"loss/D": adv.detach(), "D/real": real_logits.detach().mean(),
                        "D/fake": fake_logits.detach().mean(), **self.augment.stats()}
        if self.loss.gradient_penalty:
            gp = gradient_penalty(lambda x: D(self.augment(x)), real, fake)
            loss = loss + self.gp_weight * gp
            stats["D/gp"] = gp.detach()
        if r1_now:
            r1 = r1_penalty(real_logits, real)
            loss = loss + (self.r1_gamma / 2) * self.r1_every * r1
            stats["D/r1"] = r1.detach()
        self.d_steps += 1
        return loss, stats

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        fake, self._fake = self._fake, None
        if fake is None:
            fake = self._fake_batch(batch["x"].shape[0], "G")
        loss = self.loss.g(self.model.D(self.augment(fake)))
        return loss, {"loss/G": loss.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.augment.load_state_dict(state.get("augment", {}))
