"""StyleGAN2's training objective: the adversarial game plus style mixing and path-length regularisation.

The game itself (by default the non-saturating logistic loss), lazy R1 on reals every `r1_every`
D steps (presets use 16, as StyleGAN2) and augmentation of everything D sees come from
`AdversarialObjective`. This adds what is particular to a style-based generator:

- style mixing (Karras et al. 2019): with probability `style_mixing` a generated batch takes its
  styles from two latents, switching at a random layer, so that neighbouring layers do not learn to
  depend on each other and styles can be mixed at will after training;
- the running average of w, updated from each batch generated for D (truncation's centre);
- path-length regularisation (Karras et al. 2020), lazily every `pl_every` G steps on a smaller
  batch: a fixed-size step in w should change the image by a fixed amount, which makes the mapping
  from w to images smoother and easier to invert and edit.

Its running mean path length is JSON state, saved in checkpoints like ADA's p.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from ganvas import distributed
from ganvas.accel import exact
from ganvas.objectives.adversarial import AdversarialObjective
from ganvas.objectives.base import Batch, Stats

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.nets.stylegan import StyleGAN


class StyleGANObjective(AdversarialObjective):
    def __init__(self, model: StyleGAN, cfg: TrainConfig, latent_rng: torch.Generator) -> None:
        super().__init__(model, cfg, latent_rng)
        opts = model.options
        self.mixing = opts.style_mixing
        self.pl_weight, self.pl_every = opts.pl_weight, opts.pl_every
        self.pl_batch_shrink, self.pl_decay = opts.pl_batch_shrink, opts.pl_decay
        self.pl_mean = 0.0              # running mean of path lengths (a Python float: exact in JSON)
        self.g_steps = 0

    def styles(self, n: int, update_w_avg: bool, c: torch.Tensor | None = None) -> torch.Tensor:
        """Style codes ws [n, num_ws, w_dim] for a training batch, mixed from two latents at random (of the
        same classes `c`, for a conditional model)."""
        G = self.model.G
        rng = self.latent_rng
        z = self.model.with_condition(torch.randn(n, G.mapping.z_dim, generator=rng, device=rng.device), c)
        ws = G.mapping(z, update_w_avg=update_w_avg)
        if self.mixing > 0:
            mix = torch.rand([], generator=rng, device=rng.device).item() < self.mixing
            cutoff = int(torch.randint(1, G.num_ws, [], generator=rng, device=rng.device).item())
            z2 = self.model.with_condition(torch.randn(n, G.mapping.z_dim, generator=rng, device=rng.device), c)
            if mix:
                ws = torch.cat([ws[:, :cutoff], G.mapping(z2)[:, cutoff:]], dim=1)
        return ws

    def _fake_batch(self, n: int, phase: str, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.G.synthesis(self.styles(n, update_w_avg=phase == "D", c=c))

    def path_length_penalty(self, n: int, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """E[(‖Jᵀy‖ − a)²]: J the Jacobian of the image in w, y unit-variance image noise, a the running mean;
        `c`: the classes (conditional models)."""
        with exact():                       # gradients of gradients: eagerly, in float32 (accel)
            ws = self.styles(n, update_w_avg=False, c=c)
            img = self.model.G.synthesis(ws)
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
        lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
        mean = distributed.current().mean_value(lengths.detach().mean())    # the same running mean on every rank
        self.pl_mean = self.pl_mean + self.pl_decay * (mean - self.pl_mean)
        penalty = (lengths - self.pl_mean).square().mean()
        return penalty, lengths.detach().mean()

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        loss, stats = super().g_loss(batch)
        if self.pl_weight > 0 and self.g_steps % self.pl_every == 0:
            n = max(1, batch["x"].shape[0] // self.pl_batch_shrink)
            c = self.model.condition_of(batch)
            penalty, length = self.path_length_penalty(n) if c is None else self.path_length_penalty(n, c[:n])
            loss = loss + penalty * (self.pl_weight * self.pl_every)
            stats.update({"G/pl_penalty": penalty.detach(), "G/pl_length": length})
        self.g_steps += 1
        return loss, stats

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "g_steps": self.g_steps, "pl_mean": self.pl_mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.g_steps = int(state.get("g_steps", 0))
        self.pl_mean = float(state.get("pl_mean", 0.0))
