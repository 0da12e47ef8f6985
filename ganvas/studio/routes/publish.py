"""Routes: verify an uploaded file (`ganvas verify`), and the memorization guard's word on one output."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, Publish, State
from ganvas.studio.uploads import read_upload

router = APIRouter()


@router.post("/api/verify", tags=["publish"], openapi_extra={"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "any file ganvas wrote"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
    summary="Verify a file: its signed manifest, whether its content changed, its watermark, C2PA, its origin",
    responses=S.errors(400, 413, 415))
async def verify(request: Request, state: State, publish: Publish) -> dict[str, Any]:
    upload = await read_upload(request, state.max_upload_bytes)
    return await run_in_threadpool(publish.verify, upload.data or b"", upload.filename or "upload")


@router.post("/api/models/{model:path}/guard", tags=["publish"],
             summary="The memorization guard on one output: its nearest training item, flagged when a near-copy",
             responses=MODEL_ERRORS)
def guard(model: str, body: S.RecipeIn, publish: Publish) -> dict[str, Any]:
    return publish.guard(model, body)
