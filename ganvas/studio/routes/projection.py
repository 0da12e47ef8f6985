"""Route: start a projection of an uploaded picture (its progress is at /api/jobs/ID, ganvas.studio.routes.jobs)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, UPLOAD_BODY, Projection, State
from ganvas.studio.services.projection import ProjectRequest
from ganvas.studio.uploads import decode_image, read_upload

router = APIRouter()


@router.post("/api/models/{model:path}/project", tags=["projection"], status_code=202, openapi_extra=UPLOAD_BODY,
             summary="Start finding the code that reproduces an uploaded image (poll /api/jobs/ID?wait=S)",
             responses={200: {"description": "with wait=true: the finished job", "content": {"application/json": {}}},
                        202: {"description": "the job"},
                        **MODEL_ERRORS, **S.errors(415, 429)})
async def project(model: str, request: Request, state: State, projection: Projection,
                  steps: int = Query(150, ge=1, le=500),
                  space: str | None = Query(None, pattern="^(w|w\\+|z)$"),
                  features: str = Query("random", pattern="^(random|none)$"),
                  seed: int = Query(0, ge=0, le=2**31 - 1),
                  wait: bool = Query(False, description="answer when done (at most 10 minutes)")) -> Any:
    upload = await read_upload(request, state.max_upload_bytes)
    image = await run_in_threadpool(decode_image, upload.data, upload.filename or "upload", state.max_upload_pixels)
    job = await run_in_threadpool(projection.start, model, ProjectRequest(image, steps, space, features, seed))
    if wait:
        await job.wait_async(600)
        return JSONResponse(job.to_dict(), status_code=200)
    return JSONResponse(job.to_dict(), status_code=202)
