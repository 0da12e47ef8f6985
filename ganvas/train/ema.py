"""An exponential moving average of generator weights, which is what ganvas samples from.

Averaged weights give smoother, better samples than the last iterate (Yazıcı et al. 2019; used by
every StyleGAN). The decay is set as a half-life in images seen, ramped up early in training as in
StyleGAN2-ADA, so it means the same thing at any batch size.

BatchNorm running statistics cannot be averaged meaningfully: they belong to particular weights and
lag behind them early in training (eval-mode samples of a young BatchNorm G can be grey noise). So
before sampling, `recalibrate` recomputes the averaged G's own statistics over fresh latents.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn


class EMA:
    def __init__(self,
                 nets: dict[str, nn.Module],    # the generators to average, by name
                 half_life_kimg: float,         # images (in thousands) for a weight to halve; 0 = no averaging
                 rampup: float,                 # cap the half-life at this fraction of images seen; 0 = none
                 ) -> None:
        self.half_life_kimg = half_life_kimg
        self.rampup = rampup
        self.averaged: dict[str, nn.Module] = {
            name: copy.deepcopy(net).eval().requires_grad_(False) for name, net in nets.items()
        }

    def beta(self, nimg: int, batch: int) -> float:
        """Weight kept from the average at this update."""
        if self.half_life_kimg <= 0:
            return 0.0
        ema_nimg = self.half_life_kimg * 1000
        if self.rampup > 0:
            ema_nimg = min(ema_nimg, nimg * self.rampup)
        return 0.5 ** (batch / max(ema_nimg, 1e-8))

    @torch.no_grad()
    def update(self, nets: dict[str, nn.Module], nimg: int, batch: int) -> None:
        beta = self.beta(nimg, batch)
        for name, net in nets.items():
            avg = self.averaged[name]
            src = [p.detach() for p in net.parameters()]
            dst = list(avg.parameters())
            torch._foreach_lerp_(dst, src, 1.0 - beta)
        self.copy_buffers(nets)

    @torch.no_grad()
    def copy_buffers(self, nets: dict[str, nn.Module]) -> None:
        """Buffers (BatchNorm statistics, StyleGAN's average w) are not averaged: they follow the live nets."""
        for name, net in nets.items():
            for b_avg, b in zip(self.averaged[name].buffers(), net.buffers(), strict=True):
                b_avg.copy_(b)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: net.state_dict() for name, net in self.averaged.items()}


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, forward: Callable[[], object], batches: int = 8) -> None:
    """Recompute every BatchNorm's running statistics of `net` as exact averages over fresh inputs.

    `forward` runs `net` once on a fresh batch (the caller knows what its input is).
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    momenta = [bn.momentum for bn in bns]
    was_training = net.training
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None            # cumulative average over the recalibration batches
    net.train()
    for _ in range(batches):
        forward()
    for bn, m in zip(bns, momenta, strict=True):
        bn.momentum = m
    net.train(was_training)
