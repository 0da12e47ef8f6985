"""`dcgan`: the deep convolutional GAN of Radford, Metz and Chintala (2015).

All-convolutional G and D, BatchNorm everywhere except G's output and D's input, ReLU in G and
LeakyReLU(0.2) in D, weights initialised from N(0, 0.02). The number of up/down-sampling stages
follows the resolution (any power of two from 32 to 128); widths double at each stage away from the
image, as in the paper's 64×64 design (ngf·8 → ngf·4 → ngf·2 → ngf).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, GanModel, image_side, init_normal
from ganvas.nets.conditional import Projection, condition_norms, set_class, split_code

RESOLUTIONS = (32, 64, 128)


@dataclass
class DCGANOptions:
    z_dim: int = option(100, "length of the latent code z; >= 1", min=1)
    ngf: int = option(64, "G width at the last stage; earlier stages double it; >= 1", min=1)
    ndf: int = option(64, "D width at the first stage; later stages double it; >= 1", min=1)


class Generator(nn.Module):
    def __init__(self,
                 z_dim: int,            # latent code length
                 ngf: int,              # channels of the last (largest) feature map
                 resolution: int,       # output side: a power of two, 32..128
                 channels: int = 3,     # output image channels
                 num_classes: int = 0,  # classes it is conditioned on (0: none): class-conditional BatchNorm
                 ) -> None:
        super().__init__()
        stages = int(math.log2(resolution)) - 2            # 4×4 → resolution, doubling each stage
        width = ngf * 2 ** (stages - 1)
        self.num_classes = num_classes
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.z_dim = z_dim
        if num_classes:
            condition_norms(self.net, num_classes)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z.flatten(1)
        if self.num_classes:
            z, c = split_code(z, self.num_classes)
            set_class(self.net, c)
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    def __init__(self,
                 ndf: int,              # channels of the first feature map
                 resolution: int,       # input side: a power of two, 32..128
                 channels: int = 3,     # input image channels
                 num_classes: int = 0,  # classes it is conditioned on (0: none): a projection on the 4×4 features
                 ) -> None:
        super().__init__()
        stages = int(math.log2(resolution)) - 2            # resolution → 4×4, halving each stage
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        width = ndf
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        self.project = Projection(num_classes, width) if num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (the loss applies the sigmoid); `c`: class weights, for a conditional D."""
        if self.project is None:
            return self.net(x).flatten()
        features = self.net[:-1](x)
        return self.net[-1](features).flatten() + self.project(features, c)


class DCGAN(GanModel):
    name = "dcgan"
    Options = DCGANOptions
    default_resolution = 64
    resolutions = RESOLUTIONS
    can_condition = True
    ganspace_layer = "net.2"            # after the first transposed convolution, BatchNorm and ReLU (4×4)

    def __init__(self, spec: DataSpec, options: DCGANOptions) -> None:
        super().__init__(spec, options)
        res, ch = spec.shape[1], spec.shape[0]
        self.G = Generator(options.z_dim, options.ngf, res, ch, self.num_classes)
        self.D = Discriminator(options.ndf, res, ch, self.d_classes)
        init_normal(self)

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        image_side(spec, cls.name, RESOLUTIONS)
