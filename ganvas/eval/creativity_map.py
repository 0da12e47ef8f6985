"""The novelty–value map: every output a dot at (novelty, value), thumbnails where they fit, and beside it the
most novel outputs each next to its nearest training items, so a person sees whether "far out" means new or
broken. Drawn with Pillow (ganvas has no plotting dependency)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ganvas.errors import GanvasError
from ganvas.eval.creativity import CreativityScores

W, H = 760, 560                 # the plot area in pixels
LEFT, TOP, BOTTOM = 64, 44, 52  # margins: axis labels, title, x-axis label
THUMB = 40                      # thumbnail side on the plot
NN_THUMB = 44                   # thumbnail side in the most-novel panel
MOST_NOVEL = 8                  # rows in that panel
INSIDE, OUTSIDE = (40, 150, 90), (210, 50, 50)   # frame colours: inside / outside the real manifold


def value_axis(scores: CreativityScores, real_logits: np.ndarray | None = None
               ) -> tuple[str, np.ndarray, tuple[float, float], float, str]:
    """(label, values, range, guide, guide's words) of the map's y axis: D's score when the run has a D (its
    rank among the reals is in the tables; in a trained GAN D ranks nearly every output below every real, so
    the rank would squash the map onto one line), else density (a judge every run shares)."""
    if scores.d_logit is not None:
        v = scores.d_logit
        guide = float(np.median(real_logits)) if real_logits is not None and len(real_logits) else float("nan")
        lo = float(np.percentile(v, 1))
        hi = max(float(np.percentile(v, 99)), guide if np.isfinite(guide) else lo)
        pad = 0.05 * max(hi - lo, 1e-6)
        return ("value: D's score (a logit of this run's D; not comparable between runs)", v, (lo - pad, hi + pad),
                guide, "reals' median D score")
    top = max(1.5, float(np.percentile(scores.density, 98)))
    return (f"value: density (real k=5 neighbourhoods / 5, clipped at {top:.2g})", scores.density, (0.0, top), 1.0,
            "density 1: as crowded as reals")


def _thumb(a: np.ndarray, side: int, colour: tuple[int, int, int]) -> Image.Image:
    im = Image.fromarray(a).convert("RGB").resize((side - 4, side - 4), Image.Resampling.NEAREST)
    framed = Image.new("RGB", (side, side), colour)
    framed.paste(im, (2, 2))
    return framed


def novelty_value_map(images: np.ndarray, scores: CreativityScores, train_images: np.ndarray,
                      title: str = "", neighbours: np.ndarray | None = None, seed: int = 0,
                      real_logits: np.ndarray | None = None) -> Image.Image:
    """The map of `images` (uint8 N×H×W×3) under `scores`; `train_images` is the dataset's `x` (what
    `scores.nearest` indexes); `neighbours` (N×k dataset indices, nearest first) adds more training items per
    novel output than the nearest one; `real_logits`: D's scores of reals (a guide line). Thumbnails go where
    they do not overlap, the most and least novel first, then a seeded shuffle of the rest."""
    images = np.asarray(images)
    if images.ndim != 4 or images.dtype != np.uint8 or len(images) != len(scores):
        raise GanvasError(f"the novelty–value map needs uint8 N×H×W×3 images, one per score ({len(scores)}), "
                          f"got {images.dtype} {images.shape}")
    font = ImageFont.load_default(size=13)
    small = ImageFont.load_default(size=11)
    ylabel, yv, (y0, y1), yguide, guide_words = value_axis(scores, real_logits)
    x1 = max(2.0, float(np.percentile(scores.novelty, 98)) * 1.05)
    panel = 40 + 4 * (NN_THUMB + 6) + 60
    canvas = Image.new("RGB", (LEFT + W + 24 + panel, TOP + H + BOTTOM), "white")
    draw = ImageDraw.Draw(canvas)

    def px(nov: float, val: float) -> tuple[float, float]:
        return (LEFT + min(nov, x1) / x1 * W, TOP + H - (min(max(val, y0), y1) - y0) / (y1 - y0) * H)

    draw.rectangle([LEFT, TOP, LEFT + W, TOP + H], outline=(120, 120, 120))
    for t in np.linspace(0, x1, 6):
        x, _ = px(t, y0)
        draw.line([x, TOP + H, x, TOP + H + 4], fill="black")
        draw.text((x - 10, TOP + H + 6), f"{t:.2g}", fill="black", font=small)
    for t in np.linspace(y0, y1, 6):
        _, y = px(0, t)
        draw.line([LEFT - 4, y, LEFT, y], fill="black")
        draw.text((LEFT - 40, y - 7), f"{t:.2g}", fill="black", font=small)
    gx, _ = px(1.0, y0)
    _, gy = px(0, yguide)
    guide_y = np.isfinite(yguide) and y0 <= yguide <= y1
    draw.line([gx, TOP, gx, TOP + H], fill=(150, 150, 220), width=1)
    if guide_y:
        draw.line([LEFT, gy, LEFT + W, gy], fill=(150, 150, 220), width=1)
    draw.text((LEFT + 8, TOP + H + 24), "novelty: distance to the nearest training item / that item's own "
              "nearest-neighbour distance (clipped at the right edge)", fill="black", font=font)
    draw.text((8, TOP - 22), ylabel + "; frame: green inside the real manifold, red outside", fill="black",
              font=font)
    if title:
        draw.text((LEFT, 6), title, fill="black", font=font)

    for i in range(len(scores)):
        x, y = px(float(scores.novelty[i]), float(yv[i]))
        colour = INSIDE if scores.inside[i] else OUTSIDE
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    order = np.argsort(-scores.novelty, kind="stable")
    first = list(order[:6]) + list(order[::-1][:4])
    rest = [int(i) for i in np.random.default_rng(seed).permutation(len(scores)) if i not in first]
    placed: list[tuple[float, float]] = []
    for i in first + rest:
        x, y = px(float(scores.novelty[i]), float(yv[i]))
        if any(abs(x - a) < THUMB and abs(y - b) < THUMB for a, b in placed):
            continue
        placed.append((x, y))
        thumb = _thumb(images[i], THUMB, INSIDE if scores.inside[i] else OUTSIDE)
        left = int(min(max(x - THUMB / 2, LEFT + 1), LEFT + W - THUMB))
        top = int(min(max(y - THUMB / 2, TOP + 1), TOP + H - THUMB))
        canvas.paste(thumb, (left, top))

    draw.text((gx + 4, TOP + 4), "novelty 1: as far as a new real item", fill=(90, 90, 180), font=small,
              stroke_width=2, stroke_fill="white")
    if guide_y:
        draw.text((LEFT + W - 160, gy - 15), guide_words, fill=(90, 90, 180), font=small, stroke_width=2,
                  stroke_fill="white")
    px0 = LEFT + W + 24
    draw.text((px0, TOP - 22), "the most novel, beside their nearest training items", fill="black", font=font)
    for row, i in enumerate(order[:MOST_NOVEL]):
        y = TOP + row * (NN_THUMB + 22)
        canvas.paste(_thumb(images[i], NN_THUMB, INSIDE if scores.inside[i] else OUTSIDE), (px0, y))
        draw.text((px0, y + NN_THUMB + 2), f"nov {scores.novelty[i]:.2f}", fill="black", font=small)
        near = [int(scores.nearest[i])] if neighbours is None else [int(j) for j in neighbours[i][:3]]
        for k, j in enumerate(near[:3]):
            canvas.paste(_thumb(train_images[j], NN_THUMB, (200, 200, 200)), (px0 + (k + 1) * (NN_THUMB + 6) + 8, y))
            draw.text((px0 + (k + 1) * (NN_THUMB + 6) + 8, y + NN_THUMB + 2), f"#{j}", fill=(90, 90, 90),
                      font=small)
    return canvas


def map_for(evaluation: Any, scores: CreativityScores, title: str = "",
            real_logits: np.ndarray | None = None) -> Image.Image:
    """The map of an evaluation's generated samples (its nearest-neighbour details give three training items
    per novel output when the memorization metric ran)."""
    ref = evaluation.reference
    idx = evaluation.details.get("nn_indices")
    neighbours = None if idx is None else ref.train_idx[np.asarray(idx)]
    return novelty_value_map(evaluation.fake_images, scores, ref.dataset.arrays["x"], title, neighbours,
                             real_logits=real_logits)
