"""Why fake? D's verdict on an output (the same recipe as render) or an uploaded picture, and where it comes
from, drawn over the sample (ganvas.explore.why; the map of a piano-roll lies over its picture)."""

from __future__ import annotations

from typing import Any

from ganvas.explore import why
from ganvas.explore import why_picture as P
from ganvas.studio import outputs as O
from ganvas.studio import schemas as S
from ganvas.studio.models import Loaded
from ganvas.studio.results import WhyMap
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.generation import GenerationService, recipe_of
from ganvas.studio.state import StudioState

STEPS = 16          # integrated-gradients steps in the studio: an answer in well under a second on a CPU
                    # (the maps add up to D's score within a few per cent; `ganvas explore why` uses 32)


class WhyService:
    def __init__(self, state: StudioState, catalogue: Catalogue, generation: GenerationService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.generation = generation

    def recipe(self, model: str, body: S.RecipeIn) -> WhyMap:
        """The map of the output a recipe makes (what Explore shows), with the class it was made with."""
        item = self.catalogue.generator(model)
        G = item.model
        r = recipe_of(G, body)
        drawn = self.generation.draw(item, [r])
        with self.state.compute:
            if r.seed is not None:
                condition = why.condition_for_seeds(G, [r.seed], r.label)
            else:
                condition = why.condition_of_codes(G, drawn.finals)
            maps = why.explain(G, drawn.outputs, why.default_method(G), condition=condition, steps=STEPS,
                               labels=[f"seed {r.seed}" if r.seed is not None else "this output"])
        return self._result(item, maps)

    def upload(self, model: str, image: Any, label: str | None, name: str) -> WhyMap:
        """The map of an uploaded picture, fitted to the model's side as its training data were."""
        item = self.catalogue.generator(model)
        G = item.model
        with self.state.compute:
            x = why.picture_tensor(G, image, f"upload '{name}'")      # one line for a model not of pictures
            condition = G.model.condition_for([0], label) if label else None
            maps = why.explain(G, x, why.default_method(G), condition=condition, steps=STEPS, labels=[name])
        return self._result(item, maps)

    def _result(self, item: Loaded, maps: why.Maps) -> WhyMap:
        G = item.model
        score = float(maps.scores[0])
        picture = O.data_url(O.png(P.overlay_picture(G, maps, 0)))
        lean = "real" if score > 0 else "fake"
        describe = (f"D's logit {score:+.2f} (leans {lean}): orange pushes it towards real, blue towards fake "
                    f"({maps.method}{'' if maps.baseline is None else f' from {maps.baseline:g}'})")
        return WhyMap(round(score, 4), picture, maps.method, maps.baseline, maps.steps, maps.norm, describe)
