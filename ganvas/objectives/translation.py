"""The discriminators' side of a translation game (pix2pix, CycleGAN): halved adversarial losses and penalties."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError
from ganvas.objectives.base import Batch, Objective, Stats
from ganvas.objectives.losses import get_loss
from ganvas.objectives.penalties import DPenalties

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.translation import TranslationModel


class TranslationObjective(Objective):
    """The discriminators' side of a translation game, with the config's loss and regularisers.

    As in pix2pix and CycleGAN, each discriminator's adversarial loss is halved, which slows D
    relative to G. With one D step per G step the translated batch made for D's step is reused for
    G's step (one generator pass per iteration), as `AdversarialObjective` does.
    """

    def __init__(self, model: TranslationModel, cfg: TrainConfig) -> None:
        self.model = model
        self.loss = get_loss(cfg.loss)
        self.penalties = DPenalties.from_config(cfg, self.loss.gradient_penalty)
        self.reuse = cfg.n_critic == 1
        self.d_steps = 0

    def judge(self, D: Any, real: torch.Tensor, fake: torch.Tensor, name: str) -> tuple[torch.Tensor, Stats]:
        """Discriminator `D`'s loss on real against translated images (`D` maps images to logits)."""
        D, real, fake, now = self.penalties.inputs(D, real, fake, self.d_steps)
        real_logits, fake_logits = D(real), D(fake)
        adv = 0.5 * self.loss.d(real_logits, fake_logits)
        stats: Stats = {f"loss/{name}": adv.detach(), f"{name}/real": real_logits.detach().mean(),
                        f"{name}/fake": fake_logits.detach().mean()}
        loss = self.penalties.add(adv, stats, name, D, real, fake, real_logits, fake_logits, now)
        return loss, stats

    def g_adversarial(self, D: Any, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """G's adversarial loss through `D`; a relativistic loss also sees D's logits on `real` (no gradient)."""
        fake_logits, real_logits = D(fake), None
        if self.loss.relativistic:
            with torch.no_grad():
                real_logits = D(real)
        return self.loss.g_loss(fake_logits, real_logits)

    def state_dict(self) -> dict[str, Any]:
        return {"d_steps": self.d_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_steps = int(state.get("d_steps", 0))


def check_batch(batch: Batch, model: str) -> None:
    if "a" not in batch or "b" not in batch:
        raise GanvasError(f"model '{model}' needs batches of domains a and b, got {sorted(batch)}")
