"""The studio's web app: the REST API under /api and the studio page at /, one FastAPI process.

`create_app` makes the shared state and the services over it (ganvas.studio.state, .services), adds
the guard, the body limit and the headers every answer carries, and includes one router per area
(ganvas.studio.routes); errors are one line of JSON (ganvas.studio.errors), and the OpenAPI schema
declares each status. Handlers are plain functions run in FastAPI's thread pool; model work is
serialised by the state's compute lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders

from ganvas.studio import schemas as S
from ganvas.studio.errors import install_errors
from ganvas.studio.guard import BodyLimit, Checks, Guard
from ganvas.studio.publishing import Publishing
from ganvas.studio.routes import ROUTERS
from ganvas.studio.services import Services
from ganvas.studio.state import StudioState
from ganvas.version import __version__

STATIC = Path(__file__).parent / "static"
# the page loads nothing from elsewhere: no CDN, no fonts, no analytics
CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; style-src 'self'; "
       "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


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


def create_app(runs: str | Path, max_models: int = 4, device: str = "cpu", max_projections: int = 1,
               max_upload_bytes: int = 8 * 1024 * 1024, max_upload_pixels: int = 16_000_000,
               guard: Guard | None = None, publishing: Publishing | None = None) -> FastAPI:
    """The studio for the runs folder `runs` (every checkpoint under it is a model).

    `guard` says which Host headers, origins and token it accepts (default: a studio on loopback
    without a token, answering to localhost, 127.0.0.1 and ::1 only). `publishing`: how downloads are
    watermarked, signed and guarded (default: watermark on, the memorization guard flags near-copies).
    """
    state = StudioState(runs, max_models, device, max_projections, max_upload_bytes, max_upload_pixels, publishing)
    app = FastAPI(title="ganvas studio", version=__version__, docs_url=None, redoc_url=None,   # those load CDNs
                  description="Explore and make things with the GANs in a runs folder: seeds, truncation, "
                              "GANSpace directions, interpolation, breeding, projection, translation; "
                              "downloads carry their provenance.",
                  responses=S.errors(401, 403, 413))     # any request may meet the guard and the body limit
    app.state.studio = state                            # the shared state (the models, the jobs)
    app.state.services = Services.over(state)           # what routes are given (ganvas.studio.routes.deps)
    install_errors(app)

    app.add_middleware(Headers)
    app.add_middleware(BodyLimit, limit=max_upload_bytes + 64 * 1024)
    app.state.guard = guard = guard or Guard()
    app.add_middleware(Checks, guard=guard)                 # added last: the first to see a request

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
