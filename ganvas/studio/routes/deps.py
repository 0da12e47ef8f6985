"""What routes are given (FastAPI dependencies): the app's services, made once in `create_app`, and the
OpenAPI declarations routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ganvas.studio import schemas as S
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.directions import DirectionService
from ganvas.studio.services.export import ExportService
from ganvas.studio.services.generation import GenerationService
from ganvas.studio.services.projection import ProjectionService
from ganvas.studio.services.translation import TranslationService
from ganvas.studio.state import StudioState

MODEL_ERRORS = S.errors(400, 404, 422)     # what every route naming a model may answer
UPLOAD_BODY = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the image (PNG, JPEG, WebP, GIF, BMP)"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}


# async: resolved on the event loop, not sent through the thread pool like a plain function
async def _state(request: Request) -> StudioState:
    return request.app.state.services.state


async def _catalogue(request: Request) -> Catalogue:
    return request.app.state.services.catalogue


async def _directions(request: Request) -> DirectionService:
    return request.app.state.services.directions


async def _generation(request: Request) -> GenerationService:
    return request.app.state.services.generation


async def _export(request: Request) -> ExportService:
    return request.app.state.services.export


async def _projection(request: Request) -> ProjectionService:
    return request.app.state.services.projection


async def _translation(request: Request) -> TranslationService:
    return request.app.state.services.translation


State = Annotated[StudioState, Depends(_state)]
Models = Annotated[Catalogue, Depends(_catalogue)]
Directions = Annotated[DirectionService, Depends(_directions)]
Generation = Annotated[GenerationService, Depends(_generation)]
Export = Annotated[ExportService, Depends(_export)]
Projection = Annotated[ProjectionService, Depends(_projection)]
Translation = Annotated[TranslationService, Depends(_translation)]
