"""Routes: a generator's units (GAN dissection): its layers with units, and each concept's top units of one.

Switching units off or up is part of a recipe (`units` of POST …/render), so it draws, downloads and records
provenance like any other edit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ganvas.explore import dissect as DS
from ganvas.studio.routes.deps import MODEL_ERRORS, Units
from ganvas.studio.services.units import MAX_SAMPLES, UnitsRequest

router = APIRouter()


@router.get("/api/models/{model:path}/units", tags=["units"], responses=MODEL_ERRORS,
            summary="Units of a layer scored against concepts (foreground IoU, class correlation): computed once, "
                    "cached")
def units(model: str, service: Units, layer: str | None = Query(None, max_length=200),
          samples: int = Query(DS.DEFAULT_SAMPLES, ge=8, le=MAX_SAMPLES), seed: int = Query(0, ge=0, le=2**31 - 1),
          top: int = Query(DS.TOP, ge=1, le=64), classes: bool = True) -> dict[str, Any]:
    return service.dissect(model, UnitsRequest(layer, samples, seed, top, classes))
