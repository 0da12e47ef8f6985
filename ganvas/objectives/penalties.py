"""Gradient penalties on D: WGAN-GP's on interpolates, R1 on reals, R2 on fakes; differentiable (D trains on them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganvas.accel import twice_differentiable

if TYPE_CHECKING:
    from ganvas.config import TrainConfig


def _grad_norm_sq(outputs: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.pow(2).flatten(1).sum(1)


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(‖∇D(x̂)‖ − 1)²] at x̂ uniformly between paired real and fake samples (WGAN-GP)."""
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    norm = (_grad_norm_sq(D(x_hat), x_hat) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()


def r1_penalty(real_logits: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """E[‖∇D(x)‖²] on real data (`real` must require grad); scale by γ/2 outside."""
    return _grad_norm_sq(real_logits, real).mean()


def r2_penalty(fake_logits: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[‖∇D(x̃)‖²] on generated samples (`fake` must require grad, and be cut from G's graph); scale by γ/2.

    R3GAN (Huang et al. 2024) pairs it with R1: penalising D's slope at the fakes as well as at the reals
    keeps D flat wherever either distribution lies, which the relativistic pairing loss needs to converge.
    """
    return _grad_norm_sq(fake_logits, fake).mean()


@dataclass(frozen=True)
class DPenalties:
    """The penalties the config puts on every discriminator step, applied the same way by every objective.

    WGAN-GP's penalty when the loss asks for it; R1 on reals and R2 on fakes (γ/2, zero-centred),
    lazily every `every` D steps and scaled by `every` so their average weight stays γ/2. Gradients of
    gradients need D eagerly and in float32 (`accel.twice_differentiable`), so `inputs` prepares D and
    the batch before D's forward pass and `add` adds the terms after it.
    """

    gradient_penalty: bool      # the loss's own (wgan-gp)
    gp_weight: float            # λ of the gradient penalty
    r1_gamma: float             # γ of R1 on reals; 0 = off
    r2_gamma: float             # γ of R2 on fakes; 0 = off
    every: int                  # apply R1 and R2 every N D steps (lazy regularisation)

    @classmethod
    def from_config(cls, cfg: TrainConfig, gradient_penalty: bool) -> DPenalties:
        return cls(gradient_penalty, cfg.gp_weight, cfg.r1_gamma, cfg.r2_gamma, cfg.r1_every)

    def inputs(self, D: Callable[..., torch.Tensor], real: torch.Tensor, fake: torch.Tensor, d_steps: int
               ) -> tuple[Callable[..., torch.Tensor], torch.Tensor, torch.Tensor, tuple[bool, bool]]:
        """(D, real, fake, (R1 now, R2 now)) ready for this step's forward pass."""
        lazy = d_steps % self.every == 0                # R1 and R2 share the lazy schedule
        r1_now, r2_now = self.r1_gamma > 0 and lazy, self.r2_gamma > 0 and lazy
        if r1_now or r2_now or self.gradient_penalty:
            D, fake = twice_differentiable(D), fake.float()
        if r1_now:
            real = real.detach().requires_grad_(True)
        if r2_now:
            fake = fake.detach().requires_grad_(True)
        return D, real, fake, (r1_now, r2_now)

    def add(self, loss: torch.Tensor, stats: dict[str, torch.Tensor], name: str, judge: Callable[..., torch.Tensor],
            real: torch.Tensor, fake: torch.Tensor, real_logits: torch.Tensor, fake_logits: torch.Tensor,
            now: tuple[bool, bool]) -> torch.Tensor:
        """`loss` plus this step's penalties (logged as NAME/gp, NAME/r1, NAME/r2); `judge` is what D applies
        to an image, augmentation included, for the gradient penalty's interpolates."""
        r1_now, r2_now = now
        if self.gradient_penalty:
            gp = gradient_penalty(judge, real, fake)
            loss = loss + self.gp_weight * gp
            stats[f"{name}/gp"] = gp.detach()
        if r1_now:
            r1 = r1_penalty(real_logits, real)
            loss = loss + (self.r1_gamma / 2) * self.every * r1
            stats[f"{name}/r1"] = r1.detach()
        if r2_now:
            r2 = r2_penalty(fake_logits, fake)
            loss = loss + (self.r2_gamma / 2) * self.every * r2
            stats[f"{name}/r2"] = r2.detach()
        return loss
