"""CycleGAN's objective (Zhu et al. 2017): two adversarial games tied by cycle and identity terms, history pools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganvas.distributed import rank_purpose
from ganvas.objectives.base import Batch, Stats
from ganvas.objectives.pool import ImagePool
from ganvas.objectives.translation import TranslationObjective, check_batch
from ganvas.seeds import derive_seed

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.cyclegan import CycleGAN


class CycleGANObjective(TranslationObjective):
    """Both directions at once: two adversarial games, tied together by cycle and identity terms."""

    def __init__(self, model: CycleGAN, cfg: TrainConfig) -> None:
        super().__init__(model, cfg)
        o = model.options
        self.cycle_weight, self.identity_weight = o.cycle_weight, o.identity_weight
        # each rank of a run of several processes keeps its own pools, with its own random streams
        self.pools = {"A": ImagePool(o.pool_size, derive_seed(cfg.seed, rank_purpose("pool:A"))),
                      "B": ImagePool(o.pool_size, derive_seed(cfg.seed, rank_purpose("pool:B")))}
        self.augment = lambda x: x          # what the discriminators see of any image (issue 4's hook)
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def _translate(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.G(a), self.model.F(b)

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        check_batch(batch, self.model.name)
        a, b = batch["a"], batch["b"]
        if self.reuse:
            self._fakes = self._translate(a, b)
            fake_b, fake_a = (t.detach() for t in self._fakes)
        else:
            with torch.no_grad():
                fake_b, fake_a = self._translate(a, b)
        m, aug = self.model, self.augment
        loss_b, stats = self.judge(lambda x: m.D_B(aug(x)), b, self.pools["B"].query(fake_b), "D_B")
        loss_a, stats_a = self.judge(lambda x: m.D_A(aug(x)), a, self.pools["A"].query(fake_a), "D_A")
        self.d_steps += 1
        loss = loss_a + loss_b
        return loss, {"loss/D": loss.detach(), **stats, **stats_a}

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        m, aug = self.model, self.augment
        a, b = batch["a"], batch["b"]
        fakes, self._fakes = self._fakes, None
        fake_b, fake_a = fakes if fakes is not None else self._translate(a, b)
        adv = (self.g_adversarial(lambda x: m.D_B(aug(x)), fake_b, b)
               + self.g_adversarial(lambda x: m.D_A(aug(x)), fake_a, a))
        cycle = cycle_loss(m.G, m.F, a, b, fake_b, fake_a)
        loss = adv + self.cycle_weight * cycle
        stats: Stats = {"G/adv": adv.detach(), "G/cycle": cycle.detach()}
        if self.identity_weight > 0:
            idt = identity_loss(m.G, m.F, a, b)
            loss = loss + self.cycle_weight * self.identity_weight * idt
            stats["G/identity"] = idt.detach()
        return loss, {"loss/G": loss.detach(), **stats}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pools": {k: p.state_dict() for k, p in self.pools.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        for k, s in state.get("pools", {}).items():
            self.pools[k].load_state_dict(s)

    def reseed(self, seed: int) -> None:
        for k, p in self.pools.items():
            p.rng.manual_seed(derive_seed(seed, f"pool:{k}"))

    def tensor_state(self) -> dict[str, torch.Tensor]:
        return {f"pool_{k}": t for k, p in self.pools.items() if (t := p.tensor()) is not None}

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        for k, p in self.pools.items():
            p.load_tensor(tensors.get(f"pool_{k}"))


def cycle_loss(G: nn.Module, F: nn.Module, a: torch.Tensor, b: torch.Tensor,
               fake_b: torch.Tensor | None = None, fake_a: torch.Tensor | None = None) -> torch.Tensor:
    """|F(G(a)) − a|₁ + |G(F(b)) − b|₁, each the mean absolute difference per pixel and channel."""
    fake_b = G(a) if fake_b is None else fake_b
    fake_a = F(b) if fake_a is None else fake_a
    return (F(fake_b) - a).abs().mean() + (G(fake_a) - b).abs().mean()


def identity_loss(G: nn.Module, F: nn.Module, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|G(b) − b|₁ + |F(a) − a|₁: a generator given an image already in its output domain should leave it be."""
    return (G(b) - b).abs().mean() + (F(a) - a).abs().mean()
