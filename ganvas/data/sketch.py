"""Line drawings of pictures: what a person would draw of an image, as dark lines on white.

Sketch-to-image models (pix2pix on `*-sketch` datasets) learn from pairs (drawing → picture), but
nobody has drawn the thousands of drawings; they are made from the pictures by one of these:

- ``canny``: Canny's edge detector (scikit-image) on each of R, G and B (σ = 1.5, hysteresis
  thresholds 0.08 and 0.2 of the gradient of intensities in [0, 1]), the three edge maps joined, so
  a border between two colours of the same brightness is found too. Emoji are flat colour regions
  with dark outlines, so their edges are the outlines and the borders between colours: what a
  person draws of them (eyes, mouth, hair line, the body's outline).
- ``xdog``: the eXtended Difference of Gaussians (Winnemöller, Kyprianidis and Olsen 2012), a
  line drawing with soft strokes, for photographs and shaded art.
- ``skeleton``: a glyph's ink thinned to its one-pixel medial axis (scikit-image's
  `skeletonize`): the path a brush's centre took, i.e. the character written with a thin pen.

Every method returns uint8 H×W, 255 (paper) and 0 (ink), with its lines redrawn at a pen width
of `pen` pixels (a binary dilation with a disc), so that after the dataset is resized (128 → 64 px)
the lines are about one pixel wide, like a pen stroke drawn on the studio's canvas and resized the
same way. Thin one-pixel lines would fade to grey in the resize.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganvas.errors import unknown_name

METHODS = ("canny", "xdog", "skeleton")


def channels(image: Image.Image | np.ndarray) -> np.ndarray:
    """The picture as float64 H×W×C in [0, 1], C = 3 (RGB) or 1 (grey); transparent parts on white."""
    if isinstance(image, np.ndarray):
        a = image.astype(np.float64) / 255.0
        return a[..., None] if a.ndim == 2 else a
    if image.mode in ("L", "1", "I;16", "I", "F"):
        return np.asarray(image.convert("L"), dtype=np.float64)[..., None] / 255.0
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.float64) / 255.0


def luminance(image: Image.Image | np.ndarray) -> np.ndarray:
    """The picture's luminance (ITU-R 601) as float64 H×W in [0, 1]."""
    a = channels(image)
    return a[..., 0] if a.shape[2] == 1 else a @ np.array([0.299, 0.587, 0.114])


def _pen(lines: np.ndarray, pen: int) -> np.ndarray:
    """Boolean lines widened to a pen of `pen` pixels (1: as they are)."""
    if pen <= 1:
        return lines
    from scipy.ndimage import binary_dilation

    r = (pen - 1) / 2                                 # a disc of diameter `pen` (a square for 2 px)
    yy, xx = np.mgrid[:pen, :pen] - r
    return binary_dilation(lines, structure=(yy * yy + xx * xx) <= r * r + 0.5)


def canny_lines(image: np.ndarray, sigma: float = 1.5, low: float = 0.08, high: float = 0.2) -> np.ndarray:
    """Canny edges (boolean H×W) of float H×W×C in [0, 1]: each channel's, joined."""
    from skimage.feature import canny

    edges = np.zeros(image.shape[:2], bool)
    for c in range(image.shape[2]):
        edges |= canny(image[..., c], sigma=sigma, low_threshold=low, high_threshold=high)
    return edges


def xdog_lines(grey: np.ndarray, sigma: float = 0.8, k: float = 1.6, p: float = 20.0, eps: float = 0.6,
               phi: float = 10.0) -> np.ndarray:
    """XDoG (Winnemöller et al. 2012): a sharpened DoG, soft-thresholded; returns ink as a boolean image."""
    from scipy.ndimage import gaussian_filter

    g1, g2 = gaussian_filter(grey, sigma), gaussian_filter(grey, sigma * k)
    s = (1 + p) * g1 - p * g2
    soft = np.where(s >= eps, 1.0, 1.0 + np.tanh(phi * (s - eps)))
    return soft < 0.5


def skeleton_lines(grey: np.ndarray, ink_below: float = 0.5) -> np.ndarray:
    """The medial axis of the dark ink of a glyph (boolean, one pixel wide)."""
    from skimage.morphology import skeletonize

    return skeletonize(grey < ink_below)


def line_drawing(image: Image.Image | np.ndarray, method: str = "canny", pen: int = 2) -> np.ndarray:
    """A drawing of `image` by `method` (see `METHODS`), dark lines (0) on white (255), uint8 H×W."""
    if method == "canny":
        lines = canny_lines(channels(image))
    elif method == "xdog":
        lines = xdog_lines(luminance(image))
    elif method == "skeleton":
        lines = skeleton_lines(luminance(image))
    else:
        raise unknown_name("line drawing method", method, list(METHODS))
    return np.where(_pen(lines, pen), 0, 255).astype(np.uint8)


def edges_of(images: np.ndarray, method: str = "canny") -> np.ndarray:
    """Boolean edge maps (N×H×W, one pixel wide) of uint8 N×H×W×C images, for judging outputs by their lines."""
    return np.stack([line_drawing(im, method, pen=1) == 0 for im in images]) if len(images) else \
        np.zeros(images.shape[:3], bool)
