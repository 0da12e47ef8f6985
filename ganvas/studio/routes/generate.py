"""Routes: outputs of seeds and recipes, interpolation, breeding, and GANSpace directions.

Model names may hold '/', so a route's path ends in its own words (…/directions/grid before …/directions).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ganvas.explore.recipe import DirectionSet
from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import MODEL_ERRORS, Directions, Export, Generation
from ganvas.studio.services.directions import GridRequest

router = APIRouter()


@router.get("/api/models/{model:path}/directions/grid", tags=["directions"], response_class=Response,
            summary="A PNG: one seed moved along each direction from −span·σ to +span·σ",
            responses={200: {"content": {"image/png": {}}}, **MODEL_ERRORS})
def directions_grid(model: str, service: Directions, count: int = Query(8, ge=1, le=64),
                    steps: int = Query(7, ge=2, le=15), span: float = Query(2.0, gt=0, le=20, allow_inf_nan=False),
                    seed: int = Query(0, ge=0, le=2**63 - 1),
                    truncation: float | None = Query(None, ge=0, le=1, allow_inf_nan=False),
                    layers: str | None = None, method: str | None = None,
                    components: int = Query(16, ge=1, le=64)) -> Response:
    grid = service.grid(model, GridRequest(DirectionSet(method, components), count, steps, span, seed, truncation,
                                              layers))
    return Response(grid.data, media_type=grid.media_type)


@router.get("/api/models/{model:path}/directions/names", tags=["directions"], responses=MODEL_ERRORS,
            summary="Each direction's name and largest effects: what moving along it measurably changes "
                    "(measured once, cached)")
def direction_names(model: str, service: Directions, method: str | None = None,
                    components: int = Query(16, ge=1, le=64),
                    samples: int | None = Query(None, ge=32, le=S.MAX_SAMPLES),
                    seed: int = Query(0, ge=0, le=2**31 - 1),
                    layer: str | None = Query(None, max_length=200)) -> dict[str, Any]:
    return service.names(model, DirectionSet(method, components, samples, seed, layer))


@router.get("/api/models/{model:path}/directions", tags=["directions"], responses=MODEL_ERRORS,
            summary="GANSpace directions: each one's σ and share of variance (computed once, cached)")
def directions(model: str, service: Directions, method: str | None = None,
               components: int = Query(16, ge=1, le=64), samples: int | None = Query(None, ge=32, le=S.MAX_SAMPLES),
               seed: int = Query(0, ge=0, le=2**31 - 1),
               layer: str | None = Query(None, max_length=200)) -> dict[str, Any]:
    return service.info(model, DirectionSet(method, components, samples, seed, layer)).to_json()


@router.post("/api/models/{model:path}/seeds", tags=["generate"], summary="Outputs of seeds (a grid)",
             responses=MODEL_ERRORS)
def seeds(model: str, body: S.SeedsIn, generation: Generation) -> dict[str, Any]:
    return {"items": [it.to_json() for it in generation.seeds(model, body)]}


@router.post("/api/models/{model:path}/render", tags=["generate"],
             summary="One output of a recipe (seed or latent, truncation, direction edits)",
             responses={200: {"content": {"image/png": {}}}, **MODEL_ERRORS})
def render(model: str, body: S.RecipeIn, generation: Generation, export: Export,
           format: str = Query("json", pattern="^(json|png)$")) -> Any:
    if format == "png":
        picture = export.render_png(model, body)
        return Response(picture.data, media_type=picture.media_type)
    return generation.render(model, body).to_json()


@router.post("/api/models/{model:path}/interpolate", tags=["generate"],
             summary="Frames between two seeds or latents (slerp in z, lerp in w), a strip, an animation",
             responses=MODEL_ERRORS)
def interpolate(model: str, body: S.InterpolateIn, generation: Generation) -> dict[str, Any]:
    return generation.interpolate(model, body).to_json()


@router.post("/api/models/{model:path}/breed", tags=["generate"],
             summary="Children of chosen parents: crossover (uniform or per style layer) and mutation",
             responses=MODEL_ERRORS)
def breed(model: str, body: S.BreedIn, generation: Generation) -> dict[str, Any]:
    return generation.breed(model, body).to_json()
