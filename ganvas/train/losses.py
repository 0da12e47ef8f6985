"""Adversarial losses and gradient penalties, all on raw discriminator logits.

Each loss gives D's loss on (real, fake) logits and G's loss on fake logits; the sigmoid or other
link lives here, not in the networks, so every D can be trained with every loss.

- ``minimax``: the original game of Goodfellow et al. (2014), min_G max_D E[log D(x)] + E[log(1 − D(G(z)))].
  G's gradient vanishes when D is confident, which is why it is rarely used as is.
- ``ns``: the same D, but G maximises log D(G(z)) (the "non-saturating" heuristic of the same paper).
- ``hinge``: Lim & Ye (2017), Miyato et al. (2018).
- ``wgan-gp``: the Wasserstein critic of Arjovsky et al. (2017) with the gradient penalty of
  Gulrajani et al. (2017) on random interpolates.
- ``lsgan``: least squares (Mao et al. 2017), targets 1 for real and 0 for fake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

Logits = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[[Logits, Logits], torch.Tensor]     # (real logits, fake logits) -> D's loss
    g: Callable[[Logits], torch.Tensor]             # fake logits -> G's loss
    gradient_penalty: bool = False                  # add the WGAN-GP penalty to D's loss


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss(
        "minimax",
        d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),     # −log σ(r) − log(1 − σ(f))
        g=lambda f: -F.softplus(f).mean(),                                 # log(1 − σ(f))
    ),
    "ns": AdversarialLoss(
        "ns",
        d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
        g=lambda f: F.softplus(-f).mean(),                                 # −log σ(f)
    ),
    "hinge": AdversarialLoss(
        "hinge",
        d=lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
        g=lambda f: -f.mean(),
    ),
    "wgan-gp": AdversarialLoss(
        "wgan-gp",
        d=lambda r, f: f.mean() - r.mean(),
        g=lambda f: -f.mean(),
        gradient_penalty=True,
    ),
    "lsgan": AdversarialLoss(
        "lsgan",
        d=lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
        g=lambda f: 0.5 * ((f - 1) ** 2).mean(),
    ),
}


def get_loss(name: str) -> AdversarialLoss:
    from ganvas.errors import unknown_name

    if name not in LOSSES:
        raise unknown_name("loss", name, list(LOSSES))
    return LOSSES[name]


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
