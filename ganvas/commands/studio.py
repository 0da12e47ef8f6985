"""`ganvas studio RUNS_DIR`: the studio page and the REST API, served by uvicorn."""

from __future__ import annotations

import click

from ganvas.commands import PathArg


@click.command()
@click.argument("runs", type=PathArg, default="runs")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on; the studio has no login, so keep it on this machine unless you trust "
                   "the network")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="port (0 = any free)")
@click.option("--max-models", type=click.IntRange(1, 64), default=4, show_default=True,
              help="models kept loaded at once (least recently used dropped)")
@click.option("--max-projections", type=click.IntRange(1, 16), default=1, show_default=True,
              help="projections running at once; more are refused with HTTP 429")
@click.option("--max-upload-mb", type=click.FloatRange(0.01, 1024), default=8.0, show_default=True,
              help="largest upload (and request body) accepted, in MiB")
@click.option("--max-upload-megapixels", type=click.FloatRange(0.01, 200), default=16.0, show_default=True,
              help="largest uploaded image accepted, in millions of pixels")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
@click.option("--threads", type=click.IntRange(0), default=0, help="torch threads (0 = one per core)")
def studio(runs, host, port, max_models, max_projections, max_upload_mb, max_upload_megapixels, device,
           threads) -> None:
    """Open the studio on every model in RUNS (default ./runs): http://HOST:PORT/ in a browser."""
    import socket

    import torch
    import uvicorn

    from ganvas.accel import pick_device
    from ganvas.console import info
    from ganvas.studio.app import create_app

    if threads:
        torch.set_num_threads(threads)
    app = create_app(runs, max_models, str(pick_device(device)), max_projections,
                     int(max_upload_mb * 1024 * 1024), int(max_upload_megapixels * 1_000_000))
    count = len(app.state.studio.models())
    if host not in ("127.0.0.1", "localhost", "::1"):
        info(f"listening on {host}: anyone who can reach this address can use the studio (it has no login)")
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on sockets that say they are TCP, and with
    # it on, each keep-alive response waited ~40 ms for the client's delayed ACK (bench/studio_latency.py)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        from ganvas.errors import GanvasError

        raise GanvasError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    shown = f"[{host}]" if ":" in host else host
    info(f"ganvas studio: {count} model(s) in {app.state.studio.index.root}")
    info(f"open http://{shown}:{sock.getsockname()[1]}/ (REST API schema: /openapi.json); Ctrl+C stops")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
