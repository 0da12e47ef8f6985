"""A conditional model in the studio: the class picker and blend slider in a real browser, and the REST API."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import studio_at
from test_conditional import shades_folder

from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS

MODEL = "shades-cdcgan"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from ganvas.cli import main

    data = shades_folder(tmp_path_factory.mktemp("shades-data") / "shades")
    root = tmp_path_factory.mktemp("studio-classes") / "runs"
    assert main(["train", "--model", "dcgan", "--data", str(data), "--resolution", "32", "--conditional",
                 "--kimg", "0.1", "--minutes", "0", "--batch-size", "16", "--set", "model_args.ngf=8",
                 "--set", "model_args.ndf=8", "--set", "sample_count=4", "--out", str(root / MODEL)]) == 0
    with studio_at(root, tmp_path_factory.mktemp("server-log") / "studio.log") as (url, _):
        yield url


def post(url: str, path: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(f"{url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_api_takes_a_class_by_name_or_blend_and_refuses_a_bad_one(server: str) -> None:
    with urllib.request.urlopen(f"{server}/api/models/{MODEL}", timeout=60) as r:
        assert json.loads(r.read())["explore"]["classes"] == ["bright", "dark"]
    status, dark = post(server, f"/api/models/{MODEL}/render", {"seed": 3, "label": "dark"})
    assert status == 200 and dark["recipe"]["label"] == "dark"
    _, bright = post(server, f"/api/models/{MODEL}/render", {"seed": 3, "label": "bright"})
    _, blend = post(server, f"/api/models/{MODEL}/render", {"seed": 3, "label": "dark:0.5,bright:0.5"})
    assert len({dark["image"], bright["image"], blend["image"]}) == 3
    _, again = post(server, f"/api/models/{MODEL}/seeds", {"seeds": [3], "label": "dark"})
    assert again["items"][0]["image"] == dark["image"]                   # a seed and a class name one output
    for label, needle in (("grey", "unknown class 'grey'"), ("dark:0.9,bright:0.9", "must sum to 1"),
                          ("dark:-1,bright:2", ">= 0")):
        status, err = post(server, f"/api/models/{MODEL}/render", {"seed": 3, "label": label})
        assert status == 400 and needle in err["error"] and "\n" not in err["error"], err
    status, _ = post(server, f"/api/models/{MODEL}/interpolate",
                     {"a": {"seed": 1, "label": "dark"}, "b": {"seed": 1, "label": "bright"}, "steps": 3})
    assert status == 200


def test_the_class_picker_and_blend_slider_in_a_browser(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (APT_PACKAGES)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server}/#model={MODEL}")
        page.wait_for_function("document.getElementById('model-info').textContent.includes('dcgan')")
        page.wait_for_selector("#seed-grid .tile img")
        assert page.locator("#class-row").is_visible()
        options = page.locator("#class-a option").all_text_contents()
        assert options[1:] == ["bright", "dark"]
        page.locator("#seed-grid .tile").first.click()
        page.wait_for_function("document.getElementById('current-caption').textContent.startsWith('seed 0')")
        before = page.get_attribute("#current-img", "src")
        page.select_option("#class-a", "dark")
        page.wait_for_function("document.getElementById('current-caption').textContent.includes('dark')")
        dark = page.get_attribute("#current-img", "src")
        assert dark != before or "dark" in page.text_content("#current-caption")
        page.select_option("#class-b", "bright")
        page.locator("#class-mix").fill("0.5")
        page.locator("#class-mix").dispatch_event("change")
        page.wait_for_function("document.getElementById('current-caption').textContent.includes('bright:0.50')")
        page.wait_for_function("b => document.getElementById('current-img').src !== b", arg=dark)
        page.screenshot(path=str(tmp_path / "classes.png"))
        # Interpolate: the same seed from one class to the other, a class axis
        page.select_option("#class-a", "")
        page.locator("#seed-grid .tile").nth(1).click()
        page.wait_for_function("document.getElementById('current-caption').textContent.startsWith('seed 1')")
        page.keyboard.press("a")
        page.keyboard.press("b")
        page.click("#tab-interpolate")
        assert page.locator("#interp-class-b-box").is_visible()
        page.select_option("#interp-class-a", "dark")
        page.select_option("#interp-class-b", "bright")
        page.fill("#interp-steps", "3")
        page.select_option("#interp-anim", "")
        page.click("#interp-go")
        page.wait_for_selector("#interp-strip .tile img")
        frames = page.locator("#interp-strip .tile img").evaluate_all("els => els.map(e => e.src)")
        assert len(frames) == 3 and len(set(frames)) == 3
        _, dark1 = post(server, f"/api/models/{MODEL}/render", {"seed": 1, "label": "dark"})
        _, bright1 = post(server, f"/api/models/{MODEL}/render", {"seed": 1, "label": "bright"})
        assert frames[0] == dark1["image"] and frames[-1] == bright1["image"]
        assert not problems, problems
        browser.close()
