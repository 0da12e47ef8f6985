"""Routes: why fake? D's verdict and its map, of an output (the recipe render takes) or an uploaded picture."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, UPLOAD_BODY, State, Why
from ganvas.studio.uploads import decode_image, read_upload

router = APIRouter()


@router.post("/api/models/{model:path}/why/upload", tags=["why"], openapi_extra=UPLOAD_BODY,
             summary="D's verdict on an uploaded picture and where it comes from, drawn over it",
             responses={**MODEL_ERRORS, **S.errors(413, 415)})
async def why_upload(model: str, request: Request, state: State, service: Why,
                     label: str | None = Query(None, max_length=500,
                                               description="conditional models: the class to judge it as")
                     ) -> dict[str, Any]:
    upload = await read_upload(request, state.max_upload_bytes)
    name = upload.filename or "upload"
    image = await run_in_threadpool(decode_image, upload.data, name, state.max_upload_pixels)
    return (await run_in_threadpool(service.upload, model, image, label, name)).to_json()


@router.post("/api/models/{model:path}/why", tags=["why"],
             summary="D's verdict on one output (the recipe render takes) and where it comes from, drawn over it",
             responses=MODEL_ERRORS)
def why(model: str, body: S.RecipeIn, service: Why) -> dict[str, Any]:
    return service.recipe(model, body).to_json()
