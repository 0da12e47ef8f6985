"""Adversarial losses and gradient penalties, all on raw discriminator logits.

Each loss gives D's loss on (real, fake) logits and G's loss on fake logits (a relativistic loss: on
fake and real logits, paired sample by sample); the sigmoid or other link lives here, not in the
networks, so every D can be trained with every loss.

- ``minimax``: the original game of Goodfellow et al. (2014), min_G max_D E[log D(x)] + E[log(1 − D(G(z)))].
  G's gradient vanishes when D is confident, which is why it is rarely used as is.
- ``ns``: the same D, but G maximises log D(G(z)) (the "non-saturating" heuristic of the same paper).
- ``hinge``: Lim & Ye (2017), Miyato et al. (2018).
- ``wgan-gp``: the Wasserstein critic of Arjovsky et al. (2017) with the gradient penalty of
  Gulrajani et al. (2017) on random interpolates.
- ``lsgan``: least squares (Mao et al. 2017), targets 1 for real and 0 for fake.
- ``rpgan``: the relativistic pairing loss (Jolicoeur-Martineau 2018; R3GAN, Huang et al. 2024): each
  fake is judged against the real it is paired with, L_D = softplus(D(fake) − D(real)) and
  L_G = softplus(D(real) − D(fake)), so G's loss needs D's real logits too (``relativistic``). R3GAN
  pairs it with zero-centred R1 on reals and R2 on fakes (config ``r1_gamma``, ``r2_gamma``), which
  make the game converge locally; without them it is as unstable as any other.

Adding a loss: an `AdversarialLoss` in a file of its own (or here) and one line in
`ganvas.registry.LOSSES`; ``--loss NAME``, presets and ``ganvas config`` accept it from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.registry import LOSSES

Logits = torch.Tensor


@dataclass(frozen=True)
class AdversarialLoss:
    name: str
    d: Callable[[Logits, Logits], torch.Tensor]     # (real logits, fake logits) -> D's loss
    g: Callable[..., torch.Tensor]                  # fake logits -> G's loss; relativistic: (fake, real) -> G's loss
    gradient_penalty: bool = False                  # add the WGAN-GP penalty to D's loss
    relativistic: bool = False                      # G's loss needs D's logits on reals (paired with the fakes)

    def g_loss(self, fake: Logits, real: Logits | None = None) -> torch.Tensor:
        """G's loss, given D's real logits when it needs them: objectives call this, never `g` directly, so
        a loss that does not look at reals costs no extra D pass."""
        if not self.relativistic:
            return self.g(fake)
        if real is None:
            raise GanvasError(f"loss '{self.name}' judges fakes against reals, but G's step got no real logits")
        return self.g(fake, real)


MINIMAX = AdversarialLoss(
    "minimax",
    d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),     # −log σ(r) − log(1 − σ(f))
    g=lambda f: -F.softplus(f).mean(),                                 # log(1 − σ(f))
)
NON_SATURATING = AdversarialLoss(
    "ns",
    d=lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
    g=lambda f: F.softplus(-f).mean(),                                 # −log σ(f)
)
HINGE = AdversarialLoss(
    "hinge",
    d=lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(),
    g=lambda f: -f.mean(),
)
WGAN_GP = AdversarialLoss(
    "wgan-gp",
    d=lambda r, f: f.mean() - r.mean(),
    g=lambda f: -f.mean(),
    gradient_penalty=True,
)
LEAST_SQUARES = AdversarialLoss(
    "lsgan",
    d=lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
    g=lambda f: 0.5 * ((f - 1) ** 2).mean(),
)
RELATIVISTIC_PAIRING = AdversarialLoss(
    "rpgan",
    d=lambda r, f: F.softplus(f - r).mean(),                           # −log σ(D(real) − D(fake)), per pair
    g=lambda f, r: F.softplus(r - f).mean(),                           # −log σ(D(fake) − D(real))
    relativistic=True,
)


def get_loss(name: str) -> AdversarialLoss:
    """The loss registered as `name` in `ganvas.registry.LOSSES` (a plugin's too); unknown names are one-line errors."""
    return LOSSES.get(name)
