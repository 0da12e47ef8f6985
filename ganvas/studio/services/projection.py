"""Projection jobs: an uploaded picture → the code that reproduces it, found in a background thread.

Each optimisation step takes the compute lock for itself only, so the page stays responsive; the job
reports its step, loss and (every few steps) a preview, and ends with an item of the code found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganvas.errors import GanvasError
from ganvas.explore import latent as L
from ganvas.explore.recipe import Recipe
from ganvas.studio import outputs as O
from ganvas.studio.jobs import PREVIEW_EVERY, Job
from ganvas.studio.results import Projected
from ganvas.studio.runs import NotFound
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.generation import Drawn, GenerationService
from ganvas.studio.state import StudioState

MAX_PROJECTION_STEPS = 500
FAR_FROM_DATA = 2.5     # a target this many times as far from the training data as a typical new item is gets a
                        # warning (emoji: held-out items 0.8-1.8, the model's own outputs 1.5-2.2, Crawl's terrain
                        # tiles 4-6.4; measured with the guard's features, ganvas.publish.guard.distance_from_data)


@dataclass(frozen=True)
class ProjectRequest:
    image: Any                          # a decoded PIL image (ganvas.studio.uploads checked its size)
    steps: int = 150
    space: str | None = None            # w | w+ | z; default the model's
    features: str = "random"            # random | none
    seed: int = 0


class ProjectionService:
    def __init__(self, state: StudioState, catalogue: Catalogue, generation: GenerationService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.generation = generation

    def start(self, model: str, req: ProjectRequest) -> Job:
        """Check the request, prepare the target, and start the job (`Busy` when too many run)."""
        from ganvas.explore import projection

        item = self.catalogue.generator(model)
        G = item.model
        steps = req.steps
        if not 1 <= steps <= MAX_PROJECTION_STEPS:
            raise GanvasError(f"projection steps must be in 1..{MAX_PROJECTION_STEPS}, got {steps}")
        if req.features == "domain":
            raise GanvasError("the studio projects with features 'random' or 'none' ('domain' trains a network: "
                              "use `ganvas explore project --features domain`)")
        space = req.space or projection.default_space(G)
        projection.check(G, steps, space, req.features)
        with self.state.compute:
            target = projection.prepare_target(G, req.image)
            distance = self.state.publishing.distance_from_data(G, G.domain.to_array(target))
        warning = None
        if distance is not None and distance > FAR_FROM_DATA:
            data = G.meta.get("dataset", {}).get("name", "its training data")
            warning = (f"this picture is far from what the model learnt ({distance:.1f}× as far from every {data} "
                       f"picture as a typical new one is): the result is only the nearest it can draw")

        def picture(x: Any) -> str:
            return O.data_url(G.domain.encode(x[:1], "png"))

        def work(job: Job) -> dict[str, Any]:
            def progress(step: int, loss: float, current: Any) -> None:
                job.report(step, loss, picture(current()) if step % PREVIEW_EVERY == 0 or step == steps else None)

            p = projection.project(G, target, steps, space, req.features, seed=req.seed, callback=progress,
                                   should_stop=job.cancel.is_set, step_lock=lambda: self.state.compute)
            recipe = Recipe(latent=L.compact(G, p.code[0]), space=L.edit_space(G))
            with self.state.compute:
                out = L.draw(G, p.code)
            item_ = self.generation.items(item, Drawn([recipe], p.code, p.code, out, [None]))[0]
            return Projected(item_, picture(p.target), round(p.pixel_error, 5), p.steps, p.space,
                             p.features, None if distance is None else round(distance, 3), warning).to_json()

        return self.state.jobs.start(model, steps, work)

    def job(self, job_id: str) -> Job:
        j = self.state.jobs.get(job_id)
        if j is None:
            raise NotFound(f"no projection job '{job_id[:40]}' (finished jobs are kept for a while only)")
        return j

    def cancel(self, job_id: str) -> Job:
        """Stop a job; its best code so far is kept as its result."""
        j = self.state.jobs.get(job_id)
        if j is None:
            raise NotFound(f"no projection job '{job_id[:40]}'")
        j.cancel.set()
        return j
