"""The REST API, one router per area, each a thin layer: HTTP in (paths, queries, bodies, uploads), a
service call, HTTP out. `ROUTERS` is the order `create_app` includes them in: model names may hold
'/', so the route of a plain model path (`GET /api/models/{model}`) comes after every longer one, and
…/write/export and …/write/download come before …/export and …/download."""

from __future__ import annotations

from ganvas.studio.routes import (
    export,
    generate,
    jobs,
    kept,
    models,
    projection,
    publish,
    sketch,
    text,
    translation,
    units,
    why,
)

ROUTERS = [models.router, jobs.router, text.router, generate.router, export.router, projection.router,
           translation.router, sketch.router, publish.router, kept.router, units.router, why.router, models.details]
