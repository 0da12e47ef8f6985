"""What routes are given (FastAPI dependencies): the app's services, made once in `create_app`, and the
OpenAPI declarations routes share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from ganvas.studio import schemas as S
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

MODEL_ERRORS = S.errors(400, 404, 422)     # what every route naming a model may answer
UPLOAD_BODY = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the image (PNG, JPEG, WebP, GIF, BMP)"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}


def _service(name: str) -> Callable[[Request], Awaitable[Any]]:
    """The dependency handing out the app's service `name`. Async: resolved on the event loop, not sent
    through the thread pool like a plain function."""
    async def get(request: Request) -> Any:
        return getattr(request.app.state.services, name)

    return get


State = Annotated[StudioState, Depends(_service("state"))]
Models = Annotated[Catalogue, Depends(_service("catalogue"))]
Directions = Annotated[DirectionService, Depends(_service("directions"))]
Generation = Annotated[GenerationService, Depends(_service("generation"))]
Export = Annotated[ExportService, Depends(_service("export"))]
Projection = Annotated[ProjectionService, Depends(_service("projection"))]
Translation = Annotated[TranslationService, Depends(_service("translation"))]
Sketch = Annotated[SketchService, Depends(_service("sketch"))]
Text = Annotated[TextService, Depends(_service("text"))]
Publish = Annotated[PublishService, Depends(_service("publish"))]
Kept = Annotated[KeptService, Depends(_service("kept"))]
Units = Annotated[UnitService, Depends(_service("units"))]
Why = Annotated[WhyService, Depends(_service("why"))]
