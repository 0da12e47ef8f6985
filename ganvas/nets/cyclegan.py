"""`cyclegan`: unpaired image-to-image translation (Zhu, Park, Isola and Efros 2017).

Two generators, G: A → B and F: B → A, and two PatchGAN discriminators, D_B (is this a real B or
G's?) and D_A. With no pairs to compare against, what keeps a translation faithful to its input is
cycle consistency: F(G(a)) should give a back and G(F(b)) b. An identity term (G(b) ≈ b, F(a) ≈ a)
keeps colours from drifting when nothing else forbids it. With the config's loss (least squares,
``lsgan``, in the paper and by default here):

    L_G = adv(D_B(G(a))) + adv(D_A(F(b))) + λ · (|F(G(a)) − a|₁ + |G(F(b)) − b|₁)
          + λ · λ_id · (|G(b) − b|₁ + |F(a) − a|₁)
    L_D = ½ · adv_D(D_B(b), D_B(pool_B(G(a)))) + ½ · adv_D(D_A(a), D_A(pool_A(F(b))))

where each pool is a history of 50 earlier translations (`train/pool.py`), checkpointed with the
run. The generators are ResNets (Johnson et al. 2016): a 7×7 stem, two stride-2 downsamplings, 6
residual blocks up to 128 px (9 from 256 px), two transposed-convolution upsamplings and a 7×7 tanh
head, reflection padding and instance normalisation throughout; N(0, 0.02) initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, init_normal
from ganvas.nets.translation import (
    PatchDiscriminator,
    TranslationModel,
    TranslationObjective,
    check_batch,
    patch_layers,
)
from ganvas.train.distributed import rank_purpose
from ganvas.train.objective import Batch, Objective, Stats
from ganvas.train.pool import ImagePool

if TYPE_CHECKING:
    from ganvas.config import TrainConfig


@dataclass
class CycleGANOptions:
    ngf: int = option(64, "G width after the stem; 2× and 4× after the downsamplings; >= 1", min=1)
    ndf: int = option(64, "D width at its first layer; doubles up to 8×; >= 1", min=1)
    n_blocks: int = option(0, "residual blocks in each G; 0 = the paper's choice: 6 up to 128 px, 9 above", min=0)
    d_layers: int = option(0, "PatchGAN stride-2 layers: 1, 2, 3 → 16, 34, 70 px patches; 0 = scaled to the "
                              "resolution like 70×70 at 256 px (64 px → 1, 128 px → 2)", min=0)
    cycle_weight: float = option(10.0, "λ, the weight of the cycle-consistency L1 terms (the paper's 10); >= 0", min=0)
    identity_weight: float = option(0.5, "λ_id, the identity terms' weight relative to λ (the paper's 0.5); 0 = off",
                                    min=0)
    pool_size: int = option(50, "earlier translations kept for each D to judge (the paper's 50); 0 = none", min=0)


class ResidualBlock(nn.Module):
    def __init__(self,
                 width: int,            # channels in and out
                 ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(width, width, 3), nn.InstanceNorm2d(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    def __init__(self,
                 channels: int,         # image channels of input and output
                 ngf: int,              # width after the stem
                 n_blocks: int,         # residual blocks at a quarter of the resolution
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(channels, ngf, 7), nn.InstanceNorm2d(ngf),
                                   nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * mult * 2),
                       nn.ReLU(True)]
        layers += [ResidualBlock(ngf * 4) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGAN(TranslationModel):
    name = "cyclegan"
    Options = CycleGANOptions
    data_layout = "unpaired"
    generator_names = ("G", "F")            # G: A → B, F: B → A (the paper's names)
    discriminator_names = ("D_A", "D_B")    # D_B judges G's outputs among real B, D_A F's among real A
    directions = {"AtoB": "G", "BtoA": "F"}
    # NCHW: channels-last measured 6–11% more CPU time per image for these nets (bench/translation_speed.py)
    config_defaults: dict[str, Any] = {"loss": "lsgan", "sample_count": 16, "batch_size": 4, "channels_last": False}

    def __init__(self, spec: DataSpec, options: CycleGANOptions) -> None:
        super().__init__(spec, options)
        ch, side = spec.shape[0], spec.shape[1]
        blocks = options.n_blocks or (6 if side <= 128 else 9)
        layers = options.d_layers or patch_layers(side)
        self.G = ResNetGenerator(ch, options.ngf, blocks)
        self.F = ResNetGenerator(ch, options.ngf, blocks)
        self.D_A = PatchDiscriminator(ch, options.ndf, layers)
        self.D_B = PatchDiscriminator(ch, options.ndf, layers)
        init_normal(self)

    def rows(self, grid_input: dict[str, torch.Tensor], nets: dict[str, nn.Module]) -> list[torch.Tensor]:
        """a | G(a) | F(G(a)) triptychs, then b | F(b) | G(F(b)): each direction and its round trip."""
        G, F = nets["G"], nets["F"]
        a, b = grid_input["a"], grid_input["b"]
        ga, fb = G(a), F(b)
        return [torch.cat([a, b]), torch.cat([ga, fb]), torch.cat([F(ga), G(fb)])]

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        return CycleGANObjective(self, cfg)


class CycleGANObjective(TranslationObjective):
    """Both directions at once: two adversarial games, tied together by cycle and identity terms."""

    def __init__(self, model: CycleGAN, cfg: TrainConfig) -> None:
        from ganvas.train.loop import derive_seed

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
        adv = self.g_adversarial(lambda x: m.D_B(aug(x)), fake_b) + self.g_adversarial(lambda x: m.D_A(aug(x)), fake_a)
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
        from ganvas.train.loop import derive_seed

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
