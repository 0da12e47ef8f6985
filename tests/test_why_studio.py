"""The studio's "Why fake?": the REST routes (an output's recipe, an uploaded picture) and the map beside the
chosen output in a real browser (Debian's Chromium, as tests/test_studio_browser.py drives it)."""

from __future__ import annotations

import base64
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import studio_page
from fastapi.testclient import TestClient
from PIL import Image

from ganvas.studio.app import create_app

LOCAL = "http://127.0.0.1"
MODEL = "shapes-dcgan"


@pytest.fixture(scope="module")
def why_runs(why_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding the trained shapes dcgan (a copy: the studio may write caches into it)."""
    root = tmp_path_factory.mktemp("why-studio") / "runs"
    shutil.copytree(why_run, root / MODEL)
    return root


@pytest.fixture(scope="module")
def client(why_runs: Path):
    app = create_app(why_runs, max_models=2, max_projections=1, max_upload_bytes=256 * 1024,
                     max_upload_pixels=1_000_000)
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def picture(data_url: str) -> np.ndarray:
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_why_of_a_recipe_and_of_an_upload(client: TestClient) -> None:
    r = client.post(f"/api/models/{MODEL}/why", json={"seed": 3, "truncation": 0.8})
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["method"] == "integrated-gradients" and v["baseline"] == 0.0 and v["batchnorm"] == "balanced batch"
    assert picture(v["picture"]).shape == (32, 32, 3)
    again = client.post(f"/api/models/{MODEL}/why", json={"seed": 3, "truncation": 0.8}).json()
    assert again == v                                                          # deterministic
    other = client.post(f"/api/models/{MODEL}/why", json={"seed": 4}).json()
    assert other["score"] != v["score"]
    item = client.post(f"/api/models/{MODEL}/render", json={"seed": 3, "truncation": 0.8}).json()
    latent = client.post(f"/api/models/{MODEL}/why", json={"latent": item["latent"], "truncation": 0.8}).json()
    assert latent["score"] == pytest.approx(v["score"], abs=1e-4)             # the same output, as a code

    from ganvas.data.shapes import factors, render

    buf = io.BytesIO()
    render(factors(7), 48).save(buf, format="PNG")
    up = client.post(f"/api/models/{MODEL}/why/upload", content=buf.getvalue(), headers={"Content-Type": "image/png"})
    assert up.status_code == 200, up.text
    assert up.json()["score"] > v["score"]                                     # a real shape looks more real to D
    assert picture(up.json()["picture"]).shape == (32, 32, 3)


def test_why_errors_are_one_line(client: TestClient) -> None:
    r = client.post(f"/api/models/{MODEL}/why", json={"seed": 1, "label": "circle"})
    assert r.status_code == 400 and "trained without classes" in r.json()["error"]
    r = client.post(f"/api/models/{MODEL}/why/upload", content=b"not a picture", headers={"Content-Type": "image/png"})
    assert r.status_code in (400, 415) and "\n" not in r.json()["error"]
    assert client.post("/api/models/missing/why", json={"seed": 1}).status_code == 404


def test_the_map_appears_beside_the_output_and_follows_it(why_runs: Path, tmp_path: Path) -> None:
    with studio_page(why_runs, tmp_path / "studio.log") as (url, page, problems):
        page.goto(f"{url}/")
        page.wait_for_function("document.getElementById('current-caption').textContent === 'seed 0'")
        assert page.locator("#why-box").is_hidden()
        page.click("#why-fake")
        page.wait_for_selector("#why-box:not([hidden]) #why-img[src^='data:image/png']")
        assert page.get_attribute("#why-fake", "aria-pressed") == "true"
        assert "D's logit" in page.text_content("#why-text")
        first = page.get_attribute("#why-img", "src")
        page.locator("#seed-grid .tile").nth(5).click()                        # another output: the map follows
        page.wait_for_function("b => document.getElementById('why-img').src !== b", arg=first)
        page.locator("body").focus()
        page.keyboard.press("f")                                               # off again
        page.wait_for_selector("#why-box", state="hidden")
    assert not problems, problems


def test_a_music_models_map_lies_over_its_piano_roll(chorales_built: Path, tmp_path: Path) -> None:
    from ganvas.cli import main

    runs = tmp_path / "runs"
    assert main(["train", "--preset", "chorales-musegan-hybrid", "--kimg", "0.032", "--set", "model_args.g_width=32",
                 "--set", "model_args.d_width=8", "--set", "batch_size=16", "--set", "sample_count=4",
                 "--minutes", "0", "--out", str(runs / "chorales")]) == 0
    with TestClient(create_app(runs), base_url=LOCAL, raise_server_exceptions=False) as c:
        v = c.post("/api/models/chorales/why", json={"seed": 2}).json()
        info = c.get("/api/models/chorales").json()
        up = c.post("/api/models/chorales/why/upload", content=b"x", headers={"Content-Type": "image/png"})
    assert v["baseline"] == -1.0 and v["method"] == "integrated-gradients", v
    _, steps, pitches = info["shape"]                                         # tracks × steps × pitches
    assert picture(v["picture"]).shape == (2 * pitches, 3 * steps, 3)          # the roll's picture: 2 px × 3 px cells
    assert up.status_code in (400, 415) and "\n" not in up.json()["error"]
