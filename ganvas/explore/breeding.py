"""Breeding: children of codes a person picked, by crossover and mutation (as Artbreeder does).

Each generation the person picks parents among the outputs; every child takes its genes from two
of them and is then mutated:

- ``uniform`` crossover: each number of the code comes from either parent with probability ½ (a
  uniform mask). For z codes, drawn independently per number, a child is as typical as its parents.
- ``layers`` crossover (style models): StyleGAN's style mixing as crossover. A child takes the
  coarse style layers (pose, shape) from one parent and the rest (colour, texture) from the other,
  cut at a random layer, so its traits stay whole instead of being averaged.
- mutation: Gaussian noise of standard deviation `strength` × the spread of the space (1 in z,
  measured per number in w), so a strength means about as much in every model.

One seed fixes every random choice, so a generation can be bred again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ganvas.errors import GanvasError
from ganvas.explore import latent as L

if TYPE_CHECKING:
    from ganvas.api import Generator

MODES = ("uniform", "layers")
MAX_CHILDREN = 64
MAX_PARENTS = 64
MAX_STRENGTH = 4.0


def default_mode(G: Generator) -> str:
    return "layers" if L.is_style(G) else "uniform"


def crossover(parents: torch.Tensor, n: int, mode: str, gen: torch.Generator) -> torch.Tensor:
    """`n` children of `parents` ([p, …]); each picks two distinct parents (or copies the only one)."""
    p = parents.shape[0]
    children = []
    for _ in range(n):
        if p == 1:
            children.append(parents[0].clone())
            continue
        i, j = torch.randperm(p, generator=gen)[:2].tolist()
        a, b = parents[i], parents[j]
        if mode == "uniform":
            mask = torch.rand(a.shape, generator=gen) < 0.5
        else:                                       # layers: coarse layers from a, fine from b, cut at random
            num_ws = a.shape[0]
            cut = int(torch.randint(1, max(2, num_ws), (1,), generator=gen))
            mask = torch.zeros(a.shape, dtype=torch.bool)
            mask[:cut] = True
        children.append(torch.where(mask.to(a.device), a, b))
    return torch.stack(children)


def mutate(codes: torch.Tensor, strength: float, scale: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Codes plus Gaussian noise of standard deviation strength × scale (per number)."""
    if strength == 0:
        return codes
    noise = torch.randn(codes.shape, generator=gen).to(codes.device)
    return codes + noise * scale * strength


def breed(G: Generator, parents: torch.Tensor, n: int = 8, strength: float = 0.3, mode: str | None = None,
          seed: int = 0) -> torch.Tensor:
    """`n` children (edit-space codes) of `parents` (edit-space codes [p, …]), by crossover and mutation."""
    mode = mode or default_mode(G)
    if mode not in MODES:
        raise GanvasError(f"crossover mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "layers" and not L.is_style(G):
        raise GanvasError(f"layer crossover mixes style layers; '{G.name}' has none: use mode uniform")
    if not 1 <= parents.shape[0] <= MAX_PARENTS:
        raise GanvasError(f"breeding needs 1..{MAX_PARENTS} parents, got {parents.shape[0]}")
    if not 1 <= n <= MAX_CHILDREN:
        raise GanvasError(f"number of children must be in 1..{MAX_CHILDREN}, got {n}")
    if not (0 <= strength <= MAX_STRENGTH):
        raise GanvasError(f"mutation strength must be in [0, {MAX_STRENGTH:g}] (a share of the codes' spread), "
                          f"got {strength}")
    if parents.shape[0] == 1 and strength == 0:
        raise GanvasError("one parent and no mutation gives copies of it: pick two parents or raise the mutation")
    gen = torch.Generator().manual_seed(L.check_seed(seed))
    children = crossover(parents, n, mode, gen)
    return mutate(children, strength, L.spread(G), gen)
