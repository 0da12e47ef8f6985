"""Objectives of text generators: maximum likelihood, and an adversarial fine-tune that keeps it.

Language GANs rarely beat a maximum-likelihood model once its temperature is swept (Caccia et al.,
"Language GANs Falling Short", 2018), so likelihood is the default path and the adversarial one is an
option measured against it. Both go through the same loop: a likelihood step is a G step without D
steps (`trains_discriminator` is False), so checkpoints, resume, logs and torchrun work unchanged.

The adversarial phase relaxes G's samples with the straight-through Gumbel-softmax (hard tokens
forward, the relaxed distribution's gradient backward) rather than a policy gradient: it needs no
rollouts (SeqGAN's Monte-Carlo rollouts cost seconds per update on this CPU) and no reward baseline,
and the likelihood term kept beside it (``mle_weight``) anchors G to the data. A collapse guard
(ganvas/eval/text_guard.py) rolls back to the best held-out likelihood when the fine-tune hurts it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional as F

from ganvas.objectives.base import Batch, Objective, Stats
from ganvas.objectives.losses import get_loss

if TYPE_CHECKING:
    from ganvas.config import TrainConfig

PAD = 0         # the padding token id of every text vocabulary (ganvas.text.vocab)


class LikelihoodObjective(Objective):
    """Cross-entropy of every text token and <eos> given the codes (with code dropout) and the text before it."""

    def __init__(self, model: Any, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        self.model = model
        self.rng = latent_rng               # code dropout draws from the run's checkpointed latent stream
        self.g_steps = 0

    @property
    def trains_discriminator(self) -> bool:
        return False

    def likelihood(self, batch: Batch) -> torch.Tensor:
        x = batch["x"]
        codes = self.model.code_tokens(batch.get("y"), x.shape[0], self.rng, self.model.options.code_dropout)
        logits = self.model.teacher_logits(x, codes)
        return F.cross_entropy(logits.transpose(1, 2).float(), x, ignore_index=PAD)

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        nll = self.likelihood(batch)
        self.g_steps += 1
        return nll, {"loss/G": nll.detach(), "nll": nll.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"g_steps": self.g_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g_steps = int(state.get("g_steps", 0))


class TextAdversarialObjective(LikelihoodObjective):
    """`mle_steps` of likelihood, then D (real one-hots against relaxed samples) and G (adversarial loss +
    ``mle_weight`` × likelihood), under the run's loss (``ns`` by default)."""

    def __init__(self, model: Any, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        super().__init__(model, cfg, latent_rng)
        self.loss = get_loss(cfg.loss)
        opts = model.options
        self.mle_steps, self.mle_weight, self.tau = opts.mle_steps, opts.mle_weight, opts.gumbel_tau

    @property
    def trains_discriminator(self) -> bool:
        return self.g_steps >= self.mle_steps

    def fakes(self, batch: Batch) -> torch.Tensor:
        x = batch["x"]
        codes = self.model.code_tokens(batch.get("y"), x.shape[0], self.rng, self.model.options.code_dropout)
        return self.model.relaxed_sample(codes, x.shape[1], self.tau, self.rng)

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        with torch.no_grad():
            fake = self.fakes(batch)
        real_logits = self.model.D(self.model.onehots(batch["x"]))
        fake_logits = self.model.D(fake)
        loss = self.loss.d(real_logits, fake_logits)
        return loss, {"loss/D": loss.detach(), "D/real": real_logits.detach().mean(),
                      "D/fake": fake_logits.detach().mean()}

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        if not self.trains_discriminator:
            return super().g_loss(batch)
        adv = self.loss.g_loss(self.model.D(self.fakes(batch)), None)
        nll = self.likelihood(batch)
        self.g_steps += 1
        return adv + self.mle_weight * nll, {"loss/G": adv.detach(), "nll": nll.detach()}
