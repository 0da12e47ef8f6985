"""Routes: outputs as files (one, or a zip with provenance and codes) and provenance records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, Export

router = APIRouter()


@router.post("/api/models/{model:path}/provenance", tags=["outputs"], summary="The provenance record of a recipe",
             responses=MODEL_ERRORS)
def provenance(model: str, body: S.RecipeIn, service: Export) -> dict[str, Any]:
    return service.provenance(model, body)


@router.post("/api/models/{model:path}/export", tags=["outputs"], response_class=Response,
             summary="One output as a file: png (with provenance inside), midi or wav (music)",
             responses={200: {"content": {"image/png": {}, "audio/midi": {}, "audio/wav": {}}}, **MODEL_ERRORS})
def export(model: str, body: S.RecipeIn, service: Export,
           format: str = Query("png", pattern="^(png|midi|wav)$")) -> Response:
    file = service.export(model, body, format)
    return Response(file.data, media_type=file.media_type)


@router.post("/api/models/{model:path}/download", tags=["outputs"], response_class=Response,
             summary="A zip of outputs, each with provenance.json and latent.safetensors",
             responses={200: {"content": {"application/zip": {}}}, **MODEL_ERRORS})
def download(model: str, body: S.DownloadIn, service: Export) -> Response:
    file = service.download(model, body)
    return Response(file.data, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})
