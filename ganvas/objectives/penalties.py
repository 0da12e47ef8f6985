"""Gradient penalties on D: WGAN-GP's on interpolates, R1 on reals, R2 on fakes; differentiable (D trains on them)."""

from __future__ import annotations

import torch
from torch import nn


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
