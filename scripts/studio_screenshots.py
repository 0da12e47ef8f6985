"""Screenshots of the studio for the docs: `ganvas studio` on a runs folder, driven through Debian's Chromium.

    .venv/bin/python scripts/studio_screenshots.py runs --model emoji-dcgan-32 --out docs
    .venv/bin/python scripts/studio_screenshots.py runs --model emoji-dcgan-32 \
        --music chorales-musegan-hybrid --out docs
    .venv/bin/python scripts/studio_screenshots.py runs --text tang-poems-ctrl --out docs
    .venv/bin/python scripts/studio_screenshots.py runs --names shapes-dcgan --out docs

Writes studio-explore.png (a seed grid, a chosen output moved along two directions, two kept
outputs), studio-interpolate.png, studio-breed.png (after one generation) and, with --music,
studio-music.png (a phrase playing); with --text, studio-write.png (七绝 with the acrostic 春花秋月,
two poems kept); with --names, studio-named-directions.png (the sliders labelled with what each direction
changes, one moved). The browser is /usr/bin/chromium (Debian), launched headless
by Playwright; nothing is downloaded. The test suite drives the same page (tests/test_studio_browser.py).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def quiet(page) -> None:
    """Wait until the status line has faded, so it does not cover the picture."""
    page.wait_for_function("!document.getElementById('status').classList.contains('show')", timeout=10000)
    page.wait_for_timeout(250)


def write_shot(page, url: str, model: str, out: Path) -> None:
    """The Write tab: 七绝 with the acrostic 春花秋月, four poems, the first and third kept."""
    page.set_viewport_size({"width": 1360, "height": 1020})
    page.goto(f"{url}/#model={model}")
    page.wait_for_selector("#view-write:not([hidden])")
    page.evaluate("localStorage.clear()")
    page.select_option("#write-code-form", "七绝")
    page.fill("#write-acrostic", "春花秋月")
    page.click("#write-go")
    page.wait_for_selector("#write-out .poem")
    for i in (0, 2):
        page.locator("#write-out .poem [data-act=keep]").nth(i).click()
    quiet(page)
    page.screenshot(path=str(out / "studio-write.png"))
    page.set_viewport_size({"width": 1360, "height": 860})


def names_shot(page, url: str, model: str, out: Path) -> None:
    """The Explore tab of `model` with its sliders named (ganvas/explore/naming.py); the first one moved +2σ."""
    page.set_viewport_size({"width": 1360, "height": 1180})            # room for eight sliders
    page.goto(f"{url}/#model={model}")
    page.wait_for_function("document.querySelectorAll('#seed-grid .tile').length === 16")
    page.wait_for_selector("#direction-sliders .dir-name", timeout=120000)
    page.locator("#seed-grid .tile").nth(9).click()
    page.fill("#dir-0", "2")
    page.dispatch_event("#dir-0", "input")
    page.wait_for_function("document.getElementById('current-caption').textContent.includes('d0+2σ')")
    page.locator("#dir-0").focus()
    quiet(page)
    page.screenshot(path=str(out / "studio-named-directions.png"))
    page.set_viewport_size({"width": 1360, "height": 860})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--model", help="an image model in RUNS")
    ap.add_argument("--music", help="a music model in RUNS")
    ap.add_argument("--text", help="a text model in RUNS (e.g. a tang-poems-ctrl run)")
    ap.add_argument("--names", help="an image model in RUNS whose directions have meaningful names (e.g. on shapes)")
    ap.add_argument("--seed-start", type=int, default=0)
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS, running_studio

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with running_studio(args.runs, env=env) as (url, _):
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1360, "height": 860}, bypass_csp=True)
            if args.text:
                write_shot(page, url, args.text, args.out)
            if args.names:
                names_shot(page, url, args.names, args.out)
            if not args.model:
                browser.close()
                print(f"wrote {'studio-write.png ' if args.text else ''}"
                      f"{'studio-named-directions.png ' if args.names else ''}to {args.out}")
                return
            page.goto(f"{url}/#model={args.model}")
            page.wait_for_function("document.querySelectorAll('#seed-grid .tile').length === 16")
            if args.seed_start:
                page.fill("#seed-start", str(args.seed_start))
                page.press("#seed-start", "Enter")
                page.wait_for_timeout(800)
            page.wait_for_selector("#direction-sliders input")
            page.locator("#seed-grid .tile").nth(10).click()
            page.keyboard.press("b")
            page.locator("#seed-grid .tile").nth(5).click()
            page.keyboard.press("k")
            page.keyboard.press("a")
            for slider, value in (("#dir-0", "1.5"), ("#dir-2", "-1")):
                page.fill(slider, value)
                page.dispatch_event(slider, "input")
                page.wait_for_timeout(400)
            page.keyboard.press("k")
            page.locator("#dir-2").focus()
            quiet(page)
            page.screenshot(path=str(args.out / "studio-explore.png"))
            page.keyboard.press("2")
            page.click("#interp-go")
            page.wait_for_selector("#interp-strip .tile")
            quiet(page)
            page.screenshot(path=str(args.out / "studio-interpolate.png"))
            page.keyboard.press("3")
            for i in (1, 6, 11):
                page.locator("#population .tile").nth(i).click()
            page.click("#breed-go")
            page.wait_for_function("document.getElementById('generation').textContent === 'Generation 1'")
            for i in (0, 4):
                page.locator("#population .tile").nth(i).click()
            quiet(page)
            page.screenshot(path=str(args.out / "studio-breed.png"))
            if args.music:
                page.goto(f"{url}/#model={args.music}")
                page.wait_for_function("document.getElementById('model-info').textContent.includes('music')")
                page.wait_for_function("document.querySelector('#seed-grid .tile img')?.alt === 'seed 0' && "
                                       "document.body.classList.contains('music')")
                page.wait_for_selector("#direction-sliders input", timeout=120000)
                page.locator("#seed-grid .tile").nth(2).click()
                page.wait_for_function("document.getElementById('current-caption').textContent === 'seed 2'")
                page.click("#play")
                page.wait_for_function("() => { const a = document.getElementById('current-audio');"
                                       " return !a.paused && a.currentTime > 1; }", timeout=120000)
                quiet(page)
                page.screenshot(path=str(args.out / "studio-music.png"))
            browser.close()
        print(f"wrote studio-*.png to {args.out}")


if __name__ == "__main__":
    main()
