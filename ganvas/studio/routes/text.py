"""Routes: texts of a text model (codes, acrostic, keywords, first line, temperature), one text as a file,
several as a zip with provenance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, Text

router = APIRouter()


@router.post("/api/models/{model:path}/write/export", tags=["text"], response_class=Response,
             summary="One text again as a file: txt, png (calligraphy, provenance inside) or json (text, codes, "
                     "provenance)",
             responses={200: {"content": {"text/plain": {}, "image/png": {}, "application/json": {}}},
                        **MODEL_ERRORS})
def write_export(model: str, body: S.WriteRecipeIn, service: Text,
                 format: str = Query("txt", pattern="^(txt|png|json)$")) -> Response:
    file = service.export(model, body, format)
    return Response(file.data, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


@router.post("/api/models/{model:path}/write/download", tags=["text"], response_class=Response,
             summary="A zip of texts, each as .txt, .png and .json with provenance.json",
             responses={200: {"content": {"application/zip": {}}}, **MODEL_ERRORS})
def write_download(model: str, body: S.WriteDownloadIn, service: Text) -> Response:
    file = service.download(model, body)
    return Response(file.data, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


@router.post("/api/models/{model:path}/write", tags=["text"], responses=MODEL_ERRORS,
             summary="Texts of seeds under control codes and constraints (acrostic, keywords, first line)")
def write(model: str, body: S.WriteIn, service: Text) -> dict[str, Any]:
    return {"items": [t.to_json() for t in service.write(model, body)]}
