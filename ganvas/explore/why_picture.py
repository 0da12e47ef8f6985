"""Pictures of why-fake maps: D's map drawn over the sample (an image, or a piano-roll's picture).

The sample is shown in grey (so the map's colours read), and the map on top, semi-transparent: orange
where a pixel pushes D towards "real", blue where it pushes towards "fake", more opaque the stronger.
Colours are scaled per sample by the 99th percentile of |map| (one hot pixel does not wash out the
rest); the numbers stay comparable through the scores, not the colours. Everything is deterministic.

A picture's map is drawn as the net push of each pixel's neighbourhood (its mean over a k×k box, k about a
tenth of the side, 3 at 32 px): a strided-convolution D's per-pixel attributions alternate in sign like a
checkerboard, and drawn raw they read as noise (measured on an emoji DCGAN); their local sums keep the
sign and show regions (on emoji: the white margin pushes towards real, a broken face towards fake). Sums
over regions lose nothing of completeness; the maps themselves (JSON, the sanity check) are never smoothed.
Piano-roll maps are drawn cell by cell: a cell is a note, not a texture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    import torch

    from ganvas.explore.why import Maps
    from ganvas.loaded import LoadedModel

REAL = np.array([230.0, 97.0, 1.0])     # towards "real" (orange; Okabe–Ito, colour-blind friendly)
FAKE = np.array([0.0, 114.0, 178.0])    # towards "fake" (blue)
ALPHA = 0.85                            # opacity of the strongest cells
NEIGHBOURHOOD = 10                      # a picture's map is drawn as box means over about side / 10 pixels
MIN_SIDE = 128                          # small pictures are enlarged (nearest) to at least this side


def scale_of(m: np.ndarray) -> float:
    """The |map| value drawn fully opaque: its 99th percentile (1 for an all-zero map)."""
    s = float(np.percentile(np.abs(m), 99))
    return s if s > 0 else 1.0


def overlay(base: np.ndarray, m: np.ndarray, signed: bool = True) -> np.ndarray:
    """`base` (H×W×3 uint8) in grey with map `m` (H×W, same size) blended over it."""
    grey = base.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    grey = 255 - 0.55 * (255 - grey)                      # lightened: the map is the subject
    out = np.repeat(grey[..., None], 3, axis=2)
    v = np.clip(m / scale_of(m), -1, 1)
    strength = (np.abs(v) * ALPHA)[..., None]
    colour = np.where((v >= 0)[..., None] | (not signed), REAL, FAKE)
    return (out * (1 - strength) + colour * strength).round().astype(np.uint8)


def neighbourhood(m: np.ndarray) -> np.ndarray:
    """A picture's map as the mean over each pixel's k×k box (k odd, about side / NEIGHBOURHOOD)."""
    from scipy.ndimage import uniform_filter

    k = max(1, min(m.shape) // NEIGHBOURHOOD) | 1
    return uniform_filter(m.astype(np.float64), size=k, mode="nearest") if k > 1 else m


def sample_picture(model: LoadedModel, m: np.ndarray, sample: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The sample's own picture (H×W×3) and its map as drawn on it: a picture's pixels (neighbourhood means),
    the cells of a piano-roll's picture."""
    if model.domain.name == "music":
        from ganvas.music.picture import roll_picture

        d = model.domain
        roll = d.to_array(sample[None])[0]                              # tracks × steps × pitches
        pic = roll_picture(roll, d.low, d.beat_steps, d.bar_steps)
        step_px, pitch_px = pic.shape[1] // roll.shape[1], pic.shape[0] // roll.shape[2]
        cells = np.repeat(np.repeat(m.T[::-1], pitch_px, 0), step_px, 1)  # steps × pitches → H×W (pitch up)
        return pic, cells
    a = model.domain.to_array(sample[None])[0]
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=2)
    return a, neighbourhood(m)


def _enlarge(a: np.ndarray) -> np.ndarray:
    k = max(1, -(-MIN_SIDE // max(1, min(a.shape[:2]))))
    return np.repeat(np.repeat(a, k, 0), k, 1) if k > 1 else a


def panel(model: LoadedModel, maps: Maps, i: int, caption: bool = True) -> Image.Image:
    """Sample i beside its map drawn over it, captioned with D's score."""
    pic, m = sample_picture(model, maps.maps[i], maps.samples[i])
    if model.domain.name == "image":
        pic, m = _enlarge(pic), _enlarge(m)
    over = overlay(pic, m)
    gap = np.full((pic.shape[0], 4, 3), 255, np.uint8)
    body = np.concatenate([pic, gap, over], axis=1)
    if not caption:
        return Image.fromarray(body)
    head = Image.new("RGB", (body.shape[1], 14), "white")
    label = maps.labels[i] if i < len(maps.labels) else f"sample {i}"
    ImageDraw.Draw(head).text((2, 1), f"{label}  D {maps.scores[i]:+.2f}", fill=(0, 0, 0),
                              font=ImageFont.load_default())
    return Image.fromarray(np.concatenate([np.asarray(head), body], axis=0))


def overlay_picture(model: LoadedModel, maps: Maps, i: int) -> Image.Image:
    """The map of sample i drawn over the sample alone (what the studio shows beside an output)."""
    pic, m = sample_picture(model, maps.maps[i], maps.samples[i])
    return Image.fromarray(overlay(pic, m))


def sheet(model: LoadedModel, maps: Maps, indices: list[int] | None = None, columns: int = 4) -> Image.Image:
    """Panels of several samples in a grid, with a key to the colours underneath."""
    indices = list(range(len(maps.scores))) if indices is None else indices
    panels = [np.asarray(panel(model, maps, i)) for i in indices]
    h = max(p.shape[0] for p in panels)
    w = max(p.shape[1] for p in panels)
    cols = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // cols)
    canvas = np.full((rows * (h + 6) + 16, cols * (w + 6), 3), 255, np.uint8)
    for k, p in enumerate(panels):
        r, c = divmod(k, cols)
        canvas[r * (h + 6):r * (h + 6) + p.shape[0], c * (w + 6):c * (w + 6) + p.shape[1]] = p
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    y = canvas.shape[0] - 14
    draw.rectangle((2, y + 2, 10, y + 10), fill=tuple(int(v) for v in REAL))
    draw.text((14, y), "towards real", fill=(0, 0, 0), font=ImageFont.load_default())
    draw.rectangle((100, y + 2, 108, y + 10), fill=tuple(int(v) for v in FAKE))
    draw.text((112, y), f"towards fake   ({maps.method}; D = logit, higher = more real)", fill=(0, 0, 0),
              font=ImageFont.load_default())
    return img


def sanity_picture(model: LoadedModel, trained: Maps, random: Maps, indices: list[int] | None = None) -> Image.Image:
    """One row per sample: the sample, its map from the trained D, its map from the re-initialised D
    (the model-randomisation test, drawn), with a heading."""
    indices = list(range(len(trained.scores))) if indices is None else indices
    rows = []
    for i in indices:
        a = np.asarray(panel(model, trained, i, caption=False))
        b = np.asarray(panel(model, random, i, caption=False))
        half = b[:, (b.shape[1] + 4) // 2:]                       # the randomised D's overlay alone
        rows.append(np.concatenate([a, np.full((a.shape[0], 4, 3), 255, np.uint8), half], axis=1))
    w = max(r.shape[1] for r in rows)
    body = np.full((sum(r.shape[0] + 4 for r in rows), w, 3), 255, np.uint8)
    y = 0
    for r in rows:
        body[y:y + r.shape[0], :r.shape[1]] = r
        y += r.shape[0] + 4
    head = Image.new("RGB", (w, 14), "white")
    third = (w - 8) // 3
    draw = ImageDraw.Draw(head)
    for k, text in enumerate(("sample", "trained D", "D re-initialised")):
        draw.text((k * (third + 4) + 2, 1), text, fill=(0, 0, 0), font=ImageFont.load_default())
    return Image.fromarray(np.concatenate([np.asarray(head), body], axis=0))
