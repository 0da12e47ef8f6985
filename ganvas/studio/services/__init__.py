"""The studio's services: what each route does, without HTTP.

Each takes typed requests (the API's bodies in ganvas.studio.schemas, or a service's own dataclass)
and returns typed results (ganvas.studio.results). They share one `StudioState` (the models, the
compute lock, the jobs, the encoded files), handed to each explicitly; `Services` makes them once
per app, each with the others it needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.directions import DirectionService
from ganvas.studio.services.export import ExportService
from ganvas.studio.services.generation import GenerationService
from ganvas.studio.services.kept import KeptService
from ganvas.studio.services.projection import ProjectionService
from ganvas.studio.services.publish import PublishService
from ganvas.studio.services.sketch import SketchService
from ganvas.studio.services.text import TextService
from ganvas.studio.services.translation import TranslationService
from ganvas.studio.services.units import UnitService
from ganvas.studio.services.why import WhyService
from ganvas.studio.state import StudioState


@dataclass(frozen=True)
class Services:
    state: StudioState
    catalogue: Catalogue
    directions: DirectionService
    generation: GenerationService
    export: ExportService
    projection: ProjectionService
    translation: TranslationService
    sketch: SketchService
    text: TextService
    publish: PublishService
    kept: KeptService
    units: UnitService
    why: WhyService

    @classmethod
    def over(cls, state: StudioState) -> Services:
        catalogue = Catalogue(state)
        directions = DirectionService(state, catalogue)
        generation = GenerationService(state, catalogue, directions)
        export = ExportService(state, catalogue, generation)
        return cls(state, catalogue, directions, generation, export,
                   ProjectionService(state, catalogue, generation), TranslationService(state, catalogue),
                   SketchService(state, catalogue), TextService(state, catalogue),
                   PublishService(state, catalogue, generation, export), KeptService(state, catalogue, generation),
                   UnitService(state, catalogue), WhyService(state, catalogue, generation))
