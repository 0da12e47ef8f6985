"""Route: a drawing from the canvas through a sketch-to-image model (the output, or a zip to download)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, UPLOAD_BODY, Sketch, State
from ganvas.studio.services.sketch import SketchRequest
from ganvas.studio.uploads import decode_image, read_upload

router = APIRouter()


@router.post("/api/models/{model:path}/sketch", tags=["translation"], openapi_extra=UPLOAD_BODY,
             summary="Render a drawing (a square image, dark lines on white; resized to the model's side) "
                     "through a pix2pix model; download=true: a zip with provenance",
             responses={200: {"content": {"application/json": {}, "application/zip": {}}},
                        **MODEL_ERRORS, **S.errors(413, 415)})
async def sketch(model: str, request: Request, state: State, service: Sketch,
                 download: bool = Query(False, description="answer a zip: output.png, sketch.png, provenance.json"),
                 ) -> Any:
    upload = await read_upload(request, state.max_upload_bytes)
    image = await run_in_threadpool(decode_image, upload.data, upload.filename or "sketch", state.max_upload_pixels)
    if download:
        file = await run_in_threadpool(service.download, model, SketchRequest(image))
        return Response(file.data, media_type=file.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})
    return (await run_in_threadpool(service.render, model, SketchRequest(image))).to_json()
