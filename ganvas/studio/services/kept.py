"""Recording what a person keeps: the output drawn again from its recipe, scored for novelty, value and style
ambiguity (ganvas.eval.creativity), and appended to its run's `studio/kept.jsonl` (ganvas.explore.kept), so the
evaluation report can show which measures predict what people keep."""

from __future__ import annotations

import threading
from typing import Any

from ganvas.errors import GanvasError
from ganvas.eval.creativity import Scorer
from ganvas.explore.kept import kept_path, read_kept, record_keep
from ganvas.studio import schemas as S
from ganvas.studio.models import Loaded
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.generation import GenerationService, recipe_of
from ganvas.studio.state import StudioState

SCORERS = 4                 # scorers kept (one per checkpoint; each holds its data's features)


class KeptService:
    def __init__(self, state: StudioState, catalogue: Catalogue, generation: GenerationService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.generation = generation
        self.features = "auto"                          # the extractor the scores use (as `ganvas evaluate`)
        self.extractor_options: dict[str, Any] | None = None   # e.g. the domain extractor's recipe (tests)
        self._scorers: dict[str, Scorer] = {}
        self._building = threading.Lock()               # one scorer built at a time (it may train an extractor)

    def scorer(self, item: Loaded) -> Scorer:
        """The model's scorer: its training data's features against the same reals `ganvas evaluate` uses."""
        from ganvas.eval.evaluate import Reference, training_dataset

        key = str(item.entry.checkpoint)
        with self._building:
            found = self._scorers.get(key)
            if found is None:
                G = item.model
                ref = Reference.build(training_dataset(G), self.features, None,
                                      float(G.meta["config"].get("holdout", 0.0)), 0,
                                      extractor_options=self.extractor_options)
                with self.state.compute:
                    found = Scorer(ref, G)
                self._scorers[key] = found
                while len(self._scorers) > SCORERS:
                    self._scorers.pop(next(iter(self._scorers)))
        return found

    def keep(self, model: str, body: S.RecipeIn) -> dict[str, Any]:
        """Record one kept output with its measures; a model that cannot be scored (music, data not at hand) is
        still recorded, with the reason instead of scores."""
        item = self.catalogue.generator(model)
        G = item.model
        recipe = recipe_of(G, body)
        drawn = self.generation.draw(item, [recipe])
        record: dict[str, Any] = {"model": model, "run": item.entry.run, "step": item.entry.step,
                                  "recipe": recipe.to_dict(G, drawn.directions[0])}
        try:                # the extractors judge pictures: other domains are refused by them, and recorded unscored
            scorer = self.scorer(item)
            images = G.domain.to_array(drawn.outputs)
            with self.state.compute:
                scores = scorer.score_images(images, what="the kept output")
            record["scores"] = scores.row(0)
            record["features"] = {"name": scorer.extractor.name, "sha256": scorer.extractor.sha256[:16]}
        except GanvasError as exc:
            record["scores"], record["unscored"] = None, str(exc)
        try:
            path = record_keep(G.path, record)
        except OSError as exc:
            raise GanvasError(f"cannot record the keep in '{kept_path(G.path)}': {exc.strerror or exc}") from None
        return {"recorded": True, "kept": len(read_kept(G.path)), "file": str(path.relative_to(
            self.state.index.root)) if self.state.index.inside(path) else path.name, **{
            k: record[k] for k in ("scores", "unscored", "recipe") if k in record}}
