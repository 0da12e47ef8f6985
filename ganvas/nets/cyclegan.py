"""`cyclegan`: unpaired image-to-image translation (Zhu, Park, Isola and Efros 2017).

Two generators, G: A → B and F: B → A, and two PatchGAN discriminators, D_B (is this a real B or
G's?) and D_A. With no pairs to compare against, what keeps a translation faithful to its input is
cycle consistency: F(G(a)) should give a back and G(F(b)) b. An identity term (G(b) ≈ b, F(a) ≈ a)
keeps colours from drifting when nothing else forbids it. With the config's loss (least squares,
``lsgan``, in the paper and by default here):

    L_G = adv(D_B(G(a))) + adv(D_A(F(b))) + λ · (|F(G(a)) − a|₁ + |G(F(b)) − b|₁)
          + λ · λ_id · (|G(b) − b|₁ + |F(a) − a|₁)
    L_D = ½ · adv_D(D_B(b), D_B(pool_B(G(a)))) + ½ · adv_D(D_A(a), D_A(pool_A(F(b))))

where each pool is a history of 50 earlier translations (`objectives/pool.py`), checkpointed with the
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
from ganvas.nets.translation import PatchDiscriminator, TranslationModel, patch_layers

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective


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
        from ganvas.objectives.cyclegan import CycleGANObjective

        return CycleGANObjective(self, cfg)
