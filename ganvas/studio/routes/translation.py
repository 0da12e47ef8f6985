"""Route: translate an uploaded picture, or a typed line for font models (JSON, or a form's fields)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ganvas.errors import GanvasError
from ganvas.studio import schemas as S
from ganvas.studio.errors import one_line
from ganvas.studio.routes.deps import MODEL_ERRORS, UPLOAD_BODY, State, Translation
from ganvas.studio.services.translation import TranslateRequest
from ganvas.studio.uploads import decode_image, read_body, read_upload

router = APIRouter()


@router.post("/api/models/{model:path}/translate", tags=["translation"], openapi_extra={"requestBody": {"content": {
    **UPLOAD_BODY["requestBody"]["content"],
    "application/json": {"schema": S.TextIn.model_json_schema()}}}},
    summary="Translate an uploaded picture, or a typed line for font models",
    responses={**MODEL_ERRORS, **S.errors(415)})
async def translate(model: str, request: Request, state: State, translation: Translation,
                    direction: str = Query("AtoB", pattern="^(AtoB|BtoA)$"),
                    download: bool = Query(False, description="answer a zip: output-N.png (watermarked, signed), "
                                                              "input-N.png, provenance.json")) -> Any:
    async def run(req: TranslateRequest) -> Any:
        if download:
            file = await run_in_threadpool(translation.download, model, req)
            return Response(file.data, media_type=file.media_type,
                            headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})
        return (await run_in_threadpool(translation.translate, model, req)).to_json()

    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = S.TextIn.model_validate(json.loads(await read_body(request, 64 * 1024)))
        except ValueError as exc:
            raise GanvasError(f"translate: {one_line(exc)}") from None
        return await run(TranslateRequest(body.direction, text=body.text, font=body.font))
    upload = await read_upload(request, state.max_upload_bytes)
    direction = upload.fields.get("direction", direction)
    if direction not in ("AtoB", "BtoA"):
        raise GanvasError(f"direction must be AtoB or BtoA, got {direction!r}")
    text = upload.fields.get("text")
    if upload.data is None and text:
        if len(text) > 64:
            raise GanvasError(f"text has {len(text)} characters; at most 64 are translated at once")
        return await run(TranslateRequest(direction, text=text, font=upload.fields.get("font")))
    image = await run_in_threadpool(decode_image, upload.data, upload.filename or "upload", state.max_upload_pixels)
    return await run(TranslateRequest(direction, image=image))
