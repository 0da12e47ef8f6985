"""The studio in a real browser: `ganvas studio` on a free loopback port, driven through Debian's Chromium.

Playwright drives the system's /usr/bin/chromium (Debian package `chromium`, in the Makefile's
APT_PACKAGES); no browser is downloaded. Screenshots go to $GANVAS_STUDIO_SHOTS when set (the docs'
pictures come from scripts/studio_screenshots.py on trained runs), else to the test's own folder.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from conftest import studio_at

from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS

SG = "nested/emoji-stylegan"


@pytest.fixture(scope="module")
def server(studio_runs: Path, tmp_path_factory):
    """The real command, as a person starts it; its temporary folder is watched for stray files."""
    scratch = tmp_path_factory.mktemp("server-tmp")
    log = tmp_path_factory.mktemp("server-log") / "studio.log"
    with studio_at(studio_runs, log, TMPDIR=str(scratch)) as (url, proc):
        yield url, scratch, log
    assert proc.returncode in (0, -15), log.read_text()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (APT_PACKAGES)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GANVAS_STUDIO_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def aborted_media(request) -> bool:
    """A media element's fetch of its own blob, cancelled by the player (it reads audio in ranges and drops
    a range it no longer needs, or the page moved on): Chromium reports it as failed, but nothing failed."""
    return request.url.startswith("blob:") and "ERR_ABORTED" in (request.failure or "")


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed",
            lambda r: None if aborted_media(r) else problems.append(f"request failed: {r.url} ({r.failure})"))
    return problems


def named_sliders(page, url: str, model: str) -> None:
    """Each slider's label is its direction's name from the REST answer (ganvas/explore/naming.py), with its
    number; its tooltip lists the largest effects."""
    import json

    page.wait_for_selector("#direction-sliders .dir-name", timeout=120000)     # measured after the sliders show
    with urllib.request.urlopen(f"{url}/api/models/{model}/directions") as r:
        dirs = json.load(r)["directions"]
    shown = page.locator("#direction-sliders .slider")
    assert shown.count() == min(8, len(dirs))
    for i in range(shown.count()):
        assert shown.nth(i).locator(".dir-name").text_content() == dirs[i]["name"] != ""
        assert shown.nth(i).locator(".dir-num").text_content() == str(dirs[i]["index"])
        assert page.get_attribute(f"#dir-{dirs[i]['index']}", "title").startswith(
            f"Direction {dirs[i]['index']}: {dirs[i]['name']}")


def test_explore_interpolate_keep_and_breed(server, browser, shots: Path, studio_runs: Path) -> None:
    url, scratch, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)   # for wait_for_function
    problems = watch(page)
    page.goto(f"{url}/")
    page.wait_for_selector("#seed-grid .tile img")
    page.select_option("#model", SG)                                         # pick a model
    page.wait_for_function("document.getElementById('model-info').textContent.includes('stylegan')")
    page.wait_for_function("document.querySelectorAll('#seed-grid .tile').length === 16")
    page.wait_for_selector("#direction-sliders input")
    assert page.locator("#layers-row").is_visible()                          # a style model: edit layers
    named_sliders(page, url, SG)

    # keyboard: into the grid, one to the right, Enter picks seed 1
    page.locator("#seed-grid .tile").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('current-caption').textContent === 'seed 1'")

    # a slider moved with the keyboard re-renders the picture
    before = page.get_attribute("#current-img", "src")
    page.locator("#dir-0").focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("document.getElementById('dir-0-out').textContent === '+1.5σ'")
    page.wait_for_function("b => document.getElementById('current-img').src !== b", arg=before)
    page.wait_for_function("document.getElementById('current-caption').textContent.includes('d0+1.5σ')")
    edited = page.get_attribute("#current-img", "src")
    page.locator("#truncation").focus()
    page.keyboard.press("ArrowLeft")                                          # ψ 0.95: changes it again
    page.wait_for_function("b => document.getElementById('current-img').src !== b", arg=edited)
    # undo (u): the last change (ψ) goes back, the direction edit stays; then ψ 0.95 again
    page.locator("body").focus()
    page.keyboard.press("u")
    page.wait_for_function("document.getElementById('truncation-out').textContent === '1.00'")
    assert page.inner_text("#dir-0-out") == "+1.5σ" and page.locator("#undo-edit").is_enabled()
    page.wait_for_function("e => document.getElementById('current-img').src === e", arg=edited)   # as before
    page.locator("#truncation").focus()
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.getElementById('truncation-out').textContent === '0.95'")

    # keep it (k), make it interpolation end A (a); another seed as B (b)
    page.locator("body").focus()
    page.keyboard.press("k")
    page.wait_for_function("document.getElementById('kept-count').textContent === '1'")
    # the run records the keep with its measures (the first keep may train the data's feature extractor: ~1 min)
    page.wait_for_function("document.getElementById('status').textContent.includes('recorded in the run')",
                           timeout=240_000)
    kept = [json.loads(line) for line in (studio_runs / SG / "studio" / "kept.jsonl").read_text().splitlines()]
    assert kept[-1]["recipe"]["seed"] == 1 and kept[-1]["recipe"]["edits"][0]["amount"] == 1.5
    assert {"novelty", "d_rank", "ambiguity"} <= set(kept[-1]["scores"])
    page.keyboard.press("a")
    page.locator("#seed-grid .tile").nth(5).click()
    page.keyboard.press("b")
    page.screenshot(path=str(shots / "test-studio-explore.png"))
    page.keyboard.press("2")
    page.click("#interp-go")
    page.wait_for_function("document.querySelectorAll('#interp-strip .tile').length === 8")
    page.wait_for_selector("#interp-anim-img[src^='data:image/gif']")
    page.click("#interpolate-keep")                                           # every frame kept, from this tab
    page.wait_for_function("document.getElementById('kept-count').textContent === '9'")

    # breed once: two parents, children, generation 1
    page.keyboard.press("3")
    page.wait_for_function("document.querySelectorAll('#population .tile').length === 16")
    page.locator("#population .tile").nth(2).click()
    page.locator("#population .tile").nth(7).focus()
    page.keyboard.press("Space")                                              # picked with the keyboard too
    assert page.locator("#population .tile.parent").count() == 2
    page.click("#breed-go")
    page.wait_for_function("document.getElementById('generation').textContent === 'Generation 1'")
    assert page.locator("#population .tile").count() == 12
    assert page.locator("#breed-keep").is_disabled()                          # nothing picked yet
    page.locator("#population .tile").nth(4).click()
    page.click("#breed-keep")
    page.wait_for_function("document.getElementById('kept-count').textContent === '10'")
    with page.expect_download() as dl:
        page.click("#breed-download")
    assert dl.value.suggested_filename.endswith(".zip")
    page.screenshot(path=str(shots / "test-studio-breed.png"))

    # a narrow screen: one column, the kept list below
    page.set_viewport_size({"width": 420, "height": 900})
    page.keyboard.press("1")
    page.wait_for_timeout(100)
    grid = page.locator("#seed-grid").bounding_box()
    kept = page.locator(".kept").bounding_box()
    assert kept["y"] > grid["y"] + grid["height"] and grid["width"] <= 420
    assert not problems, problems
    assert not list(scratch.iterdir())                                        # nothing in the system temp folder
    page.close()


def test_music_plays_in_the_page_and_projection_runs(server, browser, shots: Path, tmp_path: Path) -> None:
    url, _, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    problems = watch(page)
    page.goto(f"{url}/#model=chorales-musegan")
    page.wait_for_function("document.querySelectorAll('#seed-grid .tile').length === 16")
    assert page.locator("#tab-project").is_hidden() and page.locator("#audio-row").is_visible()
    page.click("#play")
    page.wait_for_function("() => { const a = document.getElementById('current-audio');"
                           " return !a.paused && a.currentTime > 0.1; }", timeout=60000)
    page.screenshot(path=str(shots / "test-studio-music.png"))
    # the audio fully loaded and paused before the page moves on: a media element still fetching its blob
    # when the document changes reports the fetch as failed (a race with the player, not an error of ganvas)
    page.wait_for_function("document.getElementById('current-audio').networkState !== 2", timeout=60000)
    page.evaluate("document.getElementById('current-audio').pause()")

    # projection from an uploaded picture (an image model), with its progress
    from PIL import Image

    Image.new("RGB", (48, 40), (250, 200, 40)).save(tmp_path / "me.png")
    page.goto(f"{url}/#model=emoji-dcgan")                                  # the same page: a hash change
    page.wait_for_selector("#tab-project:not([hidden])")
    page.wait_for_function("document.getElementById('model-info').textContent.startsWith('dcgan')")
    page.keyboard.press("4")
    page.set_input_files("#project-file", str(tmp_path / "me.png"))
    page.fill("#project-steps", "20")
    page.click("#project-go")
    page.wait_for_selector("#project-use:not([hidden])", timeout=60000)
    assert "steps, mean pixel error" in page.inner_text("#project-caption")
    kept = int(page.inner_text("#kept-count") or 0)
    page.click("#project-keep")                                              # kept from the Project tab
    page.wait_for_function(f"document.getElementById('kept-count').textContent === '{kept + 1}'")
    page.click("#project-use")
    page.wait_for_function("document.getElementById('current-caption').textContent === 'a code'")
    assert not problems, problems
    page.close()


def test_translation_view_for_a_font_model(server, browser) -> None:
    url, _, _ = server
    page = browser.new_page(bypass_csp=True)
    problems = watch(page)
    page.goto(f"{url}/#model=fonts-pix2pix")
    page.wait_for_selector("#view-translate:not([hidden])")
    assert page.locator("#tab-explore").is_hidden()
    page.fill("#translate-text", "春眠")
    page.click("#translate-go")
    page.wait_for_function("document.querySelectorAll('#translate-out .pair').length === 2")
    assert page.get_attribute("#translate-strip", "src").startswith("data:image/png")
    with page.expect_download() as dl:                                        # the Translate tab downloads too
        page.click("#translate-download")
    import zipfile

    names = zipfile.ZipFile(dl.value.path()).namelist()
    assert sorted(names) == ["input-1.png", "input-2.png", "output-1.png", "output-2.png", "provenance.json"]
    assert not problems, problems
    page.close()


def test_the_page_loads_nothing_from_elsewhere(server, browser) -> None:
    """Under its own Content-Security-Policy (no bypass): every request is to the studio, nothing is refused."""
    url, _, _ = server
    page = browser.new_page()
    problems = watch(page)
    hosts = set()
    page.on("request", lambda r: hosts.add(r.url.split("/")[2] if "://" in r.url else r.url.split(":")[0]))
    page.goto(f"{url}/")
    page.wait_for_selector("#seed-grid .tile img")
    page.wait_for_selector("#direction-sliders input")
    page.locator("#seed-grid .tile").nth(3).click()
    page.wait_for_selector("#current-caption:text('seed 3')")
    assert hosts <= {url.split("/")[2], "data"}, hosts
    assert not problems, problems                                             # CSP refusals are console errors
    with urllib.request.urlopen(f"{url}/") as r:
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    page.close()


def test_copy_check_and_verify_tab(server, browser, shots: Path, tmp_path: Path) -> None:
    """Explore's Copy? shows the guard's verdict and the nearest training item; the Verify tab says of an
    uploaded download what `ganvas verify` says, and of a plain picture that it is not verified."""
    url, _, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    problems = watch(page)
    page.goto(f"{url}/#model=emoji-dcgan")
    page.wait_for_function("document.getElementById('current-caption').textContent.startsWith('seed')")
    page.click("#check-copies")
    page.wait_for_selector("#guard-box:not([hidden])")
    page.wait_for_function("document.getElementById('guard-text').textContent.length > 10")
    assert "near-copy" in page.text_content("#guard-text")
    assert page.get_attribute("#guard-img", "src").startswith("data:image/png")     # output | training item
    download = urllib.request.urlopen(urllib.request.Request(
        f"{url}/api/models/emoji-dcgan/export?format=png", data=b'{"seed": 2}',
        headers={"Content-Type": "application/json", "Origin": url}))
    (tmp_path / "seed2.png").write_bytes(download.read())
    page.keyboard.press("8")
    page.set_input_files("#verify-file", str(tmp_path / "seed2.png"))
    page.wait_for_function("document.getElementById('verify-status').textContent.endsWith('verified')")
    assert page.text_content("#verify-status") == "seed2.png: verified"
    assert "watermark: found" in page.text_content("#verify-out")
    page.screenshot(path=str(shots / "test-studio-verify.png"))
    from PIL import Image

    Image.new("RGB", (32, 32), "white").save(tmp_path / "plain.png")
    page.set_input_files("#verify-file", str(tmp_path / "plain.png"))
    page.wait_for_function("document.getElementById('verify-status').textContent.includes('not verified')")
    assert "no ganvas manifest" in page.text_content("#verify-out")
    assert not problems, problems
    page.close()
