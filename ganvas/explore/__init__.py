"""Exploring a trained generator: interpolation, GANSpace directions, breeding, projection, unit dissection.

The same tools back ``ganvas explore …``, the REST API and the studio page (``ganvas studio``).

    import ganvas
    from ganvas import explore

    G = ganvas.load("runs/emoji-stylegan-32")
    x = explore.render(G, seed=3, truncation=0.7, edits=[(0, 2.0)])       # seed 3, 2σ along direction 0
    codes, frames = explore.interpolate(G, 3, 8, steps=9)                  # seeds or codes at either end
    explore.save_animation("morph.gif", G.domain.to_pil(frames))
    d = explore.directions(G)                                              # cached in the run folder
    kids = explore.breed(G, explore.codes(G, [3, 8]), n=8, strength=0.3)   # children codes
    p = explore.project(G, PIL.Image.open("me.png"), steps=200)            # p.code, p.output
    units = explore.dissection(G)                                          # which units agree with which concept
    x = explore.render(G, seed=3, units=[{"units": units.top("circle", 8), "mode": "off"}])   # circles removed

Codes live in the model's edit space (``w`` per style layer for style models, ``z`` otherwise);
see `ganvas.explore.latent` for how a code becomes an output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import latent
from ganvas.explore.breeding import breed
from ganvas.explore.ganspace import Directions, Edit
from ganvas.explore.interpolation import animation_bytes, save_animation, slerp
from ganvas.explore.projection import Projection, project
from ganvas.explore.recipe import DirectionSet, Recipe
from ganvas.explore.units import UnitEdit

if TYPE_CHECKING:
    from ganvas.api import Generator

__all__ = ["Directions", "DirectionSet", "Edit", "Projection", "Recipe", "UnitEdit", "animation_bytes", "breed",
           "codes", "directions", "dissection", "draw", "interpolate", "latent", "project", "render", "save_animation",
           "slerp"]


def codes(G: Generator, seeds: Sequence[int]) -> torch.Tensor:
    """Base codes of seeds, in the edit space ([n, …])."""
    return latent.seed_codes(G, seeds)


def draw(G: Generator, code: torch.Tensor) -> torch.Tensor:
    """Outputs of final edit-space codes."""
    return latent.draw(G, code if code.dim() > len(latent.code_shape(G)) else code[None])


def directions(G: Generator, method: str | None = None, components: int = 16, samples: int | None = None,
               seed: int = 0, layer: str | None = None, cache: bool = True) -> Directions:
    """GANSpace directions of `G` (see `ganvas.explore.ganspace`), cached per checkpoint."""
    from ganvas.explore import ganspace as D

    return D.get(G, method, components, samples, seed, layer, cache)


def render(G: Generator, seed: int | None = None, code: torch.Tensor | None = None, truncation: float | None = None,
           edits: Sequence[Edit | tuple] = (), truncation_cutoff: int | None = None,
           direction_set: DirectionSet | None = None, units: Sequence[UnitEdit | dict] = ()) -> torch.Tensor:
    """The output of a seed or base code, truncated and edited ([1, …]); `edits` are Edits or (index, σ[, layers]);
    `units` UnitEdits or dicts {layer, units, mode, amount} (see `ganvas.explore.units`)."""
    from ganvas.explore.units import parse_edit

    recipe = Recipe(seed=seed, truncation=truncation, truncation_cutoff=truncation_cutoff,
                    edits=[e if isinstance(e, Edit) else Edit(*e) for e in edits],
                    directions=direction_set or DirectionSet(),
                    units=[u if isinstance(u, UnitEdit) else parse_edit(u, G) for u in units])
    base = None
    if code is not None:
        base = code if code.dim() > len(latent.code_shape(G)) else code[None]
    elif seed is None:
        raise GanvasError("render needs a seed or a code")
    return recipe.draw(G, recipe.final(G, base))


def dissection(G: Generator, layer: str | None = None, samples: int | None = None, seed: int = 0,
            cache: bool = True, **options: Any) -> Any:
    """Which units of a layer of `G` agree with which concept (see `ganvas.explore.dissect`), cached per checkpoint."""
    from ganvas.explore import dissect as DS

    return DS.get(G, layer, samples, seed, cache=cache, **options)


def interpolate(G: Generator, a: int | torch.Tensor, b: int | torch.Tensor, steps: int = 8,
                truncation: float | None = None, space: str | None = None, method: str | None = None,
                edits: Sequence[Edit] = (), direction_set: DirectionSet | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(codes, outputs) of `steps` frames from `a` to `b` (seeds or base codes).

    `space` z or w (default: the edit space). A style model can interpolate in z between two seeds
    (slerp, then mapped): a different path from the default straight line in w.
    """
    from ganvas.explore.interpolation import path

    space = space or latent.edit_space(G)
    latent.check_space(G, space)
    ends = []
    for end in (a, b):
        if isinstance(end, int):
            ends.append(latent.seed_codes(G, [end], space))
        else:
            if space != latent.edit_space(G):
                raise GanvasError("interpolating in z needs seeds at both ends (their z codes are known)")
            ends.append(end if end.dim() > len(latent.code_shape(G, space)) else end[None])
    frames = path(ends[0], ends[1], steps, space, method, classes=G.model.num_classes)
    frames = latent.to_space(G, frames, space, latent.edit_space(G))
    recipe = Recipe(seed=0, truncation=truncation, edits=list(edits), directions=direction_set or DirectionSet())
    final = torch.cat([recipe.final(G, frames[i:i + 1]) for i in range(steps)])
    return frames, latent.draw(G, final)


def describe(G: Any) -> dict[str, Any]:
    """What the explore tools see of a model: edit space, code shape, style layers, defaults."""
    from ganvas.explore import breeding as B
    from ganvas.explore import ganspace as D
    from ganvas.explore import projection as P

    style = latent.is_style(G)
    return {"space": latent.edit_space(G), "code_shape": list(latent.code_shape(G)), "z_dim": latent.z_dim(G),
            "num_ws": latent.style_layers(G) if style else None, "style": style,
            "directions_method": D.default_method(G), "breed_mode": B.default_mode(G),
            "projection": G.model.spec.domain == "image",
            "projection_space": P.default_space(G) if G.model.spec.domain == "image" else None,
            "classes": list(getattr(G, "classes", []) or [])}
