"""Making outputs: seeds, recipes, interpolations and children, drawn through the model's own contract.

Requests come in as the API's typed bodies (ganvas.studio.schemas); a recipe body is read by the
explore library's own recipe reader, so a request, a recipe file and a provenance record mean the
same thing. Seed outputs are kept per model (bounded): paging back through a grid costs nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import torch

from ganvas.errors import GanvasError
from ganvas.explore import breeding, ganspace, interpolation
from ganvas.explore import latent as L
from ganvas.explore.recipe import Recipe
from ganvas.studio import outputs as O
from ganvas.studio import schemas as S
from ganvas.studio.models import Loaded
from ganvas.studio.results import Children, Interpolation, Item
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.directions import DirectionService
from ganvas.studio.state import StudioState

SEED_ITEMS = 512                        # seed outputs kept per model (about 5 kB each for a 64×64 image)


@dataclass(frozen=True)
class Drawn:
    """Recipes drawn in one call: their base codes, the codes drawn, the outputs, the directions each used."""

    recipes: list[Recipe]
    bases: torch.Tensor
    finals: torch.Tensor
    outputs: torch.Tensor
    directions: list[ganspace.Directions | None]


def recipe_of(G: object, body: S.RecipeIn) -> Recipe:
    """The recipe of a request body, checked against the model (fields left out or null are defaults)."""
    return Recipe.from_dict(body.model_dump(exclude_none=True), G)


class GenerationService:
    def __init__(self, state: StudioState, catalogue: Catalogue, directions: DirectionService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.directions = directions

    # --- drawing --------------------------------------------------------------------------------------

    def draw(self, item: Loaded, recipes: list[Recipe]) -> Drawn:
        """Recipes drawn in one call to the model (under the compute lock)."""
        G = item.model
        dirs = [self.directions.get(item, r.directions) if r.edits else None for r in recipes]
        with self.state.compute:
            bases = torch.cat([r.base(G) for r in recipes])
            finals = torch.cat([r.final(G, bases[i:i + 1], dirs[i]) for i, r in enumerate(recipes)])
            if any(r.units for r in recipes):       # unit edits hook G while it draws: one recipe at a time
                outs = torch.cat([r.draw(G, finals[i:i + 1]) for i, r in enumerate(recipes)])
            else:
                outs = L.draw(G, finals)
        return Drawn(recipes, bases, finals, outs, dirs)

    def items(self, item: Loaded, drawn: Drawn) -> list[Item]:
        """Items of drawn recipes: the picture as a data URL, the base code, the recipe that makes it.

        An edited output also carries `edited`, its base code with the edits folded in (untruncated):
        what the page breeds and interpolates from, so a child starts from what the person saw.
        """
        G = item.model
        space = L.edit_space(G)
        result = []
        for i, (r, dirs) in enumerate(zip(drawn.recipes, drawn.directions, strict=True)):
            code = L.compact(G, drawn.bases[i])
            rd = r.to_dict(G, dirs, latent=False)
            if r.seed is None:
                rd = {"latent": code, **rd, "space": space}
            edited = None
            if r.edits and dirs is not None:
                edited = L.compact(G, dirs.apply(drawn.bases[i:i + 1], r.edits)[0])
            picture = G.domain.encode(drawn.outputs[i:i + 1], "png")
            result.append(Item(r.seed, code, space, rd["truncation"], rd, O.data_url(picture), edited))
        return result

    # --- requests -------------------------------------------------------------------------------------

    def seeds(self, model: str, req: S.SeedsIn) -> list[Item]:
        """Items of seeds; each seed's item is kept (bounded), so going back a page costs nothing."""
        item = self.catalogue.generator(model)
        chosen = req.seeds if req.seeds is not None else list(range(req.start, req.start + req.count))
        keys = [(L.check_seed(s), req.truncation, req.truncation_cutoff, req.label) for s in chosen]
        with item.lock:
            found = {k: item.seed_items[k] for k in keys if k in item.seed_items}
        todo = [k for k in dict.fromkeys(keys) if k not in found]
        if todo:
            recipes = [Recipe(seed=s, truncation=psi, truncation_cutoff=cutoff, label=label)
                       for s, psi, cutoff, label in todo]
            for k, it in zip(todo, self.items(item, self.draw(item, recipes)), strict=True):
                found[k] = it
            with item.lock:
                for k in todo:
                    item.seed_items[k] = found[k]
                while len(item.seed_items) > SEED_ITEMS:
                    item.seed_items.popitem(last=False)
        return [found[k] for k in keys]

    def render(self, model: str, body: S.RecipeIn) -> Item:
        item = self.catalogue.generator(model)
        return self.items(item, self.draw(item, [recipe_of(item.model, body)]))[0]

    def interpolate(self, model: str, req: S.InterpolateIn) -> Interpolation:
        item = self.catalogue.generator(model)
        G = item.model
        space = req.space or L.edit_space(G)
        L.check_space(G, space)
        with self.state.compute:
            ends = [end_code(G, req.a, space, "a"), end_code(G, req.b, space, "b")]
        frames = interpolation.path(ends[0], ends[1], req.steps, space, req.method, classes=G.model.num_classes)
        with self.state.compute:
            frames = L.to_space(G, frames, space, L.edit_space(G))
        edits = recipe_of(G, S.RecipeIn(seed=0, edits=req.edits, directions=req.directions))
        recipes = [Recipe(latent=L.compact(G, f), space=L.edit_space(G), truncation=req.truncation,
                          truncation_cutoff=req.truncation_cutoff, edits=edits.edits, directions=edits.directions)
                   for f in frames]
        drawn = self.draw(item, recipes)
        strip = O.data_url(O.png(G.domain.preview(drawn.outputs, nrow=len(recipes))))
        animation = None
        if req.animation:
            if req.animation not in G.domain.animation_formats:
                raise GanvasError(f"animations are made of images; '{model}' makes {G.domain.name}")
            data = interpolation.animation_bytes(G.domain.to_pil(drawn.outputs), req.animation, req.fps)
            animation = O.data_url(data, req.animation)
        return Interpolation(self.items(item, drawn), strip, animation)

    def breed(self, model: str, req: S.BreedIn) -> Children:
        item = self.catalogue.generator(model)
        G = item.model
        seed = secrets.randbelow(2**31) if req.seed is None else req.seed
        with self.state.compute:
            parents = torch.cat([end_code(G, p, L.edit_space(G), f"parent {i + 1}")
                                 for i, p in enumerate(req.parents)])
            children = breeding.breed(G, parents, req.count, req.mutation, req.mode, seed)
        recipes = [Recipe(latent=L.compact(G, c), space=L.edit_space(G), truncation=req.truncation,
                          truncation_cutoff=req.truncation_cutoff) for c in children]
        return Children(self.items(item, self.draw(item, recipes)), seed, req.mode or breeding.default_mode(G))


def end_code(G: object, end: S.EndIn, space: str, what: str) -> torch.Tensor:
    """A seed or a code (an interpolation's end, a parent) as a [1, …] code in `space`."""
    if (end.seed is None) == (end.latent is None):
        raise GanvasError(f"{what} needs exactly one of 'seed' or 'latent'")
    if end.seed is not None:
        return L.seed_codes(G, [end.seed], space, label=end.label)
    given = end.space or L.edit_space(G)
    code = L.from_values(G, end.latent, given, f"{what}'s latent")
    if given != space:
        if (given, space) != ("z", "w"):
            raise GanvasError(f"{what} is a w code; interpolating in z needs seeds or z codes at both ends")
        code = L.to_space(G, code, "z", "w")
    return code
