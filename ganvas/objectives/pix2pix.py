"""pix2pix's objective (Isola et al. 2017): a conditional D on (input, output) pairs, and G's L1 to the target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ganvas.distributed import rank_purpose
from ganvas.objectives.base import Batch, Stats
from ganvas.objectives.translation import TranslationObjective, check_batch
from ganvas.registry import INPUT_AUGMENTS
from ganvas.seeds import derive_seed

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.pix2pix import Pix2Pix


class Pix2PixObjective(TranslationObjective):
    """D judges (input, output) pairs; G fools it while staying within L1 reach of the target.

    With ``input_augment`` (e.g. strokes, for sketches) each batch's inputs are augmented once, in
    D's step, and the same augmented inputs serve G's step: D and G judge the same pairs.
    """

    def __init__(self, model: Pix2Pix, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        self.l1_weight = model.options.l1_weight
        self._fake: torch.Tensor | None = None
        # each rank of a run of several processes augments its own share, from its own stream
        self.input_augment = INPUT_AUGMENTS.get(model.options.input_augment)(
            derive_seed(cfg.seed, rank_purpose("input_augment")))
        self._a: tuple[torch.Tensor, torch.Tensor] | None = None     # (batch input, its augmented copy)

    def _input(self, a: torch.Tensor) -> torch.Tensor:
        """The batch's input as G sees it: augmented once per batch (D's and G's steps share it)."""
        if self.input_augment.name == "none":
            return a
        if self._a is None or self._a[0] is not a:
            self._a = (a, self.input_augment(a))
        return self._a[1]

    def _judge_fn(self, a: torch.Tensor):
        return lambda x: self.model.D(torch.cat([a, x], 1))

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        check_batch(batch, self.model.name)
        a, b = self._input(batch["a"]), batch["b"]
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
        a, b = self._input(batch["a"]), batch["b"]
        fake, self._fake = self._fake, None
        if fake is None:
            fake = self.model.G(a)
        adv = self.g_adversarial(self._judge_fn(a), fake, b)
        l1 = (fake - b).abs().mean()
        loss = adv + self.l1_weight * l1
        return loss, {"loss/G": loss.detach(), "G/adv": adv.detach(), "G/L1": l1.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "input_augment": self.input_augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.input_augment.load_state_dict(state.get("input_augment", {}))

    def reseed(self, seed: int) -> None:
        self.input_augment.reseed(derive_seed(seed, "input_augment"))
