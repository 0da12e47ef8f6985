"""The studio's text models: a tiny tang-poems-ctrl run next to an image and a translation model, over HTTP
(writing, determinism, files, zips, every bad request's one-line 400) and in a real browser (the Write tab)."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_marked_copy, studio_at
from fastapi.testclient import TestClient
from PIL import Image

import ganvas
from ganvas.explore import provenance as P
from ganvas.studio.app import create_app
from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS
from ganvas.text.forms import form_of, verses

TEXT, IMAGE, FONTS = "poems", "emoji-dcgan", "fonts-pix2pix"
ACROSTIC = "春花秋月"
OUTSIDE = "龘"                  # a Chinese character the tang-poems vocabulary lacks (checked below)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, text_run: Path, emoji_built, cjk_built) -> Path:
    """A runs folder holding the tiny text run, a tiny dcgan and a tiny pix2pix (a few seconds each)."""
    from ganvas.cli import main

    root = tmp_path_factory.mktemp("studio-text") / "runs"
    shutil.copytree(text_run, root / TEXT)
    tiny = ["--set", "sample_count=4", "--minutes", "0", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8"]
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                 "--batch-size", "16", *tiny, "--out", str(root / IMAGE)]) == 0
    assert main(["train", "--model", "pix2pix", "--data", "cjk-fonts", "--resolution", "32", "--kimg", "0.016",
                 "--batch-size", "4", *tiny, "--out", str(root / FONTS)]) == 0
    return root


@pytest.fixture(scope="module")
def client(runs: Path) -> TestClient:
    with TestClient(create_app(runs), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def pixels(data: str | bytes) -> np.ndarray:
    if isinstance(data, str):
        data = base64.b64decode(data.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def heads(text: str) -> list[str]:
    return [v[0] for v in verses(text)]


# --- the catalogue -------------------------------------------------------------------------------------


def test_a_text_run_is_listed_and_described_next_to_image_and_translation_runs(client: TestClient) -> None:
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert set(models) == {TEXT, IMAGE, FONTS}
    assert [models[n]["kind"] for n in (TEXT, IMAGE, FONTS)] == ["writer", "generator", "translator"]
    assert models[TEXT]["model"] == "ctrl" and models[TEXT]["domain"] == "text"
    assert models[TEXT]["dataset"]["name"] == "tang-poems"
    info = client.get(f"/api/models/{TEXT}").json()
    w = info["write"]
    assert w["language"] == "zh" and w["codes"]["form"] == ["五绝", "七绝", "五律", "七律", "other"]
    assert w["codes"]["era"] == ["tang", "song"] and w["forms"]["七绝"] == {"verses": 4, "characters": 7}
    assert info["formats"] == ["txt", "png", "json"] and info["text"]["language"] == "zh"
    assert "explore" not in info and "translate" not in info
    # every other model still answers as before
    assert client.get(f"/api/models/{IMAGE}").json()["explore"]["space"] == "z"
    assert client.post(f"/api/models/{IMAGE}/seeds", json={"count": 2}).status_code == 200
    assert "AtoB" in [d["name"] for d in client.get(f"/api/models/{FONTS}").json()["translate"]["directions"]]
    # each kind of model says what it does instead when asked for another's work
    wrong = [(f"/api/models/{TEXT}/seeds", {"count": 2}, "POST /api/models/poems/write"),
             (f"/api/models/{TEXT}/export", {"seed": 1}, "text model"),
             (f"/api/models/{IMAGE}/write", {}, "writing needs a text model"),
             (f"/api/models/{FONTS}/write/export", {"seed": 1}, "writing needs a text model"),
             (f"/api/models/{TEXT}/translate", {"text": "春"}, "writes texts")]
    for path, body, needle in wrong:
        r = client.post(path, json=body)
        assert r.status_code == 400 and needle in r.json()["error"], (path, r.text)
    assert client.post("/api/models/nope/write", json={}).status_code == 404


# --- writing -------------------------------------------------------------------------------------------


def test_write_keeps_form_and_acrostic_and_writes_what_the_python_api_writes(client: TestClient, runs: Path) -> None:
    body = {"codes": {"form": "七绝"}, "acrostic": ACROSTIC, "start": 5, "count": 3, "temperature": 0.7}
    r = client.post(f"/api/models/{TEXT}/write", json=body)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [it["seed"] for it in items] == [5, 6, 7]
    W = ganvas.load(runs / TEXT)
    expected = W.sample(3, seed=5, codes="七绝", acrostic=ACROSTIC, temperature=0.7)
    assert [it["text"] for it in items] == expected
    for it in items:
        assert form_of(it["text"]) == "七绝" and heads(it["text"]) == list(ACROSTIC)
        assert it["codes"] == {"form": "七绝"}
        assert it["recipe"] == {"seed": it["seed"], "codes": {"form": "七绝"}, "acrostic": ACROSTIC, "keywords": [],
                                "first_line": None, "temperature": 0.7, "constrained": True}
        ids = W.seeds_ids([it["seed"]], "七绝", ACROSTIC, temperature=0.7)
        assert np.array_equal(pixels(it["image"]), np.asarray(W.domain.to_pil(ids)[0]))
    # the same request, the same texts and pictures; a seed names its text in any batch
    assert client.post(f"/api/models/{TEXT}/write", json=body).json()["items"] == items
    again = client.post(f"/api/models/{TEXT}/write", json={**body, "seeds": [7, 5]}).json()["items"]
    assert [it["text"] for it in again] == [items[2]["text"], items[0]["text"]]
    # another temperature, other texts
    warmer = client.post(f"/api/models/{TEXT}/write", json={**body, "temperature": 1.3}).json()["items"]
    assert [it["text"] for it in warmer] != [it["text"] for it in items]


def test_an_unspecified_form_is_chosen_by_seed_and_keywords_and_first_lines_are_kept(client: TestClient) -> None:
    items = client.post(f"/api/models/{TEXT}/write", json={"count": 4}).json()["items"]
    assert [it["codes"]["form"] for it in items] == ["五绝", "七绝", "五律", "七律"]      # seed s: form s mod 4
    assert [form_of(it["text"]) for it in items] == ["五绝", "七绝", "五律", "七律"]
    assert all("era" not in it["codes"] for it in items)
    # the recipe names the text: its filled-in form writes the same poem again
    one = client.post(f"/api/models/{TEXT}/write", json={"seeds": [2], "codes": items[2]["codes"]}).json()["items"]
    assert one[0]["text"] == items[2]["text"]
    kw = client.post(f"/api/models/{TEXT}/write", json={"codes": {"form": "五律", "era": "song"}, "count": 2,
                                                      "keywords": ["明月", "故乡"]}).json()["items"]
    assert all("明月" in it["text"] and "故乡" in it["text"] and form_of(it["text"]) == "五律" for it in kw)
    assert kw[0]["codes"] == {"form": "五律", "era": "song"}
    first = client.post(f"/api/models/{TEXT}/write", json={"codes": {"form": "五绝"}, "count": 2,
                                                         "first_line": "白日依山尽"}).json()["items"]
    assert all(verses(it["text"])[0] == "白日依山尽" and form_of(it["text"]) == "五绝" for it in first)
    free = client.post(f"/api/models/{TEXT}/write", json={"count": 2, "constrained": False}).json()["items"]
    assert [it["recipe"]["constrained"] for it in free] == [False, False]


@pytest.mark.parametrize("body, needle", [
    ({"codes": {"form": "词"}}, "code form='词' was not trained; form is one of 五绝, 七绝"),
    ({"codes": {"metre": "x"}}, "unknown code field 'metre'; this model knows form, era"),
    ({"codes": {"form": "五绝"}, "acrostic": "春花秋月夜"}, "has 5 characters; a 五绝 has 4 verses"),
    ({"codes": {"form": "七律"}, "keywords": [f"明{OUTSIDE}"]}, f"'{OUTSIDE}' is not in the model's vocabulary"),
    ({"codes": {"form": "七律"}, "acrostic": f"春{OUTSIDE}"}, f"'{OUTSIDE}' is not in the model's vocabulary"),
    ({"codes": {"form": "五绝"}, "keywords": ["ABC"]}, "'A' is not a Chinese character"),
    ({"codes": {"form": "五绝"}, "first_line": "白日依山尽了"}, "does not fit a 五绝"),
    ({"codes": {"form": "other"}, "acrostic": "春"}, "need a verse form"),
    ({"acrostic": "春", "constrained": False}, "need constrained sampling"),
    ({"temperature": 0}, "temperature must be > 0 and at most 5, got 0"),
    ({"temperature": -0.5}, "temperature must be > 0"),
    ({"temperature": 7}, "at most 5"),
])
def test_bad_requests_are_one_line_400s(client: TestClient, runs: Path, body: dict, needle: str) -> None:
    assert OUTSIDE not in ganvas.load(runs / TEXT).model.vocab.index
    for path, b in ((f"/api/models/{TEXT}/write", body), (f"/api/models/{TEXT}/write/export", {**body, "seed": 0})):
        r = client.post(path, json=b)
        assert r.status_code == 400, r.text
        err = r.json()
        assert set(err) == {"error", "status"} and needle in err["error"] and "\n" not in err["error"], err


@pytest.mark.parametrize("body, field", [
    ({"count": 0}, "count"), ({"count": 33}, "count"), ({"seeds": [-1]}, "seeds"), ({"codes": ["七绝"]}, "codes"),
    ({"keywords": "明月"}, "keywords"), ({"temperature": "warm"}, "temperature"), ({"style": 1}, "style"),
])
def test_bodies_of_the_wrong_shape_are_422s_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    r = client.post(f"/api/models/{TEXT}/write", json=body)
    assert r.status_code == 422 and r.json()["error"].startswith(field), r.text


# --- files ---------------------------------------------------------------------------------------------


def test_one_text_as_txt_png_and_json_and_kept_texts_as_a_zip(client: TestClient) -> None:
    items = client.post(f"/api/models/{TEXT}/write", json={"codes": {"form": "七绝"}, "acrostic": ACROSTIC,
                                                         "count": 2, "start": 3}).json()["items"]
    recipe = items[0]["recipe"]
    txt = client.post(f"/api/models/{TEXT}/write/export?format=txt", json=recipe)
    assert txt.status_code == 200 and txt.headers["content-type"] == "text/plain; charset=utf-8"
    assert txt.headers["content-disposition"] == 'attachment; filename="seed3.txt"'
    assert txt.content.decode("utf-8") == items[0]["text"] + "\n"
    png = client.post(f"/api/models/{TEXT}/write/export?format=png", json=recipe)
    assert png.headers["content-type"] == "image/png"
    assert_marked_copy(png.content, pixels(items[0]["image"]))          # the picture shown, watermarked and signed
    record = P.read_png(io.BytesIO(png.content))
    assert record["recipe"] == recipe and record["model"]["name"] == TEXT and record["model"]["model"] == "ctrl"
    assert record["model"]["checkpoint"].startswith(f"{TEXT}/checkpoints/step-")   # inside the runs folder
    assert record["dataset"]["name"] == "tang-poems"
    doc = client.post(f"/api/models/{TEXT}/write/export?format=json", json=recipe).json()
    assert doc["text"] == items[0]["text"] and doc["codes"] == {"form": "七绝"}
    assert doc["provenance"]["recipe"] == recipe
    assert client.post(f"/api/models/{TEXT}/write/export?format=wav", json=recipe).status_code == 422
    # a kept list: texts asking for different things, zipped with their provenance
    other = client.post(f"/api/models/{TEXT}/write", json={"seeds": [11]}).json()["items"][0]
    z = client.post(f"/api/models/{TEXT}/write/download",
                    json={"items": [recipe, other["recipe"]], "names": ["kept-1", "kept-2"]})
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    assert 'filename="ganvas-poems-texts.zip"' in z.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(z.content)) as zf:
        assert sorted(zf.namelist()) == sorted(f"kept-{i}/{f}" for i in (1, 2) for f in (
            f"kept-{i}.txt", f"kept-{i}.png", f"kept-{i}.json", "provenance.json",
            f"kept-{i}.txt.ganvas.json", f"kept-{i}.json.ganvas.json"))         # text files' signed manifests
        assert zf.read("kept-1/kept-1.txt").decode() == items[0]["text"] + "\n"
        assert zf.read("kept-2/kept-2.txt").decode() == other["text"] + "\n"
        prov = json.loads(zf.read("kept-2/provenance.json"))
        assert prov["recipe"] == other["recipe"] and prov["files"] == [
            "kept-2.txt", "kept-2.txt.ganvas.json", "kept-2.png", "kept-2.json", "kept-2.json.ganvas.json"]
        assert P.read_png(io.BytesIO(zf.read("kept-1/kept-1.png")))["recipe"] == recipe


# --- a real browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(runs: Path, tmp_path_factory: pytest.TempPathFactory):
    with studio_at(runs, tmp_path_factory.mktemp("text-server") / "studio.log") as (url, _):
        yield url


def test_write_tab_acrostic_keep_and_download_in_a_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (APT_PACKAGES)"
    shots = Path(os.environ.get("GANVAS_STUDIO_SHOTS") or tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1360, "height": 900}, bypass_csp=True, accept_downloads=True)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{server}/#model={TEXT}")
        page.wait_for_selector("#view-write:not([hidden])")                  # a text model opens on Write
        assert page.locator("#tab-write").is_visible() and page.locator("#tab-explore").is_hidden()
        assert page.locator("#tab-translate").is_hidden()
        assert page.locator("#write-code-form option").all_inner_texts() == ["any (by seed)", "五绝", "七绝", "五律",
                                                                             "七律", "other"]
        page.select_option("#write-code-form", "七绝")
        page.fill("#write-acrostic", ACROSTIC)
        page.click("#write-go")
        page.wait_for_selector("#write-out .poem")
        cards = page.locator("#write-out .poem")
        assert cards.count() == 4
        text = cards.first.locator(".poem-text").inner_text()
        assert form_of(text) == "七绝" and heads(text) == list(ACROSTIC) and len(verses(text)) == 4
        assert cards.first.locator("img").get_attribute("src").startswith("data:image/png;base64,")
        cards.first.locator("[data-act=keep]").click()
        page.wait_for_function("document.getElementById('kept-count').textContent === '1'")
        with page.expect_download() as dl:
            cards.first.locator("[data-act=txt]").click()
        assert dl.value.suggested_filename == f"ganvas-{TEXT}-seed0.txt"
        dl.value.save_as(tmp_path / "poem.txt")
        assert (tmp_path / "poem.txt").read_text(encoding="utf-8") == text + "\n"
        with page.expect_download() as dl:
            page.click("#kept-download")                                          # the kept list as a zip
        dl.value.save_as(tmp_path / "kept.zip")
        with zipfile.ZipFile(tmp_path / "kept.zip") as zf:
            assert zf.read("kept-1.txt").decode("utf-8") == text + "\n" and "provenance.json" in zf.namelist()
        page.screenshot(path=str(shots / "studio-write-test.png"))
        # a request the form cannot meet: its one-line message, the cards stay
        page.fill("#write-acrostic", ACROSTIC + "夜")
        page.click("#write-go")
        page.wait_for_selector("#write-error:not([hidden])")
        assert "has 5 characters; a 七绝 has 4 verses" in page.inner_text("#write-error")
        # the image and translation models still open on their own tabs
        page.select_option("#model", IMAGE)
        page.wait_for_function("document.querySelectorAll('#seed-grid .tile').length === 16")
        assert page.locator("#tab-write").is_hidden() and page.locator("#view-explore").is_visible()
        page.select_option("#model", FONTS)
        page.wait_for_selector("#view-translate:not([hidden])")
        page.select_option("#model", TEXT)                                      # and back: the kept text is there
        page.wait_for_selector("#view-write:not([hidden])")
        page.wait_for_function("document.getElementById('kept-count').textContent === '1'")
        page.click("#kept [data-act=open]")
        assert page.locator("#write-out .poem .poem-text").inner_text() == text
        assert [m for m in problems if "status of 400" not in m] == []    # (the browser logs the refused request)
        browser.close()
