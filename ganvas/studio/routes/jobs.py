"""Routes: a projection job's progress (long-polled) and its cancellation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ganvas.studio import schemas as S
from ganvas.studio.routes.deps import Projection

router = APIRouter()


@router.get("/api/jobs/{job_id}", tags=["projection"], summary="A projection's progress, preview and result",
            responses=S.errors(404, 422))
async def job(job_id: str, projection: Projection,
              wait: float = Query(0, ge=0, le=60, description="seconds to wait for the job to finish before "
                                  "answering (a long poll); 0 answers at once")) -> dict[str, Any]:
    j = projection.job(job_id)
    if wait:
        await j.wait_async(wait)
    return j.to_dict()


@router.delete("/api/jobs/{job_id}", tags=["projection"], summary="Stop a projection (its best code so far is kept)",
               responses=S.errors(404, 422))
def cancel(job_id: str, projection: Projection) -> dict[str, Any]:
    return projection.cancel(job_id).to_dict()
