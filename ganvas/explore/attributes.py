"""Measured attributes of a batch of outputs: what naming a latent direction compares before and after a move.

A GANSpace direction is only a vector; to say what it does, ganvas measures simple, explainable things
on the outputs and sees which of them change. Every attribute is one number per output:

- images (uint8 N×H×W×3): the *background* is the median colour of the one-pixel border (white for
  emoji and shapes, light grey for a half-trained model), and a pixel's *foreground weight* is how far
  its colour is from that background (0 below `FG_LOW`, 1 above `FG_HIGH`, linear between), so soft
  edges count in part and no hard threshold flips. Then
  ``brightness`` (mean HSV value of the foreground, 0–1: not luminance, which would make every turn from
  yellow to blue "darker"), ``saturation`` (its mean HSV saturation),
  ``hue`` (the circular mean hue of the foreground, weighted by saturation too, so grey pixels do not
  vote; radians, compared as signed turns on the hue circle), ``size`` (the foreground's share of the
  picture) and ``x``, ``y`` (the foreground's centre, 0 = left/top, 1 = right/bottom). Foreground
  attributes, not whole-picture ones, so a bigger shape is "bigger", not also "darker".
- music (piano-rolls N×tracks×steps×pitches): ``pitch`` (mean MIDI pitch of the sounding notes),
  ``density`` (notes started per bar and track) and ``mode`` (Krumhansl–Kessler key profiles: the best
  major key's correlation with the pitch-class durations minus the best minor key's; > 0 leans major).
- labelled image data: ``p(<class>)``, the domain classifier's probability of each class
  (`ganvas.eval.domain_net`, trained once per dataset on first use and cached).

The checks: on real `shapes` items the measured hue, size, x and y follow `shapes.factors` (tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ganvas.errors import GanvasError

FG_LOW, FG_HIGH = 0.06, 0.25    # colour distance from the background (RGB in 0–1, Euclidean / √3): weight 0 → 1
IMAGE_ATTRIBUTES = ("brightness", "saturation", "hue", "size", "x", "y")
MUSIC_ATTRIBUTES = ("pitch", "density", "mode")
CIRCULAR = frozenset({"hue"})   # attributes on a circle (radians): differences wrap into (−π, π]

# Krumhansl & Kessler (1982) probe-tone profiles, C first: the key finder's templates (as in music21's analysis)
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Attribute:
    """What an attribute is, for people and for scaling: its unit and the smallest spread worth dividing by."""

    name: str
    unit: str
    floor: float                # a spread below this is noise: effects are divided by at least this much


ATTRIBUTES = {
    "brightness": Attribute("brightness", "HSV value 0–1", 0.01),
    "saturation": Attribute("saturation", "HSV saturation 0–1", 0.01),
    "hue": Attribute("hue", "radians on the hue circle", 0.05),
    "size": Attribute("size", "share of the picture", 0.005),
    "x": Attribute("x", "0 = left, 1 = right", 0.005),
    "y": Attribute("y", "0 = top, 1 = bottom", 0.005),
    "pitch": Attribute("pitch", "MIDI pitch", 0.25),
    "density": Attribute("density", "notes per bar and track", 0.1),
    "mode": Attribute("mode", "major − minor key correlation", 0.01),
}
CLASS_FLOOR = 0.05              # a class probability's floor: a class the classifier hardly picks stays quiet


def attribute(name: str) -> Attribute:
    """The description of attribute `name` (class probabilities ``p(…)`` share one)."""
    if name.startswith("p("):
        return Attribute(name, "probability", CLASS_FLOOR)
    if name not in ATTRIBUTES:
        raise GanvasError(f"unknown attribute {name!r}: expected one of {', '.join(ATTRIBUTES)} or p(<class>)")
    return ATTRIBUTES[name]


# --- images -----------------------------------------------------------------------------------------


def _check_images(images: np.ndarray) -> np.ndarray:
    if not (isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[-1] == 3 and images.dtype == np.uint8):
        what = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise GanvasError(f"image attributes need uint8 pictures N×H×W×3, got {what}")
    if images.shape[1] < 3 or images.shape[2] < 3:
        raise GanvasError(f"image attributes need pictures of at least 3×3 pixels, "
                          f"got {images.shape[1]}×{images.shape[2]}")
    return images.astype(np.float64) / 255.0


def background(images: np.ndarray) -> np.ndarray:
    """Each picture's background colour [N, 3] (0–1): the median of its one-pixel border."""
    x = images if images.dtype != np.uint8 else images.astype(np.float64) / 255.0
    border = np.concatenate([x[:, 0], x[:, -1], x[:, 1:-1, 0], x[:, 1:-1, -1]], axis=1)   # [N, border, 3]
    return np.median(border, axis=1)


def foreground(images: np.ndarray) -> np.ndarray:
    """Each pixel's foreground weight [N, H, W] in 0–1: its colour's distance from the background."""
    x = images if images.dtype != np.uint8 else images.astype(np.float64) / 255.0
    dist = np.linalg.norm(x - background(x)[:, None, None], axis=-1) / np.sqrt(3)
    return np.clip((dist - FG_LOW) / (FG_HIGH - FG_LOW), 0.0, 1.0)


def _hsv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (radians), saturation and value of RGB pixels in 0–1."""
    mx, mn = x.max(-1), x.min(-1)
    chroma = mx - mn
    sat = np.where(mx > 0, chroma / np.maximum(mx, 1e-12), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    c = np.maximum(chroma, 1e-12)
    h = np.where(mx == r, ((g - b) / c) % 6, np.where(mx == g, (b - r) / c + 2, (r - g) / c + 4))
    return h * (np.pi / 3), sat, mx


def image_attributes(images: np.ndarray) -> dict[str, np.ndarray]:
    """The image attributes (module docstring) of uint8 pictures N×H×W×3, each an array [N]."""
    x = _check_images(images)
    n, h, w, _ = x.shape
    fg = foreground(x)
    mass = fg.sum((1, 2))
    some = mass > 1e-9
    wts = np.where(some[:, None, None], fg, 1.0)            # no foreground at all: the whole picture
    total = wts.sum((1, 2))
    hue, sat, value = _hsv(x)
    hw = wts * sat
    hue_vec = (hw * np.cos(hue)).sum((1, 2)) + 1j * (hw * np.sin(hue)).sum((1, 2))
    ys = (np.arange(h) + 0.5) / h
    xs = (np.arange(w) + 0.5) / w
    return {
        "brightness": (wts * value).sum((1, 2)) / total,
        "saturation": (wts * sat).sum((1, 2)) / total,
        "hue": np.angle(hue_vec) % (2 * np.pi),
        "size": mass / (h * w),
        "x": (wts.sum(1) * xs).sum(1) / total,
        "y": (wts.sum(2) * ys).sum(1) / total,
    }


# --- music --------------------------------------------------------------------------------------------


def _key_correlations(pc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best major, best minor) correlation of pitch-class weights [N, 12] with the 12 transposed profiles."""
    def best(profile: np.ndarray) -> np.ndarray:
        rolled = np.stack([np.roll(profile, k) for k in range(12)])            # [12 keys, 12 pitch classes]
        a = pc - pc.mean(1, keepdims=True)
        b = rolled - rolled.mean(1, keepdims=True)
        num = a @ b.T
        den = np.linalg.norm(a, axis=1, keepdims=True) * np.linalg.norm(b, axis=1)[None]
        return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0).max(1)
    return best(MAJOR_PROFILE), best(MINOR_PROFILE)


def music_attributes(rolls: np.ndarray, low: int, bar_steps: int) -> dict[str, np.ndarray]:
    """The music attributes of piano-rolls N×tracks×steps×pitches (the lowest row is MIDI pitch `low`)."""
    if not (isinstance(rolls, np.ndarray) and rolls.ndim == 4):
        what = f"{rolls.dtype} {rolls.shape}" if isinstance(rolls, np.ndarray) else type(rolls).__name__
        raise GanvasError(f"music attributes need piano-rolls N×tracks×steps×pitches, got {what}")
    on = rolls > 0
    n, tracks, steps, pitches = on.shape
    pitch_of = low + np.arange(pitches)
    per_pitch = on.sum((1, 2)).astype(np.float64)                             # [N, pitches] sounding steps
    sounding = per_pitch.sum(1)
    mean_pitch = np.where(sounding > 0, per_pitch @ pitch_of / np.maximum(sounding, 1), np.nan)
    fill = np.nanmean(mean_pitch) if np.isfinite(mean_pitch).any() else low + pitches / 2
    onsets = on & ~np.concatenate([np.zeros_like(on[:, :, :1]), on[:, :, :-1]], axis=2)
    bars = max(steps / bar_steps, 1e-9)
    pc = np.zeros((n, 12))
    for k in range(12):
        pc[:, k] = per_pitch[:, (pitch_of % 12) == k].sum(1)
    major, minor = _key_correlations(pc)
    return {"pitch": np.where(np.isfinite(mean_pitch), mean_pitch, fill),
            "density": onsets.sum((1, 2, 3)) / (bars * tracks),
            "mode": major - minor}


# --- class probabilities ----------------------------------------------------------------------------------


class ClassProbabilities:
    """The domain classifier of a labelled image dataset, as attributes ``p(<class>)`` of pictures.

    `train` False: use the classifier only if it was trained before (the studio does not stall a request for
    a minute of training); `available` says whether it is there.
    """

    def __init__(self, dataset: Any, recipe: Any = None, train: bool = True, progress: bool | None = False) -> None:
        from ganvas.eval.domain_net import DomainRecipe, is_trained, load_or_train

        self.recipe = recipe or DomainRecipe()
        self.net = None
        self.labels: list[str] = []
        self.key = ""
        if train or is_trained(dataset, self.recipe):
            net, meta, _ = load_or_train(dataset, self.recipe, progress)
            self.net, self.labels, self.size = net, list(meta["labels"]), int(meta["input_size"])
            self.key = str(meta["weights_file_sha256"])[:16]

    @property
    def available(self) -> bool:
        return self.net is not None

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        from ganvas.eval.features import resize_for

        if self.net is None:
            return {}
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), 256):
                x = torch.from_numpy(np.ascontiguousarray(images[i:i + 256])).permute(0, 3, 1, 2)
                out.append(torch.softmax(self.net(resize_for(x, self.size)).double(), 1).numpy())
        p = np.concatenate(out) if out else np.zeros((0, len(self.labels)))
        return {f"p({name})": p[:, j] for j, name in enumerate(self.labels)}


def measure(domain: Any, outputs: np.ndarray, classes: ClassProbabilities | None = None) -> dict[str, np.ndarray]:
    """Every attribute of `outputs` (the domain's stored arrays) that `domain` (an image or music Domain) has."""
    if domain.name == "image":
        out = image_attributes(outputs)
        if classes is not None:
            out.update(classes(outputs))
        return out
    if domain.name == "music":
        return music_attributes(outputs, int(domain.low), int(domain.bar_steps))
    raise GanvasError(f"ganvas measures attributes of image and music outputs, not of {domain.name} outputs")


def difference(name: str, after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """after − before of attribute `name`; on the hue circle the shorter signed turn, in (−π, π]."""
    d = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    if name in CIRCULAR:
        d = np.pi - (np.pi - d) % (2 * np.pi)
    return d


def spread(name: str, values: np.ndarray) -> float:
    """How much attribute `name` varies over samples: the standard deviation (circular for hue), floored."""
    v = np.asarray(values, np.float64)
    if name in CIRCULAR:
        r = float(np.abs(np.exp(1j * v).mean()))
        s = float(np.sqrt(-2 * np.log(max(r, 1e-12))))
    else:
        s = float(v.std())
    return max(s, attribute(name).floor)
