"""`ganvas studio RUNS_DIR`: the studio page and the REST API, served by uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

from ganvas.commands import PathArg, publish_options


@click.command()
@click.argument("runs", type=PathArg, default="runs")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on; beyond loopback (e.g. 0.0.0.0) every request needs the token")
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
@click.option("--threads", type=click.IntRange(0), default=0,
              help="torch threads (0 = OMP_NUM_THREADS where set, else one per core)")
@click.option("--token", envvar="GANVAS_STUDIO_TOKEN", default=None, show_envvar=True,
              help="the token requests must carry (implies --require-token); default: a random one when needed")
@click.option("--require-token", is_flag=True,
              help="ask for the token on loopback too (always asked for when bound beyond loopback)")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="another name the studio answers to in the Host header (e.g. behind a proxy); '*' for any")
@click.option("--cache", type=PathArg, default=None,
              help="keep what the studio computes (directions, names, units) here, not in the run folders "
                   "(default: beside each run, or under GANVAS_HOME when a run folder is read-only)")
@publish_options
def studio(runs, host, port, max_models, max_projections, max_upload_mb, max_upload_megapixels, device,
           threads, token, require_token, allow_hosts, cache, no_watermark, guard) -> None:
    """Open the studio on every model in RUNS (default ./runs): http://HOST:PORT/ in a browser.

    On loopback (the default) it answers only to this machine's names and takes changes only from its
    own page; bound beyond loopback, or with --token or --require-token, every request needs a token,
    printed as a URL to open (as Jupyter does). Downloads are watermarked and signed, and checked by the
    memorization guard (--guard), as the command line's outputs are.
    """
    import os
    import socket

    import uvicorn

    from ganvas.accel import pick_device, set_threads
    from ganvas.console import info
    from ganvas.studio.app import create_app
    from ganvas.studio.guard import Guard, check_token, is_loopback, new_token
    from ganvas.studio.publishing import Publishing

    runs_dir = Path(runs).expanduser()
    if not runs_dir.is_dir():
        from ganvas.errors import GanvasError

        raise GanvasError(f"runs folder '{runs}' does not exist or is not a folder: train a model first "
                          f"({first_run_hint(runs_dir)}), or give the folder your runs are in")
    set_threads(threads)
    if cache is not None:
        from ganvas.explore.ganspace import CACHE_ENV

        os.environ[CACHE_ENV] = str(cache)
    if token is not None:
        check_token(token)
    elif require_token or not is_loopback(host):
        token = new_token()
    callers = Guard(host, token, allow_hosts)
    app = create_app(runs, max_models, str(pick_device(device)), max_projections,
                     int(max_upload_mb * 1024 * 1024), int(max_upload_megapixels * 1_000_000), callers,
                     Publishing(not no_watermark, guard))
    count = len(app.state.studio.index.models())
    if not is_loopback(host):
        info(f"listening on {host}: anyone who can reach this address and has the token can use the studio")
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on sockets that say they are TCP, and with
    # it on, each keep-alive response waited ~40 ms for the client's delayed ACK (bench/studio_latency.py)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        from ganvas.errors import GanvasError

        raise GanvasError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    port = sock.getsockname()[1]
    info(f"ganvas studio: {count} model(s) in {app.state.studio.index.root}")
    if count == 0:      # it still starts: the page lists runs as they are written (the index rescans)
        info(f"note: no trained models here yet. Train one in another terminal ({first_run_hint(runs_dir)}) "
             "and reload the page: it lists runs as they are written")
    query = f"?token={token}" if token else ""
    names = [host] if host not in ("0.0.0.0", "::", "") else [socket.gethostname(), "127.0.0.1"]
    for name in names:
        shown = f"[{name}]" if ":" in name else name
        info(f"open http://{shown}:{port}/{query}")
    info("REST API schema: /openapi.json" + (" (send 'Authorization: token …')" if token else "") + "; Ctrl+C stops")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


FIRST_PRESET = "emoji-dcgan-32"        # the default preset: ten CPU minutes, emoji-like pictures


def first_run_hint(runs: Path) -> str:
    """The command that makes a first model in `runs` (the default preset: ten minutes on a CPU)."""
    return f"`ganvas train --preset {FIRST_PRESET} --out {runs / FIRST_PRESET}`, about 10 minutes on a CPU"
