"""The studio's web app: the REST API under /api and the studio page at /, one FastAPI process.

Errors are JSON ``{"error": "one line", "status": N}``: 400 for values ganvas cannot use (the
message names the value and what was expected), 401 without the token when one is required, 403
for a foreign Host header or a change sent from another origin (ganvas.studio.guard), 404 for
unknown models and jobs, 413 for bodies and images over the limits, 415 for uploads that are not
images, 422 for bodies of the wrong shape, 429 when too many projections run; the OpenAPI schema
declares each. A bug in ganvas is a 500 with the same shape, never a
traceback in the page. Handlers are plain functions run in FastAPI's thread pool; model work is
serialised by the studio's compute lock (ganvas.studio.service).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganvas.errors import GanvasError
from ganvas.studio import schemas as S
from ganvas.studio.guard import BodyLimit, Checks, Guard
from ganvas.studio.jobs import Busy
from ganvas.studio.runs import NotFound
from ganvas.studio.service import Studio
from ganvas.studio.uploads import UploadError, decode_image, read_upload
from ganvas.version import __version__

STATIC = Path(__file__).parent / "static"
# the page loads nothing from elsewhere: no CDN, no fonts, no analytics
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
UPLOAD_BODY = {"requestBody": {"content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the image (PNG, JPEG, WebP, GIF, BMP)"}}}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}


class Headers:
    """Headers on every answer: Server-Timing, nosniff, no referrer (a token in the URL stays here), the CSP
    on the page, no-store on the API. Plain ASGI, so exceptions (a body over the limit) pass through as raised."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        api = scope["path"].startswith("/api/")

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Server-Timing"] = f"app;dur={1000 * (time.perf_counter() - t0):.2f}"
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = CSP
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


MODEL_ERRORS = S.errors(400, 404, 422)     # what every route naming a model may answer


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def create_app(runs: str | Path, max_models: int = 4, device: str = "cpu", max_projections: int = 1,
               max_upload_bytes: int = 8 * 1024 * 1024, max_upload_pixels: int = 16_000_000,
               guard: Guard | None = None) -> FastAPI:
    """The studio for the runs folder `runs` (every checkpoint under it is a model).

    `guard` says which Host headers, origins and token it accepts (default: a studio on loopback
    without a token, answering to localhost, 127.0.0.1 and ::1 only).
    """
    studio = Studio(runs, max_models, device, max_projections, max_upload_bytes, max_upload_pixels)
    app = FastAPI(title="ganvas studio", version=__version__, docs_url=None, redoc_url=None,   # those load CDNs
                  description="Explore and make things with the GANs in a runs folder: seeds, truncation, "
                              "GANSpace directions, interpolation, breeding, projection, translation; "
                              "downloads carry their provenance.",
                  responses=S.errors(401, 403, 413))     # any request may meet the guard and the body limit
    app.state.studio = studio
    install_errors(app)

    app.add_middleware(Headers)
    app.add_middleware(BodyLimit, limit=max_upload_bytes + 64 * 1024)
    app.state.guard = guard = guard or Guard()
    app.add_middleware(Checks, guard=guard)                 # added last: the first to see a request

    # --- the page -------------------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # --- models ---------------------------------------------------------------------------------------

    @app.get("/api/health", tags=["studio"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "ganvas": __version__, "loaded": studio.cache.loaded(),
                "projections_running": studio.jobs.running()}

    @app.get("/api/models", tags=["models"], summary="Every model in the runs folder")
    def models() -> dict[str, Any]:
        return {"models": studio.models()}

    @app.get("/api/jobs/{job_id}", tags=["projection"], summary="A projection's progress, preview and result",
             responses=S.errors(404, 422))
    async def job(job_id: str, wait: float = Query(0, ge=0, le=60, description="seconds to wait for the job to "
                                                   "finish before answering (a long poll); 0 answers at once")
                  ) -> dict[str, Any]:
        j = studio.jobs.get(job_id)
        if j is None:
            raise NotFound(f"no projection job '{job_id[:40]}' (finished jobs are kept for a while only)")
        if wait:
            await j.wait_async(wait)
        return j.to_dict()

    @app.delete("/api/jobs/{job_id}", tags=["projection"], summary="Stop a projection (its best code so far is kept)",
                responses=S.errors(404, 422))
    def cancel(job_id: str) -> dict[str, Any]:
        j = studio.jobs.get(job_id)
        if j is None:
            raise NotFound(f"no projection job '{job_id[:40]}'")
        j.cancel.set()
        return j.to_dict()

    # model names may hold '/', so the specific routes come before the plain one
    @app.get("/api/models/{model:path}/directions/grid", tags=["directions"], response_class=Response,
             summary="A PNG: one seed moved along each direction from −span·σ to +span·σ",
             responses={200: {"content": {"image/png": {}}}, **MODEL_ERRORS})
    def directions_grid(model: str, count: int = Query(8, ge=1, le=64), steps: int = Query(7, ge=2, le=15),
                        span: float = Query(2.0, gt=0, le=20, allow_inf_nan=False),
                        seed: int = Query(0, ge=0, le=2**63 - 1),
                        truncation: float | None = Query(None, ge=0, le=1, allow_inf_nan=False),
                        layers: str | None = None, method: str | None = None,
                        components: int = Query(16, ge=1, le=64)) -> Response:
        from ganvas.explore import ganspace
        from ganvas.explore.recipe import DirectionSet, _layers

        item = studio.generator(model)
        d = studio.directions(item, DirectionSet(method, components))
        idx = _layers(layers, item.model)
        with studio.compute:
            pic = ganspace.picture(item.model, d, count, steps, span, seed, truncation, idx)
        from ganvas.studio import outputs as O

        return Response(O.png(pic), media_type="image/png")

    @app.get("/api/models/{model:path}/directions", tags=["directions"], responses=MODEL_ERRORS,
             summary="GANSpace directions: each one's σ and share of variance (computed once, cached)")
    def directions(model: str, method: str | None = None, components: int = Query(16, ge=1, le=64),
                   samples: int | None = Query(None, ge=32, le=S.MAX_SAMPLES),
                   seed: int = Query(0, ge=0, le=2**31 - 1),
                   layer: str | None = Query(None, max_length=200)) -> dict[str, Any]:
        from ganvas.explore.recipe import DirectionSet

        item = studio.generator(model)
        ds = DirectionSet(method, components, samples, seed, layer)
        d = studio.directions(item, ds)
        return {"set": ds.to_dict(d), "space": d.space, "layer": d.layer,
                "num_ws": item.model.model.code_shape("w")[0] if d.space == "w" else None,
                "directions": d.describe()}

    @app.post("/api/models/{model:path}/seeds", tags=["generate"], summary="Outputs of seeds (a grid)",
              responses=MODEL_ERRORS)
    def seeds(model: str, body: S.SeedsIn) -> dict[str, Any]:
        chosen = body.seeds if body.seeds is not None else list(range(body.start, body.start + body.count))
        return {"items": studio.seeds(model, chosen, body.truncation, body.truncation_cutoff)}

    @app.post("/api/models/{model:path}/render", tags=["generate"],
              summary="One output of a recipe (seed or latent, truncation, direction edits)",
              responses={200: {"content": {"image/png": {}}}, **MODEL_ERRORS})
    def render(model: str, body: S.RecipeIn, format: str = Query("json", pattern="^(json|png)$")) -> Any:
        out = studio.render_one(model, body.model_dump(), format)
        return Response(out, media_type="image/png") if format == "png" else out

    @app.post("/api/models/{model:path}/interpolate", tags=["generate"],
              summary="Frames between two seeds or latents (slerp in z, lerp in w), a strip, an animation",
              responses=MODEL_ERRORS)
    def interpolate(model: str, body: S.InterpolateIn) -> dict[str, Any]:
        return studio.interpolate(model, body.model_dump())

    @app.post("/api/models/{model:path}/breed", tags=["generate"],
              summary="Children of chosen parents: crossover (uniform or per style layer) and mutation",
              responses=MODEL_ERRORS)
    def breed(model: str, body: S.BreedIn) -> dict[str, Any]:
        return studio.breed(model, body.model_dump())

    @app.post("/api/models/{model:path}/provenance", tags=["outputs"], summary="The provenance record of a recipe",
              responses=MODEL_ERRORS)
    def provenance(model: str, body: S.RecipeIn) -> dict[str, Any]:
        return studio.provenance(model, body.model_dump())

    @app.post("/api/models/{model:path}/export", tags=["outputs"], response_class=Response,
              summary="One output as a file: png (with provenance inside), midi or wav (music)",
              responses={200: {"content": {"image/png": {}, "audio/midi": {}, "audio/wav": {}}}, **MODEL_ERRORS})
    def export(model: str, body: S.RecipeIn, format: str = Query("png", pattern="^(png|midi|wav)$")) -> Response:
        from ganvas.studio.outputs import MEDIA

        return Response(studio.export(model, body.model_dump(), format), media_type=MEDIA[format])

    @app.post("/api/models/{model:path}/download", tags=["outputs"], response_class=Response,
              summary="A zip of outputs, each with provenance.json and latent.safetensors",
              responses={200: {"content": {"application/zip": {}}}, **MODEL_ERRORS})
    def download(model: str, body: S.DownloadIn) -> Response:
        data = studio.download(model, body.model_dump())
        stem = model.replace("/", "_").replace("@", "-step")
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="ganvas-{stem}.zip"'})

    @app.post("/api/models/{model:path}/project", tags=["projection"], status_code=202, openapi_extra=UPLOAD_BODY,
              summary="Start finding the code that reproduces an uploaded image (poll /api/jobs/ID?wait=S)",
              responses={200: {"description": "with wait=true: the finished job", "content": {"application/json": {}}},
                         202: {"description": "the job"},
                         **MODEL_ERRORS, **S.errors(415, 429)})
    async def project(model: str, request: Request, steps: int = Query(150, ge=1, le=500),
                      space: str | None = Query(None, pattern="^(w|w\\+|z)$"),
                      features: str = Query("random", pattern="^(random|none)$"),
                      seed: int = Query(0, ge=0, le=2**31 - 1),
                      wait: bool = Query(False, description="answer when done (at most 10 minutes)")) -> Any:
        upload = await read_upload(request, studio.max_upload_bytes)
        image = await run_in_threadpool(decode_image, upload.data, upload.filename or "upload",
                                        studio.max_upload_pixels)
        job = await run_in_threadpool(studio.project, model, image, steps, space, features, seed)
        if wait:
            await job.wait_async(600)
            return JSONResponse(job.to_dict(), status_code=200)
        return JSONResponse(job.to_dict(), status_code=202)

    @app.post("/api/models/{model:path}/translate", tags=["translation"], openapi_extra={"requestBody": {"content": {
        **UPLOAD_BODY["requestBody"]["content"],
        "application/json": {"schema": S.TextIn.model_json_schema()}}}},
        summary="Translate an uploaded picture, or a typed line for font models",
        responses={**MODEL_ERRORS, **S.errors(415)})
    async def translate(model: str, request: Request, direction: str = Query("AtoB", pattern="^(AtoB|BtoA)$")
                        ) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            from ganvas.studio.uploads import read_body

            try:
                body = S.TextIn.model_validate(json.loads(await read_body(request, 64 * 1024)))
            except ValueError as exc:
                raise GanvasError(f"translate: {_one_line(exc)}") from None
            return await run_in_threadpool(studio.translate, model, None, body.text, body.direction, body.font)
        upload = await read_upload(request, studio.max_upload_bytes)
        direction = upload.fields.get("direction", direction)
        if direction not in ("AtoB", "BtoA"):
            raise GanvasError(f"direction must be AtoB or BtoA, got {direction!r}")
        text = upload.fields.get("text")
        if upload.data is None and text:
            if len(text) > 64:
                raise GanvasError(f"text has {len(text)} characters; at most 64 are translated at once")
            return await run_in_threadpool(studio.translate, model, None, text, direction, upload.fields.get("font"))
        image = await run_in_threadpool(decode_image, upload.data, upload.filename or "upload",
                                        studio.max_upload_pixels)
        return await run_in_threadpool(studio.translate, model, image, None, direction)

    @app.get("/api/models/{model:path}", tags=["models"], summary="One model: its data, spaces and options",
             responses=MODEL_ERRORS)
    def model_details(model: str) -> dict[str, Any]:
        return studio.details(model)

    return app


def _one_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)        # validation errors (FastAPI's and pydantic's) list their fields
    if callable(errors):
        errs = errors()
        if errs:
            e = errs[0]
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            return f"{where or 'body'}: {e.get('msg', 'invalid')}" + (f" (and {len(errs) - 1} more)" if len(errs) > 1
                                                                      else "")
    return " ".join(str(exc).split())[:300]


def _jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as strict JSON: NaN and ±Infinity (which Python's JSON reader accepts) become strings,
    anything else unknown its str(), long inputs cut short (an error echoes the input it refused)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if depth < 8 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:64]}
    if depth < 8 and isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value[:64]]
    return _jsonable(str(value), depth + 1)


def _public(request: Request, exc: Exception) -> str:
    """The message with the server's own folders cut to paths inside the runs folder."""
    text = " ".join(str(exc).split())
    studio = getattr(request.app.state, "studio", None)
    if studio is not None:
        root = str(studio.index.root)
        text = text.replace(root + "/", "").replace(root, "the runs folder")
    return text


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return error(404, _public(request, exc))

    @app.exception_handler(UploadError)
    async def upload(request: Request, exc: UploadError) -> JSONResponse:
        return error(exc.status, _public(request, exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return error(429, _public(request, exc))

    @app.exception_handler(GanvasError)
    async def ganvas_error(request: Request, exc: GanvasError) -> JSONResponse:
        return error(400, _public(request, exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _one_line(exc), "status": 422, "details": _jsonable(exc.errors())},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        return error(500, f"internal error in ganvas: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
