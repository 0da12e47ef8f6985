"""The studio's error answers: one line of JSON ``{"error": …, "status": N}`` for every refusal and bug.

400 for values ganvas cannot use (the message names the value and what was expected), 404 for unknown
models and jobs, 413/415 for uploads, 422 for requests of the wrong shape, 429 when too many
projections run, 500 (same shape, never a traceback) for a bug in ganvas. Messages show paths
inside the runs folder only.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ganvas.errors import GanvasError
from ganvas.studio.jobs import Busy
from ganvas.studio.runs import NotFound
from ganvas.studio.uploads import UploadError


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def one_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)        # validation errors (FastAPI's and pydantic's) list their fields
    if callable(errors):
        errs = errors()
        if errs:
            e = errs[0]
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            return f"{where or 'body'}: {e.get('msg', 'invalid')}" + (f" (and {len(errs) - 1} more)" if len(errs) > 1
                                                                      else "")
    return " ".join(str(exc).split())[:300]


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as strict JSON: NaN and ±Infinity (which Python's JSON reader accepts) become strings,
    anything else unknown its str(), long inputs cut short (an error echoes the input it refused)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if depth < 8 and isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:64]}
    if depth < 8 and isinstance(value, list | tuple):
        return [jsonable(v, depth + 1) for v in value[:64]]
    return jsonable(str(value), depth + 1)


def public(request: Request, exc: Exception) -> str:
    """The message with the server's own folders cut to paths inside the runs folder."""
    text = " ".join(str(exc).split())
    services = getattr(request.app.state, "services", None)
    if services is not None:
        root = str(services.state.index.root)
        text = text.replace(root + "/", "").replace(root, "the runs folder")
    return text


def install_errors(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return error(404, public(request, exc))

    @app.exception_handler(UploadError)
    async def upload(request: Request, exc: UploadError) -> JSONResponse:
        return error(exc.status, public(request, exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return error(429, public(request, exc))

    @app.exception_handler(GanvasError)
    async def ganvas_error(request: Request, exc: GanvasError) -> JSONResponse:
        return error(400, public(request, exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": one_line(exc), "status": 422, "details": jsonable(exc.errors())},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        return error(500, f"internal error in ganvas: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
