"""What a run can be expected to give, said a few seconds in: its measured speed, how long its budget takes,
and a plain warning when that budget is far too small for a GAN to make anything but noise.

The speed is measured, not guessed: the loop times the run's own first steps (`ganvas.train.loop.WARMUP`)
and hands the images/s here, so knowing costs nothing. A run expected to last under `QUIET_S` in all (tests,
dry runs, `--minutes 0` with a tiny `--kimg`) gets nothing.

The rule for "far too small", from what was measured in this project (dcgan, emoji, 64 images a step):

- at 32 px the samples were blurred blobs after 16 kimg (thousand images shown to D), showed first shapes
  after 64 kimg and were emoji-like from about 190 kimg (docs/emoji-dcgan-32-progress.png: steps 250, 1000,
  3000); at 64 px, 27 kimg was still blobs (docs/quality-per-minute-emoji-64-b.png; FastGAN's 21 kimg there:
  shapes, but rough). So a noise-to-image run below `FIRST_SHAPES_KIMG` is warned, whatever its side.
- what counts is the images D has seen (the number of steps), not passes over the data: 198 images shown
  35 times each is still 7 kimg. A small set does not need less; it needs augmentation (DiffAugment, Zhao
  et al. 2020; ADA, Karras et al. 2020, who show a GAN's D overfits a set of a few thousand images without
  it), so a set under `SMALL_SET` images without augmentation gets that suggestion too.
- a 32 px image has a quarter of a 64 px one's pixels and trains several times faster on a CPU (README,
  *Speed on a CPU*), so a larger side gets the suggestion to start at 32 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ganvas.config import TrainConfig
from ganvas.console import info, warning

FIRST_SHAPES_KIMG = 64.0     # below this, a noise-to-image run showed noise or blobs (see the module docstring)
BLOBS_KIMG = 16.0            # measured: blobs at this budget, so below it "far too small" says noise or blobs
SMALL_SET = 2000             # fewer images than this: augmentation suggested (D overfits small sets)
QUIET_S = 30.0               # runs expected to last under this many seconds in all are told nothing


def duration(seconds: float) -> str:
    """'45 s', '12 min', '2 h 5 min': as people say how long something takes."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


@dataclass
class Expectations:
    """Called once by the loop with the measured images/s of the run's first steps; says what to expect."""

    cfg: TrainConfig
    count: int                  # training samples in the data
    image_model: bool           # a noise-to-image model (the kimg rule is about those)
    sides: tuple[int, ...]      # the sides the model can be built for (a 32 px suggestion needs 32 among them)
    unit: str = "images"        # what a sample is called: images, phrases (music), texts

    def __call__(self, run: Any, images_per_s: float) -> None:
        if images_per_s <= 0:
            return
        cfg, done_kimg = self.cfg, run.progress.nimg / 1000
        ends = [(float("inf"), "")]           # (seconds left, what ends the run then)
        if cfg.kimg > 0:
            ends.append((max(0.0, cfg.kimg - done_kimg) * 1000 / images_per_s, f"--kimg {cfg.kimg:g}"))
        if cfg.minutes > 0:
            ends.append((max(0.0, cfg.minutes * 60 - run.progress.elapsed_s), f"--minutes {cfg.minutes:g}"))
        if run.max_steps is not None:
            per_step = cfg.batch_size * cfg.n_critic
            ends.append((max(0, run.max_steps - run.progress.step) * per_step / images_per_s, "the step limit"))
        seconds, budget = min(ends)
        if not math.isfinite(seconds) or run.progress.elapsed_s + seconds < QUIET_S:
            return
        total_kimg = done_kimg + seconds * images_per_s / 1000
        sooner = " (or sooner, if evaluation stops it early)" if cfg.eval_every else ""
        info(f"speed: {images_per_s:.0f} {self.unit}/s, measured on this run's first steps: {budget} ends the run in "
             f"about {duration(seconds)}, at {total_kimg:.1f} kimg{sooner}")
        if self.image_model and total_kimg < FIRST_SHAPES_KIMG:
            warning(self.too_small(total_kimg, images_per_s))

    def too_small(self, kimg: float, images_per_s: float) -> str:
        """The warning for a budget under `FIRST_SHAPES_KIMG`, with what to change (concrete options)."""
        cfg = self.cfg
        what = ("far too little for a GAN: expect noise or blobs" if kimg < BLOBS_KIMG
                else "too little for a GAN: expect rough blobs at best")
        need_s = FIRST_SHAPES_KIMG * 1000 / images_per_s
        need = (f"--minutes {math.ceil(need_s / 60)} reaches {FIRST_SHAPES_KIMG:.0f} kimg at this speed"
                if cfg.minutes > 0 else f"--kimg {FIRST_SHAPES_KIMG:.0f}, about {duration(need_s)} at this speed")
        tips = [f"train longer ({need}; emoji-like pictures took about 190 kimg at 32 px)"]
        if cfg.resolution > 32 and 32 in self.sides:
            tips.append("--resolution 32 (a quarter of the pixels: several times the images/s)")
        if self.count < SMALL_SET and cfg.augment == "none":
            tips.append(f"--set augment=diffaugment ({self.count} images is a small set: D learns them by heart "
                        "without augmentation)")
        return (f"{kimg:.1f} kimg (thousand images shown to D) is {what}; first shapes appeared after "
                f"{FIRST_SHAPES_KIMG:.0f} kimg when measured. Try: " + "; ".join(tips))
