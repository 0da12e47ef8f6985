"""Screenshots of the studio's Draw tab for the docs: a sketch model driven by the mouse in Debian's Chromium.

    .venv/bin/python scripts/sketch_screenshots.py runs --model emoji-sketch2image --out docs
    .venv/bin/python scripts/sketch_screenshots.py runs --kai kai-sketch2image --out docs      # and a glyph

Writes studio-sketch.png: a held-out drawing of the `emoji-sketch` set (never trained on; the
winking face by default) redrawn stroke by stroke with the mouse over its emoji, which is loaded as
the picture to trace (shown faintly under the paper), and studio-sketch-hand.png: a smiley drawn
with the mouse (a circle, two eyes, a mouth), nothing traced; with --kai, studio-sketch-kai.png: the
character 木 written with the mouse in four strokes for a kai-sketch model. Each stroke's end renders the
drawing; both outputs are kept. The browser is /usr/bin/chromium (Debian), launched headless by
Playwright; nothing is downloaded. tests/test_sketch_studio.py drives the same page.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def paths(lines: np.ndarray, shortest: int = 2) -> list[list[tuple[int, int]]]:
    """One-pixel lines (boolean H×W) as pen paths: walks from pixel to 8-neighbour, each pixel used once."""
    todo = set(zip(*np.nonzero(lines), strict=True))
    out = []

    def neighbours(p):
        y, x = p
        return [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy or dx) and (y + dy, x + dx) in todo]

    while todo:
        start = min(todo, key=lambda p: (len(neighbours(p)), p))   # an end of a line when there is one
        todo.discard(start)
        path = [start]
        while True:
            nxt = neighbours(path[-1])
            if not nxt:
                break
            todo.discard(nxt[0])
            path.append(nxt[0])
        if len(path) >= shortest:
            out.append(path)
    return out


def stroke(page, box: dict, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through `points` (fractions of the paper) with the button down."""
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y)
    page.mouse.up()


def settle(page) -> None:
    """Wait for the last stroke's rendering and for the status line to fade."""
    page.wait_for_timeout(600)
    page.wait_for_function("!document.getElementById('draw-output').classList.contains('busy')")
    page.wait_for_function("!document.getElementById('status').classList.contains('show')", timeout=10000)
    page.wait_for_timeout(250)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path)
    ap.add_argument("--model", default="emoji-sketch2image", help="a sketch model in RUNS trained on emoji-sketch")
    ap.add_argument("--kai", help="a sketch model in RUNS trained on kai-sketch: also write studio-sketch-kai.png")
    ap.add_argument("--key", default="1f61c", help="a held-out emoji of emoji-sketch (its code points)")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    args = ap.parse_args()
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from skimage.morphology import skeletonize

    from ganvas.data.dataset import builtin_root
    from ganvas.studio.launch import CHROMIUM, CHROMIUM_ARGS, running_studio

    root = builtin_root("emoji-sketch")
    keys = (root / "sketch.test.keys.txt").read_text().split()
    row = keys.index(args.key)
    sketch, picture = np.load(root / "sketch.test.npy")[row], np.load(root / "image.test.npy")[row]
    lines = skeletonize(sketch[..., 0] < 128)
    side = lines.shape[0]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp, running_studio(args.runs, env=env) as (url, _):
        trace = Path(tmp) / f"{args.key}.png"
        Image.fromarray(picture).save(trace)
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720}, bypass_csp=True)
            page.goto(f"{url}/#model={args.model}")
            page.wait_for_selector("#view-draw:not([hidden])")
            # 1. the dataset's drawing, traced over its emoji
            page.set_input_files("#draw-trace", str(trace))
            page.wait_for_selector("#draw-trace-off:not([hidden])")
            box = page.locator("#draw-canvas").bounding_box()       # where the paper is now
            for path in paths(lines):
                stroke(page, box, [((x + 0.5) / side, (y + 0.5) / side) for y, x in path])
            settle(page)
            page.click("#draw-keep")
            settle(page)
            page.screenshot(path=str(args.out / "studio-sketch.png"))
            # 2. a smiley drawn with the mouse, nothing traced
            page.click("#draw-trace-off")
            page.click("#draw-clear")
            box = page.locator("#draw-canvas").bounding_box()
            circle = [(0.5 + 0.36 * math.cos(t), 0.5 + 0.36 * math.sin(t))
                      for t in np.linspace(0, 2 * math.pi, 48)]
            stroke(page, box, circle)
            for cx in (0.37, 0.63):
                stroke(page, box, [(cx + 0.04 * math.cos(t), 0.4 + 0.05 * math.sin(t))
                                   for t in np.linspace(0, 2 * math.pi, 16)])
            stroke(page, box, [(0.5 + 0.2 * math.cos(t), 0.55 + 0.15 * math.sin(t))
                               for t in np.linspace(0.15 * math.pi, 0.85 * math.pi, 16)])
            settle(page)
            page.click("#draw-keep")
            settle(page)
            page.screenshot(path=str(args.out / "studio-sketch-hand.png"))
            if args.kai:                                     # 木: across, down, left-falling, right-falling
                page.goto(f"{url}/#model={args.kai}")
                page.wait_for_function("document.getElementById('model-info').textContent.includes('kai-sketch')")
                page.wait_for_selector("#view-draw:not([hidden])")
                page.click("#draw-clear")                    # the drawing stays when the model changes
                box = page.locator("#draw-canvas").bounding_box()
                for points in ([(0.18, 0.36), (0.82, 0.34)], [(0.5, 0.12), (0.5, 0.9)],
                               [(0.48, 0.38), (0.36, 0.58), (0.14, 0.78)], [(0.52, 0.38), (0.66, 0.58), (0.88, 0.78)]):
                    stroke(page, box, [points[0]] + [tuple(a + (b - a) * t for a, b in zip(p0, p1, strict=True))
                                                     for p0, p1 in zip(points, points[1:], strict=False)
                                                     for t in np.linspace(0.1, 1, 8)])
                    page.wait_for_timeout(200)
                settle(page)
                page.click("#draw-keep")
                settle(page)
                page.screenshot(path=str(args.out / "studio-sketch-kai.png"))
            browser.close()
        print(f"wrote studio-sketch.png, studio-sketch-hand.png{' and studio-sketch-kai.png' if args.kai else ''} "
              f"to {args.out}")


if __name__ == "__main__":
    main()
