"""The building blocks of a StyleGAN2 generator and discriminator, in plain PyTorch.

Everything here runs on any device torch supports, with no custom CUDA kernels, and every operation
has a double backward (R1 and path-length regularisation differentiate gradients).

- Equalised learning rate (Karras et al. 2018): weights are stored as N(0, 1) and scaled by
  1/sqrt(fan_in) at every use, so Adam's per-parameter step sizes mean the same for every layer. A
  learning-rate multiplier (the mapping network's 0.01) divides the stored weights and multiplies
  the runtime scale, which slows that layer's learning by the same factor.
- Modulated convolution (Karras et al. 2020): a per-sample style scales the input channels; the
  demodulation factor rescales each output channel so that unit-variance input gives unit-variance
  output, replacing AdaIN's explicit normalisation (and its droplet artefacts). It is computed as
  "scale the activations, convolve with the shared weight, rescale", which is one ordinary
  convolution for the whole batch: much faster on a CPU than a grouped convolution per sample.
- Resampling with the [1, 3, 3, 1] binomial filter: 2× up with bilinear interpolation (the same
  filter for a factor of two), 2× down with a fixed depthwise convolution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.nets.tileable import wrap_pad, wrap_upsample

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)     # keeps the activations' second moment through a leaky ReLU


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square: z then lies near a sphere, whatever its length."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


class EqualLinear(nn.Module):
    """A fully connected layer with equalised learning rate."""

    def __init__(self,
                 in_features: int,          # input length
                 out_features: int,         # output length
                 bias_init: float = 0.0,    # initial value of every bias (1 for style affines: styles start at 1)
                 lr_mult: float = 1.0,      # learning-rate multiplier of this layer (0.01 in the mapping network)
                 activation: bool = False,  # leaky ReLU (with gain √2) after the affine map
                 ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mult)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_mult))
        self.weight_gain = lr_mult / math.sqrt(in_features)
        self.bias_gain = lr_mult
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addmm(self.bias * self.bias_gain, x, (self.weight * self.weight_gain).t())
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """A convolution with equalised learning rate (the discriminator's layers)."""

    def __init__(self,
                 in_channels: int,          # input feature maps
                 out_channels: int,         # output feature maps
                 kernel_size: int,          # square kernel side (odd: 'same' padding)
                 bias: bool = True,         # add a learned per-channel bias
                 activation: bool = True,   # leaky ReLU (with gain √2) after the convolution
                 ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        return lrelu(x) if self.activation else x


def upsample2x(x: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """2× upsampling; bilinear interpolation at factor 2 is the [1, 3, 3, 1] filter of StyleGAN2.
    `wrap`: the image is one period of a pattern (a tileable G), its edges interpolate across."""
    if wrap:
        return wrap_upsample(x)
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class Downsample2x(nn.Module):
    """2× downsampling after low-pass filtering with the separable [1, 3, 3, 1] binomial filter."""

    def __init__(self, channels: int) -> None:     # channels: feature maps filtered (depthwise)
        super().__init__()
        f = torch.tensor([1.0, 3.0, 3.0, 1.0])
        kernel = torch.outer(f, f) / f.sum() ** 2
        self.register_buffer("kernel", kernel.expand(channels, 1, 4, 4).clone(), persistent=False)
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, stride=2, padding=1, groups=self.channels)


class ModulatedConv2d(nn.Module):
    """A convolution whose input channels are scaled per sample by a style, then demodulated."""

    def __init__(self,
                 in_channels: int,          # input feature maps
                 out_channels: int,         # output feature maps
                 kernel_size: int,          # square kernel side (odd: 'same' padding)
                 w_dim: int,                # length of the intermediate latent w that sets the style
                 demodulate: bool = True,   # normalise each output channel to unit expected variance
                 up: bool = False,          # upsample 2× before the convolution
                 ) -> None:
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)    # w → per-channel style
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.up = up
        self.wrap = False               # pad and upsample circularly: a tileable G (ganvas.nets.tileable)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)                                          # [N, in]
        return modulated_conv2d(x, self.weight * self.weight_gain, styles, self.demodulate, self.up,
                                self.padding, self.wrap)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: bool = False, padding: int = 1, wrap: bool = False) -> torch.Tensor:
    """conv(x, weight ⊙ styles), each output channel demodulated: one shared convolution for the batch.

    Per sample n the effective weight is W'[o, i] = W[o, i]·s[n, i]; demodulation divides output
    channel o by ‖W'[o]‖₂, computed without forming W' as (s²) @ (Σ_k W[o, i, k]²)ᵀ.
    """
    x = x * styles[:, :, None, None].to(x.dtype)
    if up:
        x = upsample2x(x, wrap)
    x = F.conv2d(wrap_pad(x, padding), weight) if wrap else F.conv2d(x, weight, padding=padding)
    if demodulate:
        dcoefs = (styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8).rsqrt()   # [N, out]
        x = x * dcoefs[:, :, None, None].to(x.dtype)
    return x


class MinibatchStd(nn.Module):
    """Appends the standard deviation of features across a group of samples (Karras et al. 2018).

    A discriminator that sees how varied a small group is can penalise a generator that collapses
    onto few outputs. Groups are the largest divisor of the batch not above `group_size`.
    """

    def __init__(self,
                 group_size: int = 4,       # samples per group
                 num_channels: int = 1,     # independent statistics (features are split into this many parts)
                 ) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)                  # sample i is in group i mod (n / g)
        y = (y - y.mean(dim=0)).square().mean(dim=0)           # variance over each group
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4))              # [n/g, f]: one number per feature part
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)          # back to every sample of the group
        return torch.cat([x, y.to(x.dtype)], dim=1)
