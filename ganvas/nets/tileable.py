"""Generators whose outputs tile: every layer of G treats its feature maps as a torus.

A convolution padded with zeros knows where the image ends, and G learns to draw borders; one padded
circularly (the left edge continues from the right, the top from the bottom) sees no edge at all,
so each output is one period of a pattern and copies of it laid side by side meet without a seam.
`make_tileable` turns a built generator into such a network in place, keeping every parameter and
its name, so a tileable checkpoint's weights load into a network rebuilt the same way. It is applied
in one place, `GanModel.build(..., tileable=True)`, both when a run starts and when a checkpoint is
loaded or resumed.

- ``nn.Conv2d`` with padding: ``padding_mode = "circular"``.
- ``nn.ConvTranspose2d`` that multiplies the side by its stride (DCGAN's k=4, s=2, p=1): the
  transposed convolution of the periodic input, exactly: the input padded circularly by enough
  pixels that the output's middle period is complete, cropped to that period (or, for shapes where
  the crop would exceed what torch's padding allows, the unpadded output folded modulo the period).
  Layers that do not scale this way (DCGAN's first, from a 1×1 code to 4×4) have no spatial
  neighbourhood to wrap and stay as they are. The one-pixel halo costs time: a tileable DCGAN's G
  step took about 1.5× as long as a plain one's on a CPU.
- ``nn.Upsample`` (bilinear or bicubic): pad one pixel circularly, interpolate, crop.
- A module of ganvas's own with a ``wrap`` attribute (StyleGAN's modulated convolutions and its
  skip connections' upsampling) is told to wrap by setting it to True.

Anything else with zero padding inside G would leave a seam; the seam score (`ganvas.eval.seams`)
measures whether a generator tiles.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganvas.errors import GanvasError


def wrap_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """`x` padded by `pad` pixels on every side with the pixels of the opposite side, in `x`'s memory
    layout (channels-last convolutions are the fast ones on a CPU, and padding returns the other)."""
    if not pad:
        return x
    y = F.pad(x, (pad, pad, pad, pad), mode="circular")
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        y = y.contiguous(memory_format=torch.channels_last)
    return y


def wrap_upsample(x: torch.Tensor, scale: int = 2, mode: str = "bilinear") -> torch.Tensor:
    """Interpolating upsampling of a periodic image: its edges interpolate towards the opposite edge."""
    y = F.interpolate(wrap_pad(x, 1), scale_factor=scale, mode=mode, align_corners=False)
    return y[..., scale:-scale, scale:-scale]


class WrappingConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution of a periodic input: the output is periodic, `stride` times larger."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        span = [self.dilation[i] * (self.kernel_size[i] - 1) for i in range(2)]
        m = max(1, *(-(-(span[i] - self.padding[i]) // self.stride[i]) for i in range(2)),
                *(-(-(self.padding[i] - 1) // self.stride[i]) + 1 for i in range(2)))
        crop = [m * self.stride[i] + self.padding[i] for i in range(2)]
        if all(crop[i] <= span[i] for i in range(2)):
            # One native op: pad the input with m pixels of the opposite side, and let the transposed
            # convolution's own padding crop the output to the one period those pixels complete.
            return F.conv_transpose2d(wrap_pad(x, m), self.weight, self.bias, self.stride, crop,
                                      self.output_padding, self.groups, self.dilation)
        # Otherwise fold the unpadded output modulo the period (what falls past one edge is added at the
        # other) and shift it by the padding.
        y = F.conv_transpose2d(x, self.weight, None, self.stride, 0, 0, self.groups, self.dilation)
        sides = [x.shape[-2] * self.stride[0], x.shape[-1] * self.stride[1]]
        folds = [-(-y.shape[-2] // sides[0]), -(-y.shape[-1] // sides[1])]
        y = F.pad(y, (0, folds[1] * sides[1] - y.shape[-1], 0, folds[0] * sides[0] - y.shape[-2]))
        y = y.reshape(*y.shape[:-2], folds[0], sides[0], folds[1], sides[1]).sum(dim=(-4, -2))
        y = torch.roll(y, shifts=(-self.padding[0], -self.padding[1]), dims=(-2, -1))
        return y if self.bias is None else y + self.bias[:, None, None]


class WrappingUpsample(nn.Upsample):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return wrap_upsample(x, int(self.scale_factor), self.mode)


def _scales_by_stride(m: nn.ConvTranspose2d) -> bool:
    return all(m.dilation[i] * (m.kernel_size[i] - 1) + 1 - 2 * m.padding[i] + m.output_padding[i] == m.stride[i]
               for i in range(2))


def make_tileable(net: nn.Module, what: str = "G") -> nn.Module:
    """Make every layer of `net` wrap around its edges (see the module's docstring); returns `net`."""
    for name, m in net.named_modules():
        if isinstance(m, nn.ConvTranspose2d):
            if _scales_by_stride(m):
                m.__class__ = WrappingConvTranspose2d
            elif any(m.padding) or any(m.output_padding):
                raise GanvasError(f"layer '{name}' of {what} cannot be made tileable: a transposed convolution "
                                  f"that does not multiply the side by its stride ({m})")
        elif isinstance(m, nn.Conv2d):
            if m.padding == "same" or any(m.padding):
                m.padding_mode = "circular"
        elif isinstance(m, nn.Upsample) and m.mode in ("bilinear", "bicubic"):
            if m.size is not None or m.align_corners:
                raise GanvasError(f"layer '{name}' of {what} cannot be made tileable: {m}")
            m.__class__ = WrappingUpsample
        elif hasattr(m, "wrap"):
            m.wrap = True
    return net
