"""The classic adversarial game as an objective: D's step on real against generated, G's step through D."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from ganvas.accel import twice_differentiable
from ganvas.objectives.augment import Augment, build_augment
from ganvas.objectives.base import Batch, Objective, Stats
from ganvas.objectives.losses import get_loss
from ganvas.objectives.penalties import gradient_penalty, r1_penalty, r2_penalty

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.base import GanModel


class AdversarialObjective(Objective):
    """The classic game: D tells real from generated, G tries to fool D, under a chosen loss.

    With one D step per G step, the fake batch made for D's step is reused for G's step (as the
    reference DCGAN does): one generator forward per iteration instead of two. Every image D sees,
    real or generated, goes through `augment` (config field ``augment``); adaptive augmentations
    get D's real logits after each D step. Zero-centred R1 (on reals) and R2 (on fakes) apply lazily,
    every `r1_every` D steps, to any loss; a relativistic loss (``rpgan``) also gets D's logits on the
    batch's reals in G's step, and only then does G's step pass the reals through D.
    """

    def __init__(self, model: GanModel, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        self.model = model
        self.loss = get_loss(cfg.loss)
        self.gp_weight = cfg.gp_weight
        self.r1_gamma = cfg.r1_gamma
        self.r2_gamma = cfg.r2_gamma
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

    def judge_real(self, D: Callable[..., torch.Tensor], real: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor | None, Stats]:
        """D's logits on the (augmented) reals, and any loss of D's own on them (None: none).

        A model whose D has more to learn from reals than real/fake (FastGAN's reconstruction) overrides
        this and gets them in the same forward pass.
        """
        return D(real), None, {}

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        real = batch["x"]
        if self.reuse_fake:
            self._fake = self._fake_batch(real.shape[0], "D")
            fake = self._fake.detach()
        else:
            with torch.no_grad():
                fake = self._fake_batch(real.shape[0], "D")
        lazy = self.d_steps % self.r1_every == 0          # R1 and R2 share the lazy schedule
        r1_now, r2_now = self.r1_gamma > 0 and lazy, self.r2_gamma > 0 and lazy
        D = self.model.D
        if r1_now or r2_now or self.loss.gradient_penalty:    # gradients of gradients: eagerly, in float32 (accel)
            D, fake = twice_differentiable(D), fake.float()
        if r1_now:
            real = real.detach().requires_grad_(True)
        if r2_now:
            fake = fake.detach().requires_grad_(True)
        real_logits, own, own_stats = self.judge_real(D, self.augment(real))
        fake_logits = D(self.augment(fake))
        self.augment.observe(real_logits)
        adv = self.loss.d(real_logits, fake_logits)
        loss = adv
        stats: Stats = {"loss/D": adv.detach(), "D/real": real_logits.detach().mean(),
                        "D/fake": fake_logits.detach().mean(), **self.augment.stats(), **own_stats}
        if own is not None:
            loss = loss + own
        if self.loss.gradient_penalty:
            gp = gradient_penalty(lambda x: D(self.augment(x)), real, fake)
            loss = loss + self.gp_weight * gp
            stats["D/gp"] = gp.detach()
        if r1_now:
            r1 = r1_penalty(real_logits, real)
            loss = loss + (self.r1_gamma / 2) * self.r1_every * r1
            stats["D/r1"] = r1.detach()
        if r2_now:
            r2 = r2_penalty(fake_logits, fake)
            loss = loss + (self.r2_gamma / 2) * self.r1_every * r2
            stats["D/r2"] = r2.detach()
        self.d_steps += 1
        return loss, stats

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        fake, self._fake = self._fake, None
        if fake is None:
            fake = self._fake_batch(batch["x"].shape[0], "G")
        D = self.model.D
        fake_logits = D(self.augment(fake))
        real_logits = None
        if self.loss.relativistic:          # only a relativistic loss pays for D's pass over the reals
            with torch.no_grad():           # G's gradient flows through the fakes alone
                real_logits = D(self.augment(batch["x"]))
        loss = self.loss.g_loss(fake_logits, real_logits)
        return loss, {"loss/G": loss.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps, "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))
        self.augment.load_state_dict(state.get("augment", {}))
