"""`pix2pix`: paired image-to-image translation (Isola, Zhu, Zhou and Efros 2017).

G is a U-Net: an encoder that halves the image down to 1×1 and a decoder that doubles it back, each
decoder stage also fed the encoder's features of the same size (skip connections), so the fine
structure of the input (where the strokes of a character are) reaches the output directly. D is a
conditional PatchGAN: it sees the input beside a real or translated output and judges every
patch, which models texture and style, while an L1 term pulls the whole output towards the target:

    L_G = adv(D(a, G(a))) + λ · |G(a) − b|₁         L_D = ½ · adv_D(D(a, b), D(a, G(a)))

Widths follow the paper (64 → 512, capped at 8× ngf); dropout 0.5 in the decoder stages next to
the bottleneck (three at 256 px, fewer at smaller sizes); LeakyReLU(0.2) down, ReLU up, tanh out;
N(0, 0.02) initialisation. Instance normalisation (see `nets/translation.py`). At inference the
weight-averaged G runs in eval mode, so dropout is off and a translation is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, init_normal
from ganvas.nets.translation import PatchDiscriminator, TranslationModel, patch_layers
from ganvas.registry import INPUT_AUGMENTS, Choices

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective


@dataclass
class Pix2PixOptions:
    ngf: int = option(64, "G width at the outermost stage; doubles inwards up to 8×; >= 1", min=1)
    ndf: int = option(64, "D width at its first layer; doubles up to 8×; >= 1", min=1)
    d_layers: int = option(0, "PatchGAN stride-2 layers: 1, 2, 3 → 16, 34, 70 px patches; 0 = scaled to the "
                              "resolution like 70×70 at 256 px (64 px → 1, 128 px → 2)", min=0)
    l1_weight: float = option(100.0, "λ, the weight of the L1 distance to the target (the paper's 100); >= 0", min=0)
    dropout: bool = option(True, "dropout 0.5 in the decoder stages next to the bottleneck, as in the paper")
    input_augment: str = option("none", "{choices}: what G's input goes through in training; strokes: thickness, "
                                        "jitter and dropped segments of drawn lines, so a sketch model answers "
                                        "freehand drawings (ganvas/objectives/strokes.py)",
                                choices=Choices(INPUT_AUGMENTS))


class UNetGenerator(nn.Module):
    def __init__(self,
                 channels: int,         # image channels of input and output
                 ngf: int,              # width of the outermost encoder stage
                 depth: int,            # encoder stages: log2(side), down to 1×1
                 dropout: bool,         # dropout 0.5 in the decoder stages next to the bottleneck
                 ) -> None:
        super().__init__()
        widths = [ngf * min(2 ** i, 8) for i in range(depth)]
        self.down = nn.ModuleList()
        for i in range(depth):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1))
            if 0 < i < depth - 1:                       # no norm on the image, none on the 1×1 bottleneck
                layers.append(nn.InstanceNorm2d(widths[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            into = widths[i] * (1 if i == depth - 1 else 2)     # the stage below, joined with its skip
            out = channels if i == 0 else widths[i - 1]
            layers = [nn.ReLU(True), nn.ConvTranspose2d(into, out, 4, 2, 1)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.InstanceNorm2d(out))
                if dropout and 4 <= i <= depth - 2:
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        skips.pop()
        for i, stage in enumerate(self.up):
            x = stage(x if i == 0 else torch.cat([x, skips.pop()], 1))
        return x


class Pix2Pix(TranslationModel):
    name = "pix2pix"
    Options = Pix2PixOptions
    data_layout = "paired"
    directions = {"AtoB": "G"}
    # NCHW: channels-last measured 0–12% more CPU time per pair for these nets (bench/translation_speed.py)
    config_defaults: dict[str, Any] = {"loss": "ns", "sample_count": 16, "batch_size": 16, "channels_last": False}

    def __init__(self, spec: DataSpec, options: Pix2PixOptions) -> None:
        super().__init__(spec, options)
        ch, side = spec.shape[0], spec.shape[1]
        self.G = UNetGenerator(ch, options.ngf, side.bit_length() - 1, options.dropout)
        self.D = PatchDiscriminator(2 * ch, options.ndf, options.d_layers or patch_layers(side))
        init_normal(self)

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        from ganvas.objectives.pix2pix import Pix2PixObjective

        return Pix2PixObjective(self, cfg)
