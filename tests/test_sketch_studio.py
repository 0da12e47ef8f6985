"""The studio's Draw tab: drawings over HTTP (a real app on a tiny sketch model) and in a real browser."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_marked_copy, studio_at
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

import ganvas
from ganvas.explore import provenance as P
from ganvas.studio.app import create_app
from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS

MODEL = "emoji-sketch"


@pytest.fixture(scope="module")
def client(sketch_runs: Path) -> TestClient:
    app = create_app(sketch_runs, max_upload_bytes=256 * 1024, max_upload_pixels=2_000_000)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def smiley(side: int = 256, width: int = 5, size: tuple[int, int] | None = None) -> bytes:
    im = Image.new("RGB", size or (side, side), "white")
    d = ImageDraw.Draw(im)
    s = side / 256
    d.ellipse((40 * s, 40 * s, 216 * s, 216 * s), outline="black", width=width)
    d.ellipse((90 * s, 95 * s, 105 * s, 110 * s), outline="black", width=width)
    d.ellipse((150 * s, 95 * s, 165 * s, 110 * s), outline="black", width=width)
    d.arc((85 * s, 110 * s, 170 * s, 180 * s), 20, 160, fill="black", width=width)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def pixels(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_a_drawing_is_rendered_by_the_model_as_ganvas_load_would(client: TestClient, sketch_runs: Path) -> None:
    info = client.get(f"/api/models/{MODEL}").json()
    assert info["translate"]["sketch"] is True and info["translate"]["resolution"] == 32
    r = client.post(f"/api/models/{MODEL}/sketch", content=smiley(), headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    out = r.json()
    seen, made = pixels(out["sketch"]), pixels(out["output"])
    assert seen.shape == (32, 32) and made.shape == (32, 32, 3) and out["resolution"] == 32
    assert (seen < 128).mean() > 0.05                                   # the lines survive the resize
    T = ganvas.load(sketch_runs / MODEL)
    x = T.domain.to_tensor(np.repeat(seen[None, ..., None], 3, axis=3), T.device)
    assert np.array_equal(made, T.domain.to_array(T.translate(x))[0])  # exactly what the Python API makes
    record = json.loads(Image.open(io.BytesIO(base64.b64decode(out["output"].split(",", 1)[1]))).text[P.PNG_KEY])
    assert record["recipe"]["sketch"] == "AtoB" and record["model"]["name"] == MODEL
    # another drawing, another picture; a multipart form works like a raw body
    other = client.post(f"/api/models/{MODEL}/sketch", files={"file": ("s.png", smiley(width=12), "image/png")})
    assert other.status_code == 200 and not np.array_equal(pixels(other.json()["output"]), made)
    # download: a zip of the output (provenance inside), the drawing as seen, provenance.json
    z = client.post(f"/api/models/{MODEL}/sketch?download=true", content=smiley(),
                    headers={"Content-Type": "image/png"})
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        assert sorted(zf.namelist()) == ["output.png", "provenance.json", "sketch.png"]
        assert_marked_copy(zf.read("output.png"), made)                # the same picture, watermarked


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("body, status, needle", [
    (b"", 400, "empty"),
    (b"this is not a picture at all", 415, "not an image"),
    (_png(Image.new("RGB", (256, 256), "white")), 400, "empty (all white)"),
    (_png(Image.new("RGBA", (256, 256), (0, 0, 0, 0))), 400, "empty (all white)"),    # a cleared canvas
    (smiley(size=(256, 200)), 400, "square"),
    (smiley(side=16), 400, "32×32"),
    (smiley(side=1100, width=9), 400, "1024"),
])
def test_bad_drawings_are_one_line_errors(client: TestClient, body: bytes, status: int, needle: str) -> None:
    r = client.post(f"/api/models/{MODEL}/sketch", content=body, headers={"Content-Type": "image/png"})
    assert r.status_code == status, r.text
    err = r.json()
    assert set(err) == {"error", "status"} and needle in err["error"] and "\n" not in err["error"]
    assert client.post("/api/models/nope/sketch", content=smiley()).status_code == 404


# --- a real browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(sketch_runs: Path, tmp_path_factory):
    with studio_at(sketch_runs, tmp_path_factory.mktemp("sketch-server") / "studio.log") as (url, _):
        yield url


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points` (fractions of the canvas) with the button down."""
    box = page.locator("#draw-canvas").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_drawing_with_the_mouse_renders_changes_and_keeps(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (APT_PACKAGES)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True,
                                accept_downloads=True)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{server}/#model={MODEL}")
        page.wait_for_selector("#view-draw:not([hidden])")                 # a sketch model opens on Draw
        assert page.locator("#tab-explore").is_hidden() and page.locator("#tab-draw").is_visible()
        assert page.locator("#draw-output").get_attribute("src") is None
        Image.open(io.BytesIO(smiley())).save(tmp_path / "trace.png")
        page.set_input_files("#draw-trace", str(tmp_path / "trace.png"))      # shown faintly, never sent
        page.wait_for_selector("#draw-under:not([hidden])")
        assert page.locator("#draw-output").get_attribute("src") is None      # a picture alone is no drawing
        stroke(page, [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.2)])      # a square
        page.wait_for_function("document.getElementById('draw-output').src.startsWith('data:image/png')")
        first = page.get_attribute("#draw-output", "src")
        page.fill("#draw-width", "12")
        page.dispatch_event("#draw-width", "input")
        stroke(page, [(0.3, 0.5), (0.7, 0.5)])                                # a thick line across it
        page.wait_for_function("b => document.getElementById('draw-output').src !== b", arg=first)
        second = page.get_attribute("#draw-output", "src")
        page.click("#draw-undo")                                              # back to the square alone
        page.wait_for_function("b => document.getElementById('draw-output').src !== b", arg=second)
        undone = page.get_attribute("#draw-output", "src")                   # the same drawing, the same picture
        assert np.array_equal(pixels(undone), pixels(first)) and not np.array_equal(pixels(first), pixels(second))
        page.click("#draw-redo")
        page.wait_for_function("b => document.getElementById('draw-output').src !== b", arg=undone)
        assert np.array_equal(pixels(page.get_attribute("#draw-output", "src")), pixels(second))
        page.click("#draw-keep")
        page.wait_for_function("document.getElementById('kept-count').textContent === '1'")
        assert page.locator("#kept img").get_attribute("src") == page.get_attribute("#draw-output", "src")
        with page.expect_download() as dl:
            page.click("#draw-download")
        path = tmp_path / "drawing.zip"
        dl.value.save_as(path)
        assert "output.png" in zipfile.ZipFile(path).namelist()
        page.click("#draw-eraser")                                            # erase everything: nothing to render
        page.click("#draw-clear")
        page.wait_for_function("!document.getElementById('draw-output').getAttribute('src')")
        assert page.locator("#draw-keep").is_disabled()
        assert not problems, problems
        browser.close()
