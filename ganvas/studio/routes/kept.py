"""Routes: record what a person keeps (with its novelty, value and style ambiguity) beside its run."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, Kept

router = APIRouter()


@router.post("/api/models/{model:path}/kept", tags=["explore"],
             summary="Record a kept output: its recipe and measures, appended to the run's studio/kept.jsonl",
             responses=MODEL_ERRORS)
def keep(model: str, body: S.RecipeIn, kept: Kept) -> dict[str, Any]:
    return kept.keep(model, body)
