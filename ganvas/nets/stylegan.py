"""`stylegan`: a StyleGAN2-style generator and a residual discriminator, sized for a CPU.

After Karras et al., "Analyzing and Improving the Image Quality of StyleGAN" (2020), with the
training setup of "Training Generative Adversarial Networks with Limited Data" (2020):

- G: a mapping network (z → w, 8 equalised fully connected layers at 1/100 learning rate) feeds a
  synthesis network that starts from a learned 4×4 constant. Each resolution has two modulated,
  demodulated 3×3 convolutions (the first upsamples), per-pixel noise with a learned strength, and
  an RGB output added to the upsampled RGB of the previous resolution ("skip" architecture).
  Every convolution and every RGB output takes its own w ("style layers"): mixing styles means
  feeding different w to different layers, truncation means pulling w towards the tracked average.
- D: residual blocks (two 3×3 convolutions and a 1×1 skip, both halving the resolution), then the
  minibatch standard-deviation feature, a 3×3 convolution and two fully connected layers.

Widths follow StyleGAN2's rule channels(r) = min(channel_base / r, channel_max) for both networks;
the defaults give a model that learns from a few thousand images in CPU minutes (see the presets
``*-stylegan-*``). The losses (non-saturating logistic, lazy R1, lazy path-length regularisation,
style mixing) live in `ganvas.objectives.stylegan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, GanModel, check_truncation, image_side
from ganvas.nets.conditional import LabelEmbedding, Projection, split_code
from ganvas.nets.stylegan_layers import (
    Downsample2x,
    EqualConv2d,
    EqualLinear,
    MinibatchStd,
    ModulatedConv2d,
    lrelu,
    normalize_2nd_moment,
    upsample2x,
)

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective

RESOLUTIONS = (16, 32, 64, 128, 256)
NOISE_MODES = ("random", "const", "none")


@dataclass
class StyleGANOptions:
    z_dim: int = option(256, "length of the latent code z; >= 1", min=1)
    w_dim: int = option(256, "length of the intermediate latent w (the style vector); >= 1", min=1)
    mapping_layers: int = option(8, "fully connected layers of the mapping network z → w; >= 1", min=1)
    mapping_lr_mult: float = option(0.01, "learning-rate multiplier of the mapping network; > 0", min=0,
                                    exclusive=True)
    channel_base: int = option(1024, "width rule: a layer at side r has min(channel_base / r, channel_max) "
                                     "channels; >= 16", min=16)
    channel_max: int = option(128, "widest layer of G and D; >= 1", min=1)
    noise: bool = option(True, "per-pixel noise inputs with learned strength in every synthesis layer")
    mbstd_group: int = option(4, "D: samples per minibatch-standard-deviation group; 1 = off", min=1)
    mbstd_channels: int = option(1, "D: minibatch-standard-deviation features; 0 = off", min=0)
    w_avg_beta: float = option(0.995, "decay of the tracked average of w (truncation's centre), in [0, 1)",
                               min=0, max=1, exclusive_max=True)
    style_mixing: float = option(0.9, "probability that a training batch mixes two w at a random layer, "
                                      "in [0, 1]", min=0, max=1)
    pl_weight: float = option(0.0, "path-length regularisation weight (2 in StyleGAN2); 0 = off", min=0)
    pl_every: int = option(4, "apply path-length regularisation every N G steps, scaled by N; >= 1", min=1)
    pl_batch_shrink: int = option(2, "path-length batch = batch_size / this; >= 1", min=1)
    pl_decay: float = option(0.01, "decay of the running mean path length, in (0, 1]", min=0, max=1,
                             exclusive=True)


def channels(res: int, opts: StyleGANOptions) -> int:
    return max(1, min(opts.channel_base // res, opts.channel_max))


# --- the generator ------------------------------------------------------------------------------


class MappingNetwork(nn.Module):
    """z → w, broadcast to every style layer, with the running average of w that truncation needs."""

    def __init__(self,
                 z_dim: int,            # latent code length
                 w_dim: int,            # style vector length
                 num_ws: int,           # style layers of the synthesis network
                 layers: int,           # fully connected layers
                 lr_mult: float,        # learning-rate multiplier of every layer
                 w_avg_beta: float,     # decay of the tracked average of w
                 num_classes: int = 0,  # classes it is conditioned on (0: none); their embedding joins z
                 ) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.w_avg_beta = z_dim, w_dim, num_ws, w_avg_beta
        self.embed = LabelEmbedding(num_classes, z_dim, normalize=True) if num_classes else None
        dims = [2 * z_dim if num_classes else z_dim] + [w_dim] * layers
        self.net = nn.Sequential(*[EqualLinear(a, b, lr_mult=lr_mult, activation=True)
                                   for a, b in zip(dims[:-1], dims[1:], strict=True)])
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, update_w_avg: bool = False) -> torch.Tensor:
        z = z.to(torch.float32)
        if self.embed is None:
            x = normalize_2nd_moment(z)
        else:                                     # z and the class embedding, each of unit second moment
            z, c = split_code(z, self.embed.num_classes)
            x = torch.cat([normalize_2nd_moment(z), self.embed(c)], dim=1)
        w = self.net(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))   # float: autocast
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """Pull the first `cutoff` style layers (all when None) of `ws` towards `w_avg` by ψ (`StyleGAN.truncate`)."""
    check_truncation(psi)
    check_cutoff(cutoff, ws.shape[1])
    ws = ws.clone()
    n = ws.shape[1] if cutoff is None else cutoff
    ws[:, :n] = w_avg.lerp(ws[:, :n], psi)
    return ws


def check_cutoff(cutoff: int | None, num_ws: int) -> None:
    from ganvas.errors import GanvasError

    if cutoff is not None and not 1 <= cutoff <= num_ws:
        raise GanvasError(f"truncation cutoff must be a number of style layers in 1..{num_ws} "
                          f"(this model has {num_ws}), got {cutoff}")


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution, noise with learned strength, bias, leaky ReLU."""

    def __init__(self,
                 in_channels: int,      # input feature maps
                 out_channels: int,     # output feature maps
                 w_dim: int,            # style vector length
                 resolution: int,       # output side
                 up: bool = False,      # upsample 2× first
                 noise: bool = True,    # add per-pixel noise
                 ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.resolution = resolution
        self.use_noise = noise
        if noise:
            self.register_buffer("noise_const", torch.randn(resolution, resolution))   # for repeatable samples
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str) -> torch.Tensor:
        x = self.conv(x, w)
        if self.use_noise and noise_mode != "none":
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * self.noise_strength
        return lrelu(x + self.bias[:, None, None])


class ToRGB(nn.Module):
    """Modulated 1×1 convolution to image channels, not demodulated (colours keep their scale)."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()                        # in_channels: feature maps; img_channels: 3 for RGB
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[:, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: (upsampling conv, conv) or (learned constant, conv), then an RGB output."""

    def __init__(self,
                 in_channels: int,      # feature maps from the previous block (0 for the first)
                 out_channels: int,     # feature maps of this block
                 w_dim: int,            # style vector length
                 resolution: int,       # side of this block's output
                 img_channels: int,     # image channels
                 noise: bool,           # noise inputs in its layers
                 ) -> None:
        super().__init__()
        self.first = in_channels == 0
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, noise=noise)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, noise=noise)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.first else 2
        self.wrap = False               # upsample the RGB skip circularly: a tileable G (ganvas.nets.tileable)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self.first:
            x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = self.conv1(x, ws[:, 0], noise_mode)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        y = self.torgb(x, ws[:, self.num_conv])
        img = y if img is None else upsample2x(img, self.wrap) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] → images [N, C, R, R]."""

    def __init__(self, w_dim: int, resolution: int, img_channels: int, opts: StyleGANOptions) -> None:
        super().__init__()                        # w_dim: style length; resolution: output side
        sides = [2 ** i for i in range(2, int(math.log2(resolution)) + 1)]
        self.blocks = nn.ModuleList()
        prev = 0
        for side in sides:
            ch = channels(side, opts)
            self.blocks.append(SynthesisBlock(prev, ch, w_dim, side, img_channels, opts.noise))
            prev = ch
        # a block's RGB output shares its w with the next block's first convolution, as in StyleGAN2
        self.num_ws = sum(b.num_conv for b in self.blocks) + 1
        self.resolution = resolution

    def forward(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        noise_mode = noise_mode or ("random" if self.training else "const")
        x = img = None
        idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws.narrow(1, idx, block.num_conv + 1), noise_mode)
            idx += block.num_conv
        return img


class StyleGenerator(nn.Module):
    """Mapping and synthesis: G(z) for a batch of z, or G.synthesis(ws) for chosen styles (untruncated)."""

    def __init__(self, resolution: int, img_channels: int, opts: StyleGANOptions, num_classes: int = 0) -> None:
        super().__init__()                        # resolution: output side; img_channels: 3 for RGB
        self.synthesis = SynthesisNetwork(opts.w_dim, resolution, img_channels, opts)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(opts.z_dim, opts.w_dim, self.num_ws, opts.mapping_layers,
                                      opts.mapping_lr_mult, opts.w_avg_beta, num_classes)

    def forward(self, z: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        return self.synthesis(self.mapping(z), noise_mode)


# --- the discriminator --------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """Two 3×3 convolutions and a 1×1 skip, both halving the side; the sum scaled by √½."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()                        # in/out_channels: feature maps before/after
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.down = Downsample2x(in_channels)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(self.down(x))
        x = self.conv1(self.down(self.conv0(x)))
        return (x + y) * math.sqrt(0.5)


class ResidualDiscriminator(nn.Module):
    def __init__(self, resolution: int, img_channels: int, opts: StyleGANOptions, num_classes: int = 0) -> None:
        super().__init__()                        # resolution: input side; img_channels: 3 for RGB; num_classes:
        top = channels(resolution, opts)          # classes of a conditional D (a projection on fc's features)
        self.fromrgb = EqualConv2d(img_channels, top, 1)
        blocks = []
        side = resolution
        while side > 4:
            blocks.append(DiscriminatorBlock(channels(side, opts), channels(side // 2, opts)))
            side //= 2
        self.blocks = nn.Sequential(*blocks)
        ch = channels(4, opts)
        self.mbstd = MinibatchStd(opts.mbstd_group, opts.mbstd_channels) if opts.mbstd_channels else nn.Identity()
        self.conv = EqualConv2d(ch + opts.mbstd_channels, ch, 3)
        self.fc = EqualLinear(ch * 16, ch, activation=True)
        self.out = EqualLinear(ch, 1)
        self.project = Projection(num_classes, ch) if num_classes else None

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.fromrgb(img))
        x = self.fc(self.conv(self.mbstd(x)).flatten(1))
        logits = self.out(x).flatten()                           # logits; the loss applies the link
        return logits if self.project is None else logits + self.project(x, c)


# --- the model ----------------------------------------------------------------------------------


class StyleGAN(GanModel):
    name = "stylegan"
    Options = StyleGANOptions
    default_resolution = 32
    resolutions = RESOLUTIONS
    compile_modules = ("G.mapping", "G.synthesis")     # the objective's style mixing calls them one by one
    edit_space = "w"
    can_condition = True
    ganspace_layer = "synthesis.blocks.1"              # the 8×8 block

    def __init__(self, spec: DataSpec, options: StyleGANOptions) -> None:
        super().__init__(spec, options)
        if options.mbstd_channels and channels(4, options) % options.mbstd_channels:
            from ganvas.errors import GanvasError

            raise GanvasError(f"stylegan option 'mbstd_channels' ({options.mbstd_channels}) must divide the 4×4 "
                              f"width ({channels(4, options)} channels)")
        res, ch = spec.shape[1], spec.shape[0]
        self.G = StyleGenerator(res, ch, options, self.num_classes)
        self.D = ResidualDiscriminator(res, ch, options, self.d_classes)

    # --- the generator contract (see GanModel): edits happen in w, one w per style layer ---------

    @property
    def num_ws(self) -> int:
        """Style layers: each convolution and the last RGB output takes its own w."""
        return self.G.num_ws

    def code_shape(self, space: str | None = None) -> tuple[int, ...]:
        if (space or self.edit_space) == "w":
            return (self.num_ws, self.options.w_dim)
        return super().code_shape(space)

    def to_edit_space(self, z: torch.Tensor) -> torch.Tensor:
        """ws [n, num_ws, w_dim] = mapping(z), the same w on every layer, untruncated."""
        return self.G.mapping(z.to(self.G.mapping.w_avg.device))

    def check_truncation(self, psi: float | None, cutoff: int | None = None) -> None:
        check_truncation(psi)
        check_cutoff(cutoff, self.num_ws)

    def truncate(self, codes: torch.Tensor, psi: float | None, cutoff: int | None = None) -> torch.Tensor:
        """ws with their first `cutoff` style layers (all when None) pulled towards the tracked average of w."""
        self.check_truncation(psi, cutoff)
        if psi is None or psi == 1:
            return codes
        return truncate(codes, self.G.mapping.w_avg, psi, cutoff)

    def average_code(self) -> torch.Tensor:
        return self.G.mapping.w_avg.expand(self.num_ws, -1)

    def synthesize(self, codes: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Images of ws [n, num_ws, w_dim]. noise_mode: random | const (each layer's fixed noise) | none;
        None = random while training, const otherwise."""
        if noise_mode is not None and noise_mode not in NOISE_MODES:
            from ganvas.errors import GanvasError

            raise GanvasError(f"noise mode must be one of {', '.join(NOISE_MODES)}, got {noise_mode!r}")
        return self.G.synthesis(codes, noise_mode)

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        image_side(spec, cls.name, RESOLUTIONS)

    def generate(self, latent: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Images of z codes [n, z_dim] or style codes [n, num_ws, w_dim].

        Outside training each code is generated on its own: BLAS and oneDNN pick different kernels
        for different batch sizes, and a seed's image must not depend on the batch it came in.
        """
        net = net if net is not None else self.G
        if not net.training and latent.shape[0] > 1:
            return torch.cat([self.generate(latent[i:i + 1], net) for i in range(latent.shape[0])])
        if latent.dim() == 3:                     # style codes ws
            return net.synthesis(latent)          # (not self.synthesize: `net` may be the weight average)
        return net(latent)

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        from ganvas.objectives.stylegan import StyleGANObjective

        return StyleGANObjective(self, cfg, latent_rng)
