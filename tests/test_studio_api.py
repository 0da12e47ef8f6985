"""The studio's REST API through FastAPI's test client: outputs, downloads, jobs, and every kind of bad input."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import shutil
import struct
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_marked_copy
from fastapi.testclient import TestClient
from PIL import Image

import ganvas
from ganvas.cli import main
from ganvas.explore import provenance as P
from ganvas.studio.app import create_app

SG = "nested/emoji-stylegan"
LOCAL = "http://127.0.0.1"      # the studio answers to loopback names only (TestClient's own is 'testserver')


@pytest.fixture(scope="module")
def client(studio_runs: Path) -> TestClient:
    app = create_app(studio_runs, max_models=3, max_projections=1, max_upload_bytes=256 * 1024,
                     max_upload_pixels=1_000_000)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def pixels(data_url_or_bytes) -> np.ndarray:
    data = data_url_or_bytes
    if isinstance(data, str):
        data = base64.b64decode(data.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def png_of(G, x: torch.Tensor) -> np.ndarray:
    return np.asarray(G.domain.to_pil(x)[0].convert("RGB"))


# --- models -------------------------------------------------------------------------------------------


def test_models_are_every_checkpoint_under_the_runs_folder(client: TestClient, studio_runs: Path) -> None:
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(models) == {"emoji-dcgan", SG, "chorales-musegan", "fonts-pix2pix"}
    dc = models["emoji-dcgan"]
    assert dc["kind"] == "generator" and dc["model"] == "dcgan" and len(dc["steps"]) >= 2
    assert dc["dataset"]["name"] == "emoji" and dc["dataset"]["licence"]
    assert models["fonts-pix2pix"]["kind"] == "translator" and models[SG]["style"] is True
    older = dc["steps"][0]
    info = client.get(f"/api/models/emoji-dcgan@{older}").json()
    assert info["step"] == older and info["explore"]["space"] == "z"
    sg = client.get(f"/api/models/{SG}").json()
    assert sg["explore"]["code_shape"] == [8, 32] and sg["explore"]["breed_mode"] == "layers"
    schema = client.get("/openapi.json").json()
    for path in ("/api/models", "/api/models/{model}/render", "/api/models/{model}/project", "/api/jobs/{job_id}",
                 "/api/models/{model}/download", "/api/models/{model}/translate"):
        assert path in schema["paths"], path


def test_a_model_is_loaded_once_and_the_cache_is_bounded(client: TestClient) -> None:
    cache = client.app.state.studio.cache
    for _ in range(3):
        assert client.post("/api/models/emoji-dcgan/render", json={"seed": 1}).status_code == 200
    loads = cache.loads
    for _ in range(3):
        client.post("/api/models/emoji-dcgan/render", json={"seed": 2})
    assert cache.loads == loads                                                      # kept, not reloaded
    for name in ("emoji-dcgan", SG, "chorales-musegan", "fonts-pix2pix"):
        client.get(f"/api/models/{name}")
    assert len(cache.loaded()) == 3 and "emoji-dcgan" not in cache.loaded()          # least recently used dropped


# --- outputs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["emoji-dcgan", SG])
def test_a_seed_grid_is_what_ganvas_sample_makes(client: TestClient, studio_runs: Path, name: str) -> None:
    r = client.post(f"/api/models/{name}/seeds", json={"start": 40, "count": 16, "truncation": 0.7})
    assert r.status_code == 200
    items = r.json()["items"]
    G = ganvas.load(studio_runs / name)
    want = G.domain.to_array(G.sample(16, seed=40, truncation=0.7))
    assert [it["seed"] for it in items] == list(range(40, 56))
    for it, w in zip(items, want, strict=True):
        assert np.array_equal(pixels(it["image"]), w)
    # a latent sent back draws the same picture as its seed; PNG directly for fast clients
    again = client.post(f"/api/models/{name}/render?format=png",
                        json={"latent": items[5]["latent"], "truncation": 0.7})
    assert again.headers["content-type"] == "image/png"
    assert_marked_copy(again.content, want[5])                          # a file: watermarked and signed


def test_direction_edits_change_the_output_and_are_listed(client: TestClient) -> None:
    d = client.get(f"/api/models/{SG}/directions").json()
    assert d["space"] == "w" and d["num_ws"] == 8 and len(d["directions"]) == 16 and d["set"]["method"] == "w"
    plain = client.post(f"/api/models/{SG}/render", json={"seed": 3}).json()
    edited = client.post(f"/api/models/{SG}/render", json={"seed": 3, "edits": [{"index": 0, "amount": 2.5,
                                                                                  "layers": "0-3"}]}).json()
    assert not np.array_equal(pixels(plain["image"]), pixels(edited["image"]))
    assert edited["recipe"]["edits"] == [{"index": 0, "amount": 2.5, "layers": [0, 1, 2, 3]}]
    assert edited["recipe"]["directions"]["method"] == "w" and "edited" in edited
    # the edited code, drawn as a plain latent, is the edited picture
    folded = client.post(f"/api/models/{SG}/render", json={"latent": edited["edited"]}).json()
    assert np.array_equal(pixels(folded["image"]), pixels(edited["image"]))
    grid = client.get(f"/api/models/{SG}/directions/grid?count=3&steps=5")
    assert grid.status_code == 200 and Image.open(io.BytesIO(grid.content)).size == (5 * 34 + 2, 3 * 34 + 2)
    act = client.get("/api/models/emoji-dcgan/directions?components=4").json()
    assert act["set"]["method"] == "activations" and act["layer"] == "net.2" and len(act["directions"]) == 4


def test_interpolation_frames_strip_and_animation(client: TestClient) -> None:
    body = {"a": {"seed": 1}, "b": {"seed": 2}, "steps": 5, "animation": "gif"}
    out = client.post(f"/api/models/{SG}/interpolate", json=body).json()
    assert len(out["items"]) == 5
    one = client.post(f"/api/models/{SG}/render", json={"seed": 1}).json()
    assert np.array_equal(pixels(out["items"][0]["image"]), pixels(one["image"]))
    with Image.open(io.BytesIO(base64.b64decode(out["animation"].split(",")[1]))) as gif:
        assert gif.format == "GIF" and gif.n_frames == 8
    assert pixels(out["strip"]).shape == (36, 5 * 34 + 2, 3)
    z = client.post(f"/api/models/{SG}/interpolate", json={**body, "space": "z", "animation": None}).json()
    assert not np.array_equal(pixels(z["items"][2]["image"]), pixels(out["items"][2]["image"]))
    mixed = client.post(f"/api/models/{SG}/interpolate", json={"a": {"seed": 1}, "b": {"latent": one["latent"]},
                                                               "steps": 3, "space": "z"})
    assert mixed.status_code == 400 and "needs seeds or z codes" in mixed.json()["error"]


def test_breeding_gives_children_and_repeats_with_its_seed(client: TestClient) -> None:
    parents = [{"seed": 4}, {"seed": 9}, {"latent": client.post(f"/api/models/{SG}/render",
                                                                  json={"seed": 12}).json()["latent"]}]
    a = client.post(f"/api/models/{SG}/breed", json={"parents": parents, "count": 6, "seed": 7}).json()
    b = client.post(f"/api/models/{SG}/breed", json={"parents": parents, "count": 6, "seed": 7}).json()
    assert len(a["items"]) == 6 and a["mode"] == "layers" and a["seed"] == 7
    assert [i["latent"] for i in a["items"]] == [i["latent"] for i in b["items"]]
    next_gen = client.post(f"/api/models/{SG}/breed", json={"parents": [{"latent": a["items"][0]["latent"]},
                                                                         {"latent": a["items"][3]["latent"]}]})
    assert next_gen.status_code == 200 and isinstance(next_gen.json()["seed"], int)
    dc = client.post("/api/models/emoji-dcgan/breed", json={"parents": [{"seed": 1}, {"seed": 2}],
                                                            "mode": "uniform", "count": 3, "mutation": 0})
    assert dc.status_code == 200 and len(dc.json()["items"]) == 3


# --- downloads and provenance ---------------------------------------------------------------------------


def test_a_download_carries_provenance_and_codes_that_make_it_again(client: TestClient, studio_runs: Path,
                                                                    tmp_path: Path) -> None:
    recipe = {"seed": 5, "truncation": 0.8, "edits": [{"index": 1, "amount": -1.5}]}
    r = client.post(f"/api/models/{SG}/download", json={"items": [recipe], "names": ["my favourite"]})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(zf.namelist()) == ["latent.safetensors", "my-favourite.png", "provenance.json"]
    prov = json.loads(zf.read("provenance.json"))
    assert prov["model"]["name"] == SG and prov["model"]["model"] == "stylegan"
    assert prov["model"]["checkpoint"].startswith(f"{SG}/checkpoints/step-")
    assert prov["recipe"]["seed"] == 5 and prov["recipe"]["truncation"] == 0.8
    assert prov["recipe"]["edits"] == [{"index": 1, "amount": -1.5}] and prov["recipe"]["directions"]["method"] == "w"
    assert prov["dataset"]["name"] == "emoji" and prov["dataset"]["fingerprint"].startswith("sha256:")
    assert prov["dataset"]["licence"] and prov["versions"]["ganvas"] == ganvas.__version__
    png = tmp_path / "x.png"
    png.write_bytes(zf.read("my-favourite.png"))
    assert P.read_png(png)["recipe"] == prov["recipe"]
    shown = client.post(f"/api/models/{SG}/render", json=recipe).json()
    assert_marked_copy(png.read_bytes(), pixels(shown["image"]))
    # the code file reproduces it: through ganvas explore render, and through ganvas sample --from-w
    (tmp_path / "latent.safetensors").write_bytes(zf.read("latent.safetensors"))
    run = str(studio_runs / SG)
    assert main(["explore", "render", run, "--latent", str(tmp_path / "latent.safetensors"),
                 "--out", str(tmp_path / "again.png"), "--no-watermark"]) == 0
    assert_marked_copy(png.read_bytes(), pixels((tmp_path / "again.png").read_bytes()))   # the same, + the mark
    assert main(["sample", run, "--from-w", str(tmp_path / "latent.safetensors"),
                 "--grid", str(tmp_path / "fromw.png"), "--no-watermark"]) == 0
    assert np.array_equal(pixels((tmp_path / "fromw.png").read_bytes())[2:-2, 2:-2],
                          pixels((tmp_path / "again.png").read_bytes()))
    many = client.post("/api/models/emoji-dcgan/download", json={"items": [{"seed": 1}, {"seed": 1}, {"seed": 2}]})
    names = zipfile.ZipFile(io.BytesIO(many.content)).namelist()
    assert {n.split("/")[0] for n in names} == {"seed1", "seed1-02", "seed2"} and len(names) == 9
    record = client.post("/api/models/emoji-dcgan/provenance", json={"seed": 3}).json()
    assert record["recipe"] == {"seed": 3, "space": "z", "truncation": 1.0, "edits": []}


def test_music_outputs_are_midi_wav_and_a_piano_roll(client: TestClient) -> None:
    info = client.get("/api/models/chorales-musegan").json()
    assert info["formats"] == ["midi", "wav", "png"] and info["music"]["tracks"] == ["Soprano", "Alto", "Tenor", "Bass"]
    grid = client.post("/api/models/chorales-musegan/seeds", json={"count": 2}).json()["items"]
    assert pixels(grid[0]["image"]).shape[1] > 100                                   # a piano-roll picture
    wav = client.post("/api/models/chorales-musegan/export?format=wav", json={"seed": 1})
    midi = client.post("/api/models/chorales-musegan/export?format=midi", json={"seed": 1})
    assert wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF" and len(wav.content) > 10000
    assert midi.headers["content-type"] == "audio/midi" and midi.content[:4] == b"MThd"
    names = zipfile.ZipFile(io.BytesIO(client.post("/api/models/chorales-musegan/download",
                                                   json={"items": [{"seed": 1}]}).content)).namelist()
    assert sorted(names) == ["latent.safetensors", "provenance.json", "seed1.mid", "seed1.png", "seed1.wav"]
    png_only = client.post("/api/models/emoji-dcgan/export?format=wav", json={"seed": 1})
    assert png_only.status_code == 400 and "export as png" in png_only.json()["error"]


# --- projection -----------------------------------------------------------------------------------------


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_projection_jobs_report_progress_and_a_code(client: TestClient) -> None:
    target = client.post("/api/models/emoji-dcgan/render?format=png", json={"seed": 33}).content
    done = client.post("/api/models/emoji-dcgan/project?steps=30&wait=true", content=target,
                       headers={"content-type": "image/png"})
    assert done.status_code == 200
    job = done.json()
    assert job["state"] == "done" and job["step"] == 30 and job["preview"].startswith("data:image/png")
    result = job["result"]
    assert result["pixel_error"] < 0.2 and result["projection_space"] == "z"
    again = client.post("/api/models/emoji-dcgan/render", json={"latent": result["latent"]}).json()
    assert np.array_equal(pixels(again["image"]), pixels(result["image"]))
    # multipart, as a browser form sends it; then a long poll, answered when the job's own event fires
    started = client.post(f"/api/models/{SG}/project?steps=20", files={"file": ("me.png", target, "image/png")})
    assert started.status_code == 202
    state = client.get(f"/api/jobs/{started.json()['id']}?wait=60").json()
    assert state["state"] == "done" and state["result"]["projection_space"] == "w"


def test_a_picture_far_from_the_training_data_gets_a_warning(client: TestClient) -> None:
    """A checkerboard is nothing like an emoji: the projection still runs, and says its result is only the nearest
    the model can draw."""
    y, x = np.mgrid[0:32, 0:32]
    board = (((x // 4 + y // 4) % 2) * 255).astype(np.uint8)[..., None].repeat(3, 2)
    done = client.post("/api/models/emoji-dcgan/project?steps=5&wait=true", content=png_bytes(Image.fromarray(board)),
                       headers={"content-type": "image/png"})
    result = done.json()["result"]
    assert result["data_distance"] > 3.0 and "far from what the model learnt" in result["warning"]
    assert "emoji" in result["warning"]
    from ganvas.data.dataset import load_dataset

    emoji = load_dataset("emoji", 32, progress=False).arrays["x"][1234]
    done = client.post("/api/models/emoji-dcgan/project?steps=5&wait=true", content=png_bytes(Image.fromarray(emoji)),
                       headers={"content-type": "image/png"})
    result = done.json()["result"]
    assert result["data_distance"] < 1.0 and result["warning"] is None      # a training emoji: on the data


def test_too_many_projections_get_429_and_cancel_stops_one(client: TestClient) -> None:
    target = client.post("/api/models/emoji-dcgan/render?format=png", json={"seed": 1}).content
    first = client.post("/api/models/emoji-dcgan/project?steps=500", content=target,
                        headers={"content-type": "image/png"})
    assert first.status_code == 202
    second = client.post("/api/models/emoji-dcgan/project?steps=5", content=target,
                         headers={"content-type": "image/png"})
    assert second.status_code == 429 and "already running" in second.json()["error"]
    t0 = time.monotonic()
    still = client.get(f"/api/jobs/{first.json()['id']}?wait=0.3").json()             # a long poll that times out
    assert still["state"] == "running" and time.monotonic() - t0 >= 0.25
    assert client.delete(f"/api/jobs/{first.json()['id']}").status_code == 200
    state = client.get(f"/api/jobs/{first.json()['id']}?wait=60").json()
    assert state["state"] == "cancelled" and state["step"] < 500 and "result" in state


def test_a_long_poll_answers_when_the_job_stops_not_on_a_timer() -> None:
    """The job's own event wakes waiting requests (an event loop) and threads; nothing polls."""
    import asyncio
    import threading

    from ganvas.studio.jobs import Jobs

    gate = threading.Event()
    jobs = Jobs(1)
    job = jobs.start("m", 1, lambda j: {"opened": gate.wait(60)})
    assert asyncio.run(job.wait_async(0.05)) is False and job.state == "running"
    assert jobs.wait(job, 0.01) is False

    async def open_the_gate_and_wait() -> bool:
        waiting = asyncio.ensure_future(job.wait_async(60))
        gate.set()
        return await waiting

    assert asyncio.run(open_the_gate_and_wait()) is True
    assert job.state == "done" and job.result == {"opened": True} and job.finished is not None
    assert jobs.wait(job, 60) is True and asyncio.run(job.wait_async(0)) is True    # done: no waiting at all


# --- translation ----------------------------------------------------------------------------------------


def test_translation_of_text_and_uploads(client: TestClient) -> None:
    info = client.get("/api/models/fonts-pix2pix").json()
    assert info["translate"]["text"] is True and info["translate"]["directions"][0]["name"] == "AtoB"
    out = client.post("/api/models/fonts-pix2pix/translate", json={"text": "春 眠"}).json()
    assert len(out["items"]) == 3 and out["describe"] == "ming → kai"
    assert pixels(out["strip"]).shape[:2] == (32, 96)
    assert pixels(out["items"][1]["output"]).min() == 255                           # the space stays blank
    picture = png_bytes(Image.new("RGB", (50, 40), "white"))
    up = client.post("/api/models/fonts-pix2pix/translate", files={"file": ("a.png", picture, "image/png")})
    assert up.status_code == 200 and len(up.json()["items"]) == 1
    wrong_way = client.post("/api/models/fonts-pix2pix/translate?direction=BtoA", content=picture,
                            headers={"content-type": "image/png"})
    assert wrong_way.status_code == 400 and "AtoB (ming → kai) only" in wrong_way.json()["error"]
    assert str(client.app.state.studio.index.root) not in wrong_way.json()["error"]   # no server paths in errors
    # the same translation as a download: watermarked, signed outputs beside their inputs and provenance
    got = client.post("/api/models/fonts-pix2pix/translate?download=true", json={"text": "春 眠"})
    assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(got.content))
    assert sorted(zf.namelist()) == sorted([f"{k}-{i}.png" for k in ("output", "input") for i in (1, 2, 3)]
                                           + ["provenance.json"])
    for i in (0, 2):                                    # the two characters (the space between is blank paper)
        shown = pixels(out["items"][i]["output"])
        assert_marked_copy(zf.read(f"output-{i + 1}.png"), shown if shown.ndim == 2 else shown[..., 0])
    assert json.loads(zf.read("provenance.json"))["recipe"]["text"] == "春 眠"


# --- bad input: always a 4xx with one line of JSON, never a 500 --------------------------------------------


def bomb_png(side: int = 30000) -> bytes:
    """A valid PNG header declaring side × side pixels, with a tiny compressed body (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * (side + 1) * 8, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


BAD_JSON = [
    ("post", "/api/models/nope/render", {"seed": 1}, 404, "unknown model 'nope'"),
    ("post", "/api/models/emoji-dcgn/render", {"seed": 1}, 404, "did you mean 'emoji-dcgan'"),
    ("post", "/api/models/..%2F..%2Fetc%2Fpasswd/render", {"seed": 1}, 400, "not a model name"),
    ("post", "/api/models/%2Fetc/render", {"seed": 1}, 400, "not a model name"),
    ("post", "/api/models/nested%2F..%2Femoji-dcgan/render", {"seed": 1}, 400, "not a model name"),
    ("post", "/api/models/~root/render", {"seed": 1}, 400, "not a model name"),
    ("get", "/api/models/..%2F..", None, 400, "not a model name"),
    ("post", "/api/models/emoji-dcgan/render", {"latent": [0.0] * 99}, 400, "this dcgan model's z codes are 100"),
    ("post", f"/api/models/{SG}/render", {"latent": [[0.0] * 32] * 3}, 400, "8×32 (one w per style layer)"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "latent": [0.0] * 100}, 400, "exactly one of"),
    ("post", "/api/models/emoji-dcgan/render", {}, 400, "exactly one of 'seed' or 'latent'"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 2**63}, 422, "seed: Input should be less than or equal"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": "x"}, 422, "seed"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "truncation": 1.5}, 422, "truncation"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "colour": 1}, 422, "colour: Extra inputs"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "edits": [{"index": 40, "amount": 1}]}, 400,
     "direction 40 does not exist"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "edits": [{"index": 0, "amount": 1, "layers": "0-2"}]},
     400, "need a style-based model"),
    ("post", f"/api/models/{SG}/render", {"seed": 1, "edits": [{"index": 0, "amount": 1, "layers": "5-12"}]}, 400,
     "style layer 8 is outside"),
    ("post", f"/api/models/{SG}/render", {"seed": 1, "truncation": 0.5, "truncation_cutoff": 20}, 400,
     "cutoff must be a number of style layers in 1..8"),
    ("post", "/api/models/emoji-dcgan/render", {"seed": 1, "edits": [{"index": 0, "amount": 1e6}]}, 400,
     "edit amount must be a finite number"),
    ("post", "/api/models/emoji-dcgan/seeds", {"start": 2**63 - 2, "count": 4}, 400, "0..9223372036854775807"),
    ("post", "/api/models/emoji-dcgan/seeds", {"count": 1000}, 422, "count"),
    ("post", "/api/models/emoji-dcgan/interpolate", {"a": {"seed": 1}, "b": {"seed": 2}, "steps": 1}, 422, "steps"),
    ("post", "/api/models/emoji-dcgan/interpolate", {"a": {"seed": 1}, "b": {"seed": 2}, "space": "w"}, 400,
     "has no w space"),
    ("post", "/api/models/chorales-musegan/interpolate", {"a": {"seed": 1}, "b": {"seed": 2}, "animation": "gif"},
     400, "animations are made of images"),
    ("post", "/api/models/emoji-dcgan/breed", {"parents": []}, 422, "parents"),
    ("post", "/api/models/emoji-dcgan/breed", {"parents": [{"seed": 1}], "mutation": 0}, 400, "one parent and no"),
    ("post", "/api/models/emoji-dcgan/breed", {"parents": [{"seed": 1}, {"seed": 2}], "mode": "layers"}, 400,
     "layer crossover mixes style layers"),
    ("post", "/api/models/fonts-pix2pix/render", {"seed": 1}, 400, "translation model"),
    ("post", "/api/models/emoji-dcgan/translate", {"text": "a"}, 400, "generates from codes"),
    ("post", "/api/models/fonts-pix2pix/translate", {"text": "a", "font": "/etc/passwd"}, 400,
     "cjk-fonts names"),
    ("post", "/api/models/emoji-dcgan/download", {"items": []}, 422, "items"),
    ("get", "/api/jobs/nothing", None, 404, "no projection job 'nothing'"),
    ("get", "/api/models/emoji-dcgan/directions?method=pca", None, 400, "directions method must be one of"),
    ("get", "/api/models/emoji-dcgan/directions?layer=net.99", None, 400, "has no layer 'net.99'"),
    ("get", "/api/nowhere", None, 404, "Not Found"),
]


@pytest.mark.parametrize(("method", "url", "body", "status", "needle"), BAD_JSON,
                         ids=[f"{i}-{u.split('/')[-1][:30]}" for i, (_, u, _, _, _) in enumerate(BAD_JSON)])
def test_bad_requests_get_a_4xx_with_one_json_line(client: TestClient, method, url, body, status, needle) -> None:
    r = client.post(url, json=body) if method == "post" else client.get(url)
    assert r.status_code == status, r.text
    err = r.json()
    assert err["status"] == status and needle in err["error"], err
    assert "\n" not in err["error"] and "Traceback" not in r.text


def test_nan_and_infinity_in_latents_are_refused(client: TestClient) -> None:
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"latent": [' + token + b"" + b", 0.5" * 99 + b"]}"
        r = client.post("/api/models/emoji-dcgan/render", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "NaN or infinite" in r.json()["error"]
    r = client.post("/api/models/emoji-dcgan/render", content=b'{"seed": ',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]


def strict_json(text: str):
    """JSON as browsers read it: NaN and Infinity are not JSON."""
    def refuse(token: str):
        raise ValueError(f"{token} in an answer")
    return json.loads(text, parse_constant=refuse)


NON_FINITE = [
    ("post", "/api/models/emoji-dcgan/render", b'{"seed": 1, "truncation": NaN}', "truncation: Input should be a fin"),
    ("post", f"/api/models/{SG}/seeds", b'{"count": 2, "truncation": -Infinity}', "truncation: Input should be a fin"),
    ("post", "/api/models/emoji-dcgan/breed", b'{"parents": [{"seed": 1}, {"seed": 2}], "mutation": NaN}',
     "mutation: Input should be a finite"),
    ("post", "/api/models/emoji-dcgan/interpolate", b'{"a": {"seed": 1}, "b": {"seed": 2}, "fps": Infinity}',
     "fps: Input should be a finite"),
    ("post", "/api/models/emoji-dcgan/render", b'{"seed": 1, "edits": [{"index": 0, "amount": NaN}]}',
     "edits.0.amount: Input should be a finite"),
    ("get", f"/api/models/{SG}/directions/grid?span=nan", None, "span: Input should be a finite"),
    ("get", f"/api/models/{SG}/directions/grid?truncation=inf", None, "truncation: Input should be a finite"),
]


@pytest.mark.parametrize(("method", "url", "body", "needle"), NON_FINITE, ids=[f"{i}" for i in range(len(NON_FINITE))])
def test_nan_and_infinity_in_numbers_are_a_readable_422(client: TestClient, method, url, body, needle) -> None:
    """Was a 500: the 422 handler echoed the NaN it refused, and a JSON answer cannot hold NaN."""
    r = (client.post(url, content=body, headers={"content-type": "application/json"}) if method == "post"
         else client.get(url))
    assert r.status_code == 422, r.text
    err = strict_json(r.text)
    assert needle in err["error"] and err["status"] == 422 and "Traceback" not in r.text, err


def test_validation_details_are_strict_json_whatever_the_input() -> None:
    from ganvas.studio.errors import jsonable

    got = jsonable([{"input": float("nan"), "ctx": {"le": 1.0, "error": ValueError("x")}, "loc": ("body", 0)},
                     {"input": [float("inf"), -float("inf"), "y" * 500]}])
    text = json.dumps(got, allow_nan=False)
    assert strict_json(text) == [{"input": "nan", "ctx": {"le": 1.0, "error": "x"}, "loc": ["body", 0]},
                                 {"input": ["inf", "-inf", "y" * 200 + "…"]}]


def test_the_openapi_schema_declares_every_status_the_api_answers(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ops = {(m.upper(), p): op for p, item in paths.items() for m, op in item.items()}
    assert len(ops) >= 16
    for (method, path), op in ops.items():
        codes = set(op["responses"])
        assert {"401", "403", "413"} <= codes, (method, path)                 # the guard and the body limit
        if "{model}" in path:
            assert {"400", "404", "422"} <= codes, (method, path)
        for code, answer in op["responses"].items():
            if code[0] == "4":
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    assert "HTTPValidationError" not in json.dumps(paths)                             # FastAPI's own 422 shape
    assert {"200", "202", "415", "429"} <= set(ops["POST", "/api/models/{model}/project"]["responses"])
    assert "415" in ops["POST", "/api/models/{model}/translate"]["responses"]
    assert "404" in ops["GET", "/api/jobs/{job_id}"]["responses"] and "404" in ops["DELETE", "/api/jobs/{job_id}"][
        "responses"]
    export = ops["POST", "/api/models/{model}/export"]["responses"]["200"]["content"]
    assert set(export) == {"image/png", "audio/midi", "audio/wav"}


def test_direction_sets_a_client_asks_for_are_bounded(studio_runs: Path, tmp_path: Path) -> None:
    """Any client could make the studio write a new cached file per seed and sample count: now a few, LRU."""
    from ganvas.studio.services.directions import DIRECTION_SETS

    runs = tmp_path / "runs"
    shutil.copytree(studio_runs / "emoji-dcgan", runs / "m")
    with TestClient(create_app(runs), base_url=LOCAL, raise_server_exceptions=False) as c:
        for samples in (50000, 10001):
            r = c.get(f"/api/models/m/directions?samples={samples}")
            assert r.status_code == 422 and "samples: Input should be less than or equal to 10000" in r.json()["error"]
        for seed in range(DIRECTION_SETS + 4):
            assert c.get(f"/api/models/m/directions?components=2&samples=32&seed={seed}").status_code == 200
        kept = sorted(p.name for p in (runs / "m" / "explore").rglob("directions-*.safetensors"))
        assert len(kept) == DIRECTION_SETS and any(n.endswith(f"-s{DIRECTION_SETS + 3}.safetensors") for n in kept)
        assert not any(n.endswith("-s0.safetensors") for n in kept)                   # the oldest went first
        loaded = c.app.state.studio.cache
        assert all(len(item.directions) <= DIRECTION_SETS for item in loaded._items.values())
        again = c.get("/api/models/m/directions?components=2&samples=32&seed=0")       # recomputed when asked again
        assert again.status_code == 200 and again.json()["set"]["seed"] == 0


def test_activation_directions_of_a_wide_layer_are_refused_before_they_fill_memory(client: TestClient,
                                                                                   monkeypatch) -> None:
    """samples × layer width numbers are held for the PCA: a client's choice of layer must not exhaust memory."""
    from ganvas.studio.services import directions

    monkeypatch.setattr(directions, "MAX_ACTIVATION_VALUES", 100_000)
    r = client.get("/api/models/emoji-dcgan/directions?layer=net&samples=64&components=2")     # 64 × 3072
    assert r.status_code == 400
    assert r.json()["error"] == ("layer 'net' has 3072 values per sample: 64 samples would hold 196,608 numbers, "
                                 "more than the studio's 100,000; ask for at most 32 samples or an earlier layer")
    ok = client.get("/api/models/emoji-dcgan/directions?layer=net&samples=32&components=2")
    assert ok.status_code == 200 and ok.json()["layer"] == "net"


def test_evicting_cached_direction_sets_keeps_the_most_recently_used(tmp_path: Path) -> None:
    from ganvas.explore.ganspace import evict

    for i, name in enumerate(["a", "b", "c", "d"]):
        p = tmp_path / f"directions-w-k4-n32-s{name}.safetensors"
        p.write_bytes(b"x")
        os.utime(p, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    (tmp_path / "notes.txt").write_text("mine")
    os.utime(tmp_path / "directions-w-k4-n32-sa.safetensors", ns=(2 * 10**18, 2 * 10**18))   # just used
    gone = evict(tmp_path, 2)
    assert sorted(p.name for p in gone) == ["directions-w-k4-n32-sb.safetensors", "directions-w-k4-n32-sc.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["directions-w-k4-n32-sa.safetensors",
                                                          "directions-w-k4-n32-sd.safetensors", "notes.txt"]


UPLOADS = [
    (b"", "image/png", 400, "empty"),
    (b"this is not an image at all", "image/png", 415, "not an image"),
    (png_bytes(Image.new("RGB", (64, 64)))[:60], "image/png", 400, "corrupt or truncated"),
    (bomb_png(), "image/png", 413, "than the limit of 1000000"),
    (bomb_png(5000), "image/png", 413, "5000×5000 = 25000000 pixels, more than the limit of 1000000"),
    (b"\x89PNG" + b"\x00" * (300 * 1024), "image/png", 413, "larger than the limit"),
]


@pytest.mark.parametrize(("data", "ctype", "status", "needle"), UPLOADS, ids=["empty", "text", "truncated", "bomb",
                                                                             "bomb-small", "large"])
def test_bad_uploads_are_refused_before_decoding(client: TestClient, data, ctype, status, needle) -> None:
    for kwargs in ({"content": data, "headers": {"content-type": ctype}}, {"files": {"file": ("x.png", data, ctype)}}):
        r = client.post("/api/models/emoji-dcgan/project?steps=5", **kwargs)
        assert r.status_code == status, r.text
        assert needle in r.json()["error"]
    assert client.app.state.studio.jobs.running() == 0


def test_a_music_model_cannot_project_and_steps_are_bounded(client: TestClient) -> None:
    picture = png_bytes(Image.new("RGB", (20, 20)))
    r = client.post("/api/models/chorales-musegan/project", content=picture, headers={"content-type": "image/png"})
    assert r.status_code == 400 and "makes music, not images" in r.json()["error"]
    r = client.post("/api/models/emoji-dcgan/project?steps=100000", content=picture,
                    headers={"content-type": "image/png"})
    assert r.status_code == 422 and "steps" in r.json()["error"]


# --- the runs folder is the boundary --------------------------------------------------------------------


def test_nothing_outside_the_runs_folder_is_listed_read_or_written(studio_runs: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(studio_runs / "emoji-dcgan", runs / "mine")
    outside = tmp_path / "outside"
    shutil.copytree(studio_runs / "emoji-dcgan", outside / "theirs")
    (runs / "linked").symlink_to(outside / "theirs")                               # a run folder symlinked in
    ck = next((runs / "mine" / "checkpoints").iterdir())
    sneaky = runs / "sneaky" / "checkpoints" / ck.name
    sneaky.mkdir(parents=True)
    shutil.copy(ck / "checkpoint.json", sneaky / "checkpoint.json")
    (sneaky / "nets.safetensors").symlink_to(ck.resolve() / "nets.safetensors")   # weights file pointing elsewhere
    (runs / "sneaky2" / "checkpoints").mkdir(parents=True)
    (runs / "sneaky2" / "checkpoints" / ck.name).symlink_to(outside / "theirs" / "checkpoints" / ck.name)
    scratch = tmp_path / "system-tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))                         # where stray temp files would go
    monkeypatch.setenv("TMPDIR", str(scratch))
    before = {p: p.stat().st_mtime_ns for p in outside.rglob("*")}
    with TestClient(create_app(runs, max_upload_bytes=4 * 1024 * 1024), base_url=LOCAL,
                    raise_server_exceptions=False) as c:
        names = [m["name"] for m in c.get("/api/models").json()["models"]]
        assert names == ["mine"]
        for name in ("linked", "sneaky", "sneaky2"):
            assert c.post(f"/api/models/{name}/render", json={"seed": 1}).status_code == 404
        big = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (1100, 1100, 3), dtype=np.uint8)))
        assert len(big) > 1024 * 1024                               # more than Starlette keeps in memory
        r = c.post("/api/models/mine/project?steps=2&wait=true", files={"file": ("big.png", big, "image/png")})
        assert r.status_code == 200 and r.json()["state"] == "done"
        assert c.get("/api/models/mine/directions?components=2").status_code == 200
    assert not list(scratch.iterdir())                                              # no temporary files
    assert {p: p.stat().st_mtime_ns for p in outside.rglob("*")} == before          # outside untouched
    assert list((runs / "mine" / "explore").rglob("directions-*.safetensors"))      # its cache: inside


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('GANVAS_EVIL_MARK', '/nonexistent/mark')}",))


def test_the_server_never_unpickles_a_checkpoint(studio_runs: Path, tmp_path: Path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    shutil.copytree(studio_runs / "emoji-dcgan", runs / "evil")
    mark = tmp_path / "pwned"
    monkeypatch.setenv("GANVAS_EVIL_MARK", str(mark))
    for ck in (runs / "evil" / "checkpoints").iterdir():
        (ck / "nets.safetensors").write_bytes(pickle.dumps(_Evil()))
    with TestClient(create_app(runs), base_url=LOCAL, raise_server_exceptions=False) as c:
        r = c.post("/api/models/evil/render", json={"seed": 1})
        assert r.status_code == 400 and "corrupt tensors" in r.json()["error"]
    assert not mark.exists()


def test_the_studio_command_refuses_a_missing_folder_and_a_busy_port(studio_runs: Path, tmp_path: Path,
                                                                      capsys) -> None:
    import socket
    import subprocess

    from conftest import assert_one_line_error

    def run(*argv: str) -> subprocess.CompletedProcess:
        code = main(list(argv))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out.out, out.err)

    assert_one_line_error(run("studio", str(tmp_path / "nowhere")), "runs folder", "does not exist")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_one_line_error(run("studio", str(studio_runs), "--port", str(port)),
                              f"cannot listen on 127.0.0.1:{port}", "choose another --port")


def test_a_studio_pointed_at_one_run_names_it_by_its_folder_name(studio_runs: Path) -> None:
    """`ganvas studio runs/emoji-dcgan` serves that run under its own name, never a server path."""
    from ganvas.studio.runs import RunIndex

    index = RunIndex(studio_runs / "emoji-dcgan")
    names = [e.name for e in index.models()]
    assert names == ["emoji-dcgan"] and index.get("emoji-dcgan").run == "emoji-dcgan"
    assert not any(str(studio_runs) in n for n in names)
