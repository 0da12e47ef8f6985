"""Piano-roll pictures: time left to right, pitch bottom to top, one colour per track.

Bars are marked by grey lines, beats by lighter ones, every C by a faint row; the first step of each
note is drawn darker, so repeated notes and held notes look different. Where tracks sound the same
pitch at once their colours are mixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# colour-blind-friendly qualitative palette (Okabe & Ito 2008), cycled for more tracks
PALETTE = ((213, 94, 0), (0, 158, 115), (0, 114, 178), (204, 121, 167), (230, 159, 0), (86, 180, 233),
           (0, 0, 0), (240, 228, 66))


def track_colours(n: int) -> list[tuple[int, int, int]]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


def roll_picture(roll: np.ndarray, low: int, beat_steps: int = 4, bar_steps: int = 16, step_px: int = 3,
                 pitch_px: int = 2) -> np.ndarray:
    """An H×W×3 uint8 picture of one ``tracks × steps × pitches`` roll."""
    tracks, steps, pitches = roll.shape
    h, w = pitches * pitch_px, steps * step_px
    canvas = np.full((h, w, 3), 255.0)
    for p in range(pitches):                                      # faint rows at every C
        if (low + p) % 12 == 0:
            y = (pitches - 1 - p) * pitch_px
            canvas[y:y + pitch_px] = 244
    for s in range(0, steps, beat_steps):
        canvas[:, s * step_px] = 170 if s % bar_steps == 0 else 222
    on = roll > 0                                                 # T × S × P
    count = on.sum(0)                                             # S × P tracks sounding
    onset = on & ~np.concatenate([np.zeros_like(on[:, :1]), on[:, :-1]], axis=1)
    mix = np.zeros((steps, pitches, 3))
    for t, colour in enumerate(track_colours(tracks)):
        mix += on[t][..., None] * np.asarray(colour, dtype=float)
    sounding = count > 0
    mix[sounding] /= count[sounding][:, None]
    cells = np.repeat(np.repeat(mix.transpose(1, 0, 2)[::-1], pitch_px, 0), step_px, 1)     # P×S → H×W
    mask = np.repeat(np.repeat(sounding.T[::-1], pitch_px, 0), step_px, 1)
    canvas[mask] = cells[mask]
    first = np.zeros((h, w), dtype=bool)                          # darken the first column of each note
    first[:, ::step_px] = np.repeat(np.repeat(onset.any(0).T[::-1], pitch_px, 0), 1, 1)
    canvas[first & mask] *= 0.55
    return canvas.round().astype(np.uint8)


def legend(names: Sequence[str], width: int, height: int = 14) -> np.ndarray:
    """A strip naming each track in its colour."""
    img = Image.new("RGB", (max(width, 1), height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    x = 2
    for name, colour in zip(names, track_colours(len(names)), strict=True):
        draw.rectangle((x, 3, x + 8, height - 4), fill=colour)
        draw.text((x + 11, 1), name, fill=colour, font=font)
        x += 11 + int(draw.textlength(name, font=font)) + 8
    return np.asarray(img)
