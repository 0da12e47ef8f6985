"""Studio latency: server-side times and HTTP round trips for 64×64 models, alone and with concurrent clients.

Targets (issue 6, on the project's 2-core CPU): one image after a slider move in under 50 ms of
server time (median), a 4×4 seed grid in under 300 ms; (issue 14) a drawing rendered by a
sketch-to-image model at 64×64 in under 300 ms. Measured for `emoji-dcgan-64`,
`emoji-stylegan-64` and `emoji-sketch2image` (untrained copies made by a dry run unless --runs
names trained ones: speed does not depend on training; the sketch model's dry run builds the
`emoji-sketch` set first if it is not built, about 3 minutes):

1. server side, in this process (ganvas.studio.services, no HTTP): a slider move (a render with a
   new edit amount each time, so nothing is cached) and a grid of 16 new seeds; the grid is also
   split into drawing and PNG encoding, and drawn once as a single batched forward pass for
   reference (the studio does not use that: a style model's batched outputs differ from
   `ganvas sample`'s by ~1e-5, enough to change pixels); a drawing (a 256×256 PNG from the Draw
   tab's canvas, a different one each time) through the sketch model, split into decoding and
   resizing, the forward pass, and PNG encoding;
2. round trips over loopback to a real `ganvas studio` process (one keep-alive connection): the
   slider move as JSON (data URL) and as a PNG body, the grid, and the drawing;
3. concurrent clients: N threads, each with its own connection, moving sliders for S seconds
   (bounded: at most 16 clients and 30 s), as requests/s and latency percentiles.

Run it on a quiet machine (figures vary with other load):

    .venv/bin/python bench/studio_latency.py                       # ~1 minute
    .venv/bin/python bench/studio_latency.py --repeats 10 --seconds 2 --clients 2     # a quick check
    .venv/bin/python bench/studio_latency.py --runs runs --models emoji-dcgan-32      # your own runs
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")         # as the ganvas command sets it

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("emoji-dcgan-64", "emoji-stylegan-64")
SKETCH_PRESETS = ("emoji-sketch2image",)
TARGETS = {"slider": 50.0, "grid": 300.0, "sketch": 300.0}    # ms, medians


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def row(what: str, ms: list[float], target: float | None = None) -> str:
    med, p90 = statistics.median(ms), pct(ms, 0.9)
    tail = f"{target:8.0f}  {med / target:6.2f}" if target else f"{'':8}  {'':6}"
    return f"  {what:<52} {med:8.1f} {p90:8.1f}  {tail}"


def make_runs(root: Path) -> None:
    for preset in (*PRESETS, *SKETCH_PRESETS):
        if not (root / preset / "checkpoints").is_dir():
            print(f"making an untrained {preset} (a dry run) …", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "ganvas", "train", "--preset", preset, "--dry-run", "--out",
                            str(root / preset)], check=True, cwd=REPO, capture_output=True)


def server_side(runs: Path, model: str, repeats: int) -> list[str]:
    import torch

    from ganvas.explore import latent as L
    from ganvas.explore.recipe import DirectionSet
    from ganvas.studio import outputs as O
    from ganvas.studio.schemas import RecipeIn, SeedsIn
    from ganvas.studio.services import Services
    from ganvas.studio.state import StudioState

    studio = Services.over(StudioState(runs))
    item = studio.catalogue.generator(model)
    studio.directions.get(item, DirectionSet())               # computed (or read from the cache) once
    for i in range(3):                                         # warm-up
        studio.generation.render(model, RecipeIn.model_validate({"seed": 1, "edits": [{"index": 0,
                                                                                         "amount": 0.01 * i}]}))
        studio.generation.seeds(model, SeedsIn(seeds=list(range(10**6 + 16 * i, 10**6 + 16 * i + 16))))
    slider, grid, draw, encode, batched = [], [], [], [], []
    for i in range(repeats):
        recipe = RecipeIn.model_validate({"seed": 7, "edits": [{"index": i % 8, "amount": -2 + 4 * i / repeats}]})
        t0 = time.perf_counter()
        studio.generation.render(model, recipe)
        slider.append(1000 * (time.perf_counter() - t0))
    G = item.model
    for i in range(max(3, repeats // 3)):
        seeds = list(range(16 * (i + 10), 16 * (i + 11)))
        t0 = time.perf_counter()
        studio.generation.seeds(model, SeedsIn(seeds=seeds))   # new seeds each time: nothing cached
        grid.append(1000 * (time.perf_counter() - t0))
        codes = L.seed_codes(G, seeds)
        t0 = time.perf_counter()
        outs = L.draw(G, codes)
        t1 = time.perf_counter()
        [O.data_url(G.domain.encode(outs[j:j + 1], "png")) for j in range(len(outs))]
        t2 = time.perf_counter()
        with torch.inference_mode():
            G.model.synthesize(codes)
        t3 = time.perf_counter()
        draw.append(1000 * (t1 - t0))
        encode.append(1000 * (t2 - t1))
        batched.append(1000 * (t3 - t2))
    return [row(f"{model}: slider move (render with an edit)", slider, TARGETS["slider"]),
            row(f"{model}: 4×4 seed grid (16 new seeds)", grid, TARGETS["grid"]),
            row("    of which drawing 16 outputs, each alone", draw),
            row("    of which 16 PNGs and data URLs", encode),
            row("    (reference: 16 in one batched forward pass)", batched)]


def drawing(i: int, side: int = 256) -> bytes:
    """A smiley as the Draw tab sends it (black lines on white, PNG), its mouth moved by `i` pixels."""
    import io

    from PIL import Image, ImageDraw

    im = Image.new("RGB", (side, side), "white")
    d = ImageDraw.Draw(im)
    d.ellipse((40, 40, 216, 216), outline="black", width=5)
    d.ellipse((90, 95, 105, 110), outline="black", width=5)
    d.ellipse((150, 95, 165, 110), outline="black", width=5)
    d.arc((85, 110 + i % 20, 170, 180), 20, 160, fill="black", width=5)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def sketch_server_side(runs: Path, model: str, repeats: int) -> list[str]:
    import torch

    from ganvas.studio import outputs as O
    from ganvas.studio.services import Services
    from ganvas.studio.services.sketch import SketchRequest, drawing_array
    from ganvas.studio.state import StudioState
    from ganvas.studio.uploads import decode_image

    studio = Services.over(StudioState(runs))
    T = studio.catalogue.translator(model).model
    for i in range(3):                                         # warm-up
        studio.sketch.render(model, SketchRequest(decode_image(drawing(i))))
    total, prepare, forward, encode = [], [], [], []
    for i in range(repeats):
        data = drawing(i + 3)
        t0 = time.perf_counter()
        studio.sketch.render(model, SketchRequest(decode_image(data)))
        t1 = time.perf_counter()
        x = drawing_array(decode_image(data), T.resolution, T.channels)
        t2 = time.perf_counter()
        with torch.inference_mode():
            y = T.translate(T.domain.to_tensor(x[None], T.device))
        t3 = time.perf_counter()
        O.png(T.domain.to_pil(y)[0])
        t4 = time.perf_counter()
        total.append(1000 * (t1 - t0))
        prepare.append(1000 * (t2 - t1))
        forward.append(1000 * (t3 - t2))
        encode.append(1000 * (t4 - t3))
    side = T.resolution
    return [row(f"{model}: drawing → picture at {side} px", total, TARGETS["sketch"]),
            row("    of which decoding, resizing the 256 px drawing", prepare),
            row("    of which G's forward pass", forward),
            row("    of which the output PNG", encode)]


def request(conn: http.client.HTTPConnection, path: str, body: dict | bytes) -> tuple[float, bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    ctype = "image/png" if isinstance(body, bytes) else "application/json"
    t0 = time.perf_counter()
    conn.request("POST", path, body=data, headers={"Content-Type": ctype})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status != 200:
        raise RuntimeError(f"{path}: {resp.status} {payload[:200]!r}")
    return 1000 * (time.perf_counter() - t0), payload


def round_trips(port: int, model: str, repeats: int) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    render = f"/api/models/{model}/render"
    for i in range(3):
        request(conn, render, {"seed": 2, "edits": [{"index": 0, "amount": 0.01 * i}]})
    js, png, grid = [], [], []
    for i in range(repeats):
        js.append(request(conn, render, {"seed": 2, "edits": [{"index": 1, "amount": -2 + 4 * i / repeats}]})[0])
        png.append(request(conn, render + "?format=png",
                           {"seed": 2, "edits": [{"index": 2, "amount": -2 + 4 * i / repeats}]})[0])
    for i in range(max(3, repeats // 3)):
        grid.append(request(conn, f"/api/models/{model}/seeds", {"start": 10**5 + 16 * i, "count": 16})[0])
    conn.close()
    return [row(f"{model}: slider move, JSON with a data URL", js, TARGETS["slider"]),
            row(f"{model}: slider move, PNG body", png, TARGETS["slider"]),
            row(f"{model}: 4×4 seed grid", grid, TARGETS["grid"])]


def sketch_round_trips(port: int, model: str, repeats: int) -> list[str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    path = f"/api/models/{model}/sketch"
    for i in range(3):
        request(conn, path, drawing(i))
    ms = [request(conn, path, drawing(i + 3))[0] for i in range(repeats)]
    conn.close()
    return [row(f"{model}: drawing (PNG) → JSON with the picture", ms, TARGETS["sketch"])]


def concurrent(port: int, model: str, clients: int, seconds: float) -> str:
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        i = 0
        while time.perf_counter() < stop:
            ms, _ = request(conn, f"/api/models/{model}/render?format=png",
                            {"seed": 100 + k, "edits": [{"index": i % 4, "amount": (i % 9) / 3 - 1.3}]})
            with lock:
                latencies.append(ms)
            i += 1
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return (row(f"{model}: {clients} clients moving sliders for {seconds:g} s", latencies)
            + f"   {len(latencies) / wall:.1f} requests/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=Path, help="a runs folder with the models (default: untrained copies in a "
                                              "temporary folder)")
    ap.add_argument("--models", nargs="*", default=list(PRESETS), help="generator model names in the runs folder")
    ap.add_argument("--sketch-models", nargs="*", default=list(SKETCH_PRESETS),
                    help="sketch-to-image (pix2pix) model names in the runs folder")
    ap.add_argument("--repeats", type=int, default=30, help="slider moves timed per figure (grids: a third)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients (at most 16)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the concurrent run (at most 30)")
    args = ap.parse_args()
    clients, seconds = max(1, min(16, args.clients)), max(0.5, min(30.0, args.seconds))
    tmp = None
    runs = args.runs
    if runs is None:
        tmp = tempfile.TemporaryDirectory(prefix="ganvas-studio-bench-")
        runs = Path(tmp.name)
        make_runs(runs)
    import torch

    print(f"studio latency, {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"  {'what':<52} {'median':>8} {'p90':>8}  {'target':>8}  {'ratio':>6}   (ms)")
    print("server side (no HTTP)")
    for model in args.models:
        for line in server_side(runs, model, args.repeats):
            print(line, flush=True)
    for model in args.sketch_models:
        for line in sketch_server_side(runs, model, args.repeats):
            print(line, flush=True)
    from ganvas.studio.launch import StudioDidNotStart, running_studio

    try:
        with tempfile.TemporaryFile("w+") as out:      # the server's own output, shown if it fails to start
            try:
                with running_studio(runs, stdout=out, cwd=REPO) as (url, _):
                    port = urllib.parse.urlsplit(url).port
                    print("round trips over loopback (one keep-alive connection)")
                    for model in args.models:
                        for line in round_trips(port, model, args.repeats):
                            print(line, flush=True)
                    for model in args.sketch_models:
                        for line in sketch_round_trips(port, model, args.repeats):
                            print(line, flush=True)
                    print("concurrent clients (PNG bodies)")
                    for model in args.models:
                        print(concurrent(port, model, clients, seconds), flush=True)
            except StudioDidNotStart as exc:
                out.seek(0)
                raise SystemExit(f"{exc}: {out.read()[-2000:]}") from None
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
