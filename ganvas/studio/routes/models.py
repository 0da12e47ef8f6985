"""Routes: the studio's health, the models in the runs folder, and one model's details."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ganvas.studio.routes.deps import MODEL_ERRORS, Models, State
from ganvas.version import __version__

router = APIRouter()
# The details route matches any model path, so it is included after every route of a longer path.
details = APIRouter()


@router.get("/api/health", tags=["studio"])
def health(state: State) -> dict[str, Any]:
    return {"status": "ok", "ganvas": __version__, "loaded": state.cache.loaded(),
            "projections_running": state.jobs.running()}


@router.get("/api/models", tags=["models"], summary="Every model in the runs folder")
def models(catalogue: Models) -> dict[str, Any]:
    return {"models": [m.to_json() for m in catalogue.models()]}


@details.get("/api/models/{model:path}", tags=["models"], summary="One model: its data, spaces and options",
             responses=MODEL_ERRORS)
def model_details(model: str, catalogue: Models) -> dict[str, Any]:
    return catalogue.details(model).to_json()
