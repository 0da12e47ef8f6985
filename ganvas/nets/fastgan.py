"""`fastgan`: a small-data GAN after FastGAN (Liu, Zhu, Song and Elgammal, ICLR 2021), sized for a CPU.

Two ideas of the paper make a light GAN learn from a few hundred to a few thousand images:

- skip-layer excitation (SLE) in G: a low-resolution feature map, pooled to 4×4 and squeezed by a
  4×4 convolution to one number per channel, gates (sigmoid) every channel of a feature map
  `sle_jump` times larger. Gradients reach the early layers by a short path, and the coarse layout
  switches the fine features on and off (the paper's style-content split);
- a self-supervised D: beside its real/fake logit, D's 8×8 features must reconstruct the whole
  (augmented) real image and its 16×16 features a random quarter of it, through small decoders.
  D must keep a description of the picture, not only the few cues that tell real from fake, which
  keeps it from overfitting a small set. The paper scores the reconstructions with a perceptual
  (LPIPS) distance; no pretrained network is available offline, so ganvas uses L1 + (1 − SSIM)
  (`ganvas.objectives.fastgan`).

How it departs from the paper, for a CPU budget: widths follow StyleGAN2's rule
min(channel_base / side, channel_max) instead of the paper's 16·ngf at 4×4; one 3×3 convolution per
up-sampling block above `deep_until` px (two below, where it is cheap), each conv + BatchNorm + GLU
computed as two half-width convolutions (the same function, faster on a CPU: `GatedConv`); no noise
inputs; D has no normalisation layers (the zero-centred R1 and R2 of the usual `rpgan` recipe
regularise it instead of spectral normalisation) and ends in one logit per image; the decoders are
`decoder_channels` wide and output `recon_side` px, not 128.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, GanModel, image_side, init_normal, normal_latent
from ganvas.nets.conditional import Projection, condition_norms, set_class, split_code

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective

RESOLUTIONS = (32, 64, 128, 256)


@dataclass
class FastGANOptions:
    z_dim: int = option(128, "length of the latent code z; >= 1", min=1)
    g_channel_base: int = option(1024, "G width rule: a block at side s has min(g_channel_base / s, channel_max) "
                                       "channels (at least channel_min); >= 1", min=1)
    d_channel_base: int = option(1024, "D width rule, as g_channel_base; >= 1", min=1)
    channel_max: int = option(256, "widest layer of G and D; >= 1", min=1)
    channel_min: int = option(16, "narrowest layer of G and D; >= 1", min=1)
    deep_until: int = option(16, "G blocks up to this side have two 3×3 convolutions, larger ones one; >= 4", min=4)
    sle_jump: int = option(8, "skip-layer excitation: the map at side s gates the one at side jump·s "
                              "(the paper: 16 at 1024 px): 4 | 8 | 16", choices=(4, 8, 16))
    decoder_channels: int = option(16, "width of D's reconstruction decoders; >= 1", min=1)
    recon_side: int = option(32, "side of the decoders' outputs: 16 | 32 | 64 | 128 (cut to half the resolution "
                                 "when larger)", choices=(16, 32, 64, 128))
    recon_weight: float = option(1.0, "weight of D's reconstruction loss (L1 + 1 − SSIM) on reals; 0 = off", min=0)


def widths(base: int, opts: FastGANOptions) -> Callable[[int], int]:
    """Channels of a feature map at side s, by StyleGAN2's rule (clamped to [channel_min, channel_max])."""
    return lambda s: max(opts.channel_min, min(base // s, opts.channel_max))


# --- the generator ------------------------------------------------------------------------------


class SkipLayerExcitation(nn.Module):
    """Channel gates for a high-resolution map from a low-resolution one: pool to 4×4, conv, sigmoid."""

    def __init__(self,
                 low_channels: int,     # channels of the low-resolution (gating) map
                 high_channels: int,    # channels of the high-resolution (gated) map
                 ) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(low_channels, high_channels, 4),
                                  nn.SiLU(), nn.Conv2d(high_channels, high_channels, 1), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)                         # [N, C, 1, 1] gates broadcast over the map


class GatedConv(nn.Module):
    """3×3 conv + BatchNorm + gated linear unit: value · σ(gate), each half its own conv and BatchNorm.

    The same function as one convolution to twice the channels followed by BatchNorm and GLU, but on
    a CPU with channels-last tensors GLU's gradient comes back in the other memory layout and sends
    BatchNorm's backward down a slow path; two halves keep every tensor channels-last (measured 1.5–2×
    faster per block at 32–64 px).
    """

    def __init__(self,
                 in_ch: int,            # input channels
                 out_ch: int,           # output channels (each half has as many)
                 ) -> None:
        super().__init__()
        self.value = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(out_ch))
        self.gate = nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value(x) * torch.sigmoid(self.gate(x))


class UpBlock(nn.Module):
    """Nearest-neighbour 2× upsampling, then one or two 3×3 conv + BN + GLU."""

    def __init__(self,
                 in_ch: int,            # input channels
                 out_ch: int,           # output channels
                 depth: int,            # 3×3 convolutions: 1 or 2
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Upsample(scale_factor=2, mode="nearest"), GatedConv(in_ch, out_ch)]
        layers += [GatedConv(out_ch, out_ch) for _ in range(depth - 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Generator(nn.Module):
    def __init__(self,
                 resolution: int,       # output side: 32 | 64 | 128 | 256
                 img_channels: int,     # output image channels
                 opts: FastGANOptions,  # widths, depth, skip-layer excitation
                 num_classes: int = 0,  # classes it is conditioned on (0: none): class-conditional BatchNorm
                 ) -> None:
        super().__init__()
        width = widths(opts.g_channel_base, opts)
        self.z_dim = opts.z_dim
        self.num_classes = num_classes
        self.init = nn.Sequential(nn.ConvTranspose2d(opts.z_dim, 2 * width(4), 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(2 * width(4)), nn.GLU(dim=1))          # z → 4×4
        self.sides = [2 ** k for k in range(3, int(math.log2(resolution)) + 1)]       # 8 … resolution
        self.blocks = nn.ModuleDict({str(s): UpBlock(width(s // 2), width(s), 2 if s <= opts.deep_until else 1)
                                     for s in self.sides})
        self.sle_pairs = {s * opts.sle_jump: s for s in [4, *self.sides] if s * opts.sle_jump <= resolution}
        self.sle = nn.ModuleDict({str(hi): SkipLayerExcitation(width(lo), width(hi))
                                  for hi, lo in self.sle_pairs.items()})
        self.to_rgb = nn.Sequential(nn.Conv2d(width(resolution), img_channels, 3, 1, 1), nn.Tanh())
        if num_classes:
            condition_norms(self, num_classes)

    def features(self, z: torch.Tensor) -> dict[int, torch.Tensor]:
        """Every feature map by side, after skip-layer excitation (4 … resolution)."""
        z = z.flatten(1)
        if self.num_classes:
            z, c = split_code(z, self.num_classes)
            set_class(self, c)
        feats = {4: self.init(z.reshape(z.shape[0], -1, 1, 1))}
        x = feats[4]
        for s in self.sides:
            x = self.blocks[str(s)](x)
            if s in self.sle_pairs:
                x = self.sle[str(s)](feats[self.sle_pairs[s]], x)
            feats[s] = x
        return feats

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_rgb(self.features(z)[self.sides[-1]])


# --- the discriminator --------------------------------------------------------------------------


class DownBlock(nn.Module):
    """Halve the side: 4×4 stride-2 conv then 3×3 conv (LeakyReLU 0.2), plus an average-pooled 1×1 skip."""

    def __init__(self,
                 in_ch: int,            # input channels
                 out_ch: int,           # output channels
                 ) -> None:
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(in_ch, out_ch, 4, 2, 1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(out_ch, out_ch, 3, 1, 1), nn.LeakyReLU(0.2))
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_ch, out_ch, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.skip(x)) * (1 / math.sqrt(2))       # keeps the variance of the sum


class Decoder(nn.Module):
    """An 8×8 feature map → an image of side `out_side`: upsampling conv + BN + GLU blocks, 3×3 conv, tanh."""

    def __init__(self,
                 in_ch: int,            # channels of the 8×8 feature map
                 width: int,            # channels of every decoder block
                 out_side: int,         # side of the reconstruction (16 … 128)
                 img_channels: int,     # image channels
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(int(math.log2(out_side // 8))):
            layers.append(UpBlock(in_ch, width, 1))
            in_ch = width
        self.net = nn.Sequential(*layers, nn.Conv2d(in_ch, img_channels, 3, 1, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(nn.Module):
    """Down blocks from the image to 4×4, a 4×4 convolution to one logit; decoders read its 8² and 16² maps."""

    def __init__(self,
                 resolution: int,       # input side: 32 | 64 | 128 | 256
                 img_channels: int,     # input image channels
                 opts: FastGANOptions,  # widths and decoders
                 num_classes: int = 0,  # classes of a conditional D (a projection on the 4×4 features)
                 ) -> None:
        super().__init__()
        width = widths(opts.d_channel_base, opts)
        self.from_rgb = nn.Sequential(nn.Conv2d(img_channels, width(resolution // 2), 4, 2, 1), nn.LeakyReLU(0.2))
        self.sides = [2 ** k for k in range(int(math.log2(resolution)) - 2, 1, -1)]    # resolution/4 … 4
        self.blocks = nn.ModuleDict({str(s): DownBlock(width(2 * s), width(s)) for s in self.sides})
        self.head = nn.Conv2d(width(4), 1, 4)
        self.project = Projection(num_classes, width(4)) if num_classes else None
        self.recon_side = min(opts.recon_side, resolution // 2)
        self.decode_whole = Decoder(width(8), opts.decoder_channels, self.recon_side, img_channels)   # 8×8 map
        self.decode_part = Decoder(width(16), opts.decoder_channels, self.recon_side, img_channels)   # ¼ of 16×16
        for m in self.modules():          # variance-preserving for LeakyReLU(0.2): D has no normalisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor, features: bool = False, c: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Logits [N]; with `features`, also the 16×16 and 8×8 maps (for the reconstruction loss); `c`:
        class weights, for a conditional D."""
        x = self.from_rgb(x)
        feats: dict[int, torch.Tensor] = {x.shape[-1]: x}
        for s in self.sides:
            x = self.blocks[str(s)](x)
            feats[s] = x
        logits = self.head(x).flatten()
        if self.project is not None:
            logits = logits + self.project(x, c)
        return (logits, {8: feats[8], 16: feats[16]}) if features else logits


# --- the model ----------------------------------------------------------------------------------


class FastGAN(GanModel):
    name = "fastgan"
    Options = FastGANOptions
    default_resolution = 64
    resolutions = RESOLUTIONS
    can_condition = True
    ganspace_layer = "init"             # the 4×4 map after the first transposed convolution, BatchNorm and GLU
    config_defaults = {"loss": "rpgan", "r1_gamma": 0.5, "r2_gamma": 0.5, "r1_every": 4, "augment": "diffaugment",
                       "betas_g": [0.5, 0.99], "betas_d": [0.5, 0.99]}

    def __init__(self, spec: DataSpec, options: FastGANOptions) -> None:
        super().__init__(spec, options)
        res, ch = spec.shape[1], spec.shape[0]
        self.G = Generator(res, ch, options, self.num_classes)
        init_normal(self.G)                  # the paper's N(0, 0.02) for G (BatchNorm everywhere)
        self.D = Discriminator(res, ch, options, self.d_classes)

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        image_side(spec, cls.name, RESOLUTIONS)

    def sample_latent(self, n: int, generator: torch.Generator, truncation: float | None = None,
                      condition: torch.Tensor | None = None) -> torch.Tensor:
        z = normal_latent(n, self.options.z_dim, generator, truncation, generator.device)
        return self.with_condition(z, condition)

    def generate(self, latent: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Images of z codes; outside training one code at a time, so a seed's image never depends on its
        batch (BLAS and oneDNN pick different kernels for different batch sizes)."""
        net = net if net is not None else self.G
        if not net.training and latent.shape[0] > 1:
            return torch.cat([net(latent[i:i + 1]) for i in range(latent.shape[0])])
        return net(latent)

    def synthesize(self, codes: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """G on the codes as one batch (the contract's differentiable path, hooked by GANSpace)."""
        return self.G(codes)

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        from ganvas.objectives.fastgan import FastGANObjective

        return FastGANObjective(self, cfg, latent_rng)

