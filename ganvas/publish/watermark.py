"""An invisible, keyed watermark for the small pictures ganvas makes (32 to a few hundred pixels).

Why this design. The `invisible-watermark` library refuses pictures under 256×256, and its robust mode
needs onnxruntime and a second per picture; ganvas's pictures are 32–128 px and leave in bulk. So the
mark is spread-transform dither modulation (STDM, Chen and Wornell 2001) on low-frequency DCT
coefficients of the luminance, in numpy:

- **Resolution-free.** The luminance is resampled (an area average, or bilinear for pictures under 32 px,
  as fixed float64 matrices) to a canonical 32×32 grid; the mark lives in that grid's DCT coefficients
  with 1 ≤ u+v ≤ 16 and u, v ≤ 11, frequencies that survive being shown at 16 px. The embedder solves for
  the smallest luminance change at the picture's own size that puts the mark there, and adds it equally
  to R, G and B (the chroma is untouched). A detector resamples whatever it is given to the same grid,
  so a copy resized by 0.5× to 2× reads the same.
- **Keyed.** The key seeds an orthonormal set of projection vectors over those coefficients and a
  dither per bit: without the key the mark is noise, and with another key nothing is found.
- **Error-corrected, and hard to find by chance.** 32 payload bits and a 24-bit CRC, each sent twice
  (112 projections, soft-combined). A contrast change scales every projection, so the detector searches
  gains from 0.7 to 1.4, and undoes brightness shifts of up to ±16 levels on the pixels they did not clip;
  it reports a mark only when the decoded bits pass the CRC *and* the mean decision margin is high
  (`MARGIN`): bench/watermark.py measures the false-positive rate on real dataset images.
- **Where it fails** (measured in bench/watermark.py): cropping (the grid moves), JPEG below 75, and a
  brightness change on a picture with a white background (the clipped background loses its share).
- **Exactly placed.** Clipping at black and white and rounding to uint8 eat part of the change, so the
  embedder measures what the marked picture carries and corrects it (up to `ROUNDS` times).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ganvas.errors import GanvasError

PAYLOAD_BITS = 32
CRC_BITS = 24
REPEAT = 2                                  # each of the 48 coded bits is sent this many times
GRID = 32                                   # the canonical luminance grid the mark lives in
MAX_FREQ, MAX_SUM = 11, 16                  # the coefficients used: u, v ≤ MAX_FREQ, 1 ≤ u+v ≤ MAX_SUM
STEP = 30.0                                 # the quantiser step Δ of each projection (grid luminance units)
GAINS = np.geomspace(0.7, 1.4, 97)          # contrast changes the detector tries
MARGIN = 0.52                               # mean decision margin (0: a coin toss, 1: dead centre) to report
ROUNDS = 4                                  # embedding corrections for clipping and rounding
MIN_SIDE = 16
DEFAULT_KEY = b"ganvas-watermark-v1"        # public: any ganvas can find a ganvas mark (the payload names who)


@dataclass(frozen=True)
class Detection:
    """What `detect` found: the payload (when `found`), the decision margin and the corrected bit errors."""

    found: bool
    payload: int | None
    score: float                            # mean decision margin at the best gain, 0..1
    bit_errors: int | None                  # repeated copies that disagreed with the decoded bit
    gain: float                             # the contrast change that read best

    def to_record(self) -> dict:
        return {"found": self.found, "payload": None if self.payload is None else f"{self.payload:08x}",
                "score": round(self.score, 4), "bit_errors": self.bit_errors, "gain": round(self.gain, 3)}


# ------------------------------------------------------------------------------------------ the grid
def _resample(n_out: int, n_in: int) -> np.ndarray:
    """A fixed n_out × n_in resampling matrix: area average when shrinking, bilinear when enlarging."""
    m = np.zeros((n_out, n_in))
    if n_out <= n_in:
        edges = np.linspace(0, n_in, n_out + 1)
        for i in range(n_out):
            a, b = edges[i], edges[i + 1]
            for j in range(int(np.floor(a)), int(np.ceil(b))):
                m[i, j] = min(b, j + 1) - max(a, j)
            m[i] /= b - a
        return m
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    pos = pos.clip(0, n_in - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m[np.arange(n_out), lo] += 1 - frac
    m[np.arange(n_out), hi] += frac
    return m


@lru_cache(maxsize=64)
def _down(n: int) -> np.ndarray:
    return _resample(GRID, n)


@lru_cache(maxsize=1)
def _dct() -> np.ndarray:
    k = np.arange(GRID)[:, None]
    i = np.arange(GRID)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * GRID)) * np.sqrt(2.0 / GRID)
    m[0] /= np.sqrt(2.0)
    return m


@lru_cache(maxsize=1)
def _band() -> tuple[np.ndarray, np.ndarray]:
    uv = [(u, v) for u in range(MAX_FREQ + 1) for v in range(MAX_FREQ + 1) if 1 <= u + v <= MAX_SUM]
    return np.array([u for u, _ in uv]), np.array([v for _, v in uv])


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The key's orthonormal projections [coefficients × 112] and dithers [112] (in units of the step)."""
    seed = int.from_bytes(hashlib.sha256(b"ganvas-watermark:" + key).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    n = (PAYLOAD_BITS + CRC_BITS) * REPEAT
    q, r = np.linalg.qr(rng.standard_normal((len(_band()[0]), n)))
    q *= np.sign(np.diag(r))                 # a unique QR: the same vectors on every LAPACK
    return q, rng.uniform(0, 1, n)


def _luma(image: np.ndarray) -> np.ndarray:
    if image.shape[2] == 1:
        return image[..., 0].astype(np.float64)
    rgb = image[..., :3].astype(np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def _coefficients(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    grid = _down(h) @ luma @ _down(w).T
    c = _dct() @ grid @ _dct().T
    u, v = _band()
    return c[u, v]


def _check(image: np.ndarray, what: str) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise GanvasError(f"{what}: expected uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise GanvasError(f"{what}: expected an H×W, H×W×1, ×3 or ×4 picture, got shape {tuple(image.shape)}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise GanvasError(f"{what}: a picture of {image.shape[1]}×{image.shape[0]} is too small to carry a "
                          f"watermark (at least {MIN_SIDE}×{MIN_SIDE})")
    return image


# ------------------------------------------------------------------------------------------ the code
def _crc(bits: np.ndarray) -> np.ndarray:
    """CRC-24/OpenPGP of a bit string, as 24 bits."""
    reg = 0xB704CE
    for b in bits:
        top = (reg >> 23) & 1
        reg = ((reg << 1) & 0xFFFFFF) ^ (0x864CFB if top ^ int(b) else 0)
    return np.array([(reg >> (23 - i)) & 1 for i in range(CRC_BITS)], np.uint8)


def _encode(payload: int) -> np.ndarray:
    bits = np.array([(payload >> (PAYLOAD_BITS - 1 - i)) & 1 for i in range(PAYLOAD_BITS)], np.uint8)
    return np.tile(np.concatenate([bits, _crc(bits)]), REPEAT)


def _soft(p: np.ndarray, dither: np.ndarray) -> np.ndarray:
    """For each projection, +1 when it sits on bit 1's lattice, −1 on bit 0's, 0 halfway between."""
    t = p / STEP - dither                     # bit 0's lattice: integers; bit 1's: integers + ½
    frac = t - np.floor(t)                    # 0 or 1 → bit 0, ½ → bit 1
    return 1 - 4 * np.abs(frac - 0.5)         # −1 at bit 0, +1 at bit 1


def _quantise(p: np.ndarray, bits: np.ndarray, dither: np.ndarray) -> np.ndarray:
    offset = dither + 0.5 * bits
    return (np.round(p / STEP - offset) + offset) * STEP


# ------------------------------------------------------------------------------------------ public
@lru_cache(maxsize=4)                       # 112 × h·w floats each: 15 MB at 128×128
def _pixel_map(h: int, w: int, key: bytes) -> np.ndarray:
    """The linear map from an h×w luminance to the key's projections [112, h·w] (resample, DCT, band, project)."""
    proj, _ = _keyed(key)
    u, v = _band()
    a, b = _dct() @ _down(h), _dct() @ _down(w)
    coeff = (a[u][:, :, None] * b[v][:, None, :]).reshape(len(u), h * w)
    return proj.T @ coeff


def embed(image: np.ndarray, payload: int, key: bytes = DEFAULT_KEY, strength: float = 1.0) -> np.ndarray:
    """`image` (uint8 H×W×C, C = 1, 3 or 4; alpha untouched) carrying the 32-bit `payload`.

    The change is the smallest (least squares) luminance change that moves every projection onto its bit's
    lattice; what rounding to uint8 and clipping at black and white take away is corrected over `ROUNDS`."""
    image = _check(image, "watermark")
    if not 0 <= int(payload) < 2 ** PAYLOAD_BITS:
        raise GanvasError(f"watermark payload must be a whole number from 0 to 2**32 - 1, got {payload}")
    proj, dither = _keyed(key)
    bits = _encode(int(payload))
    h, w = image.shape[:2]
    pm = _pixel_map(h, w, key)
    gram = pm @ pm.T
    base = image.astype(np.float64)
    colour = slice(0, 1) if image.shape[2] == 1 else slice(0, 3)
    change = np.zeros(h * w)
    out = image
    for _ in range(ROUNDS):
        p = pm @ _luma(out).ravel()
        err = _quantise(p, bits, dither) - p
        if np.abs(err).max() < STEP / 16:
            break
        change += strength * (pm.T @ np.linalg.solve(gram, err))
        marked = base.copy()
        marked[..., colour] += change.reshape(h, w)[..., None]
        out = np.clip(np.round(marked), 0, 255).astype(np.uint8)
    return out


SHIFTS = tuple(float(b) for b in (0, 2, -2, 4, -4, 6, -6, 8, -8, 10, -10, 12, -12, 14, -14, 16, -16))
#        brightness changes the detector undoes (see `_unshift`), nearest first


def _unshift(luma: np.ndarray, shift: float) -> np.ndarray:
    """The luminance before a brightness change of `shift`, on the pixels it left unclipped: a picture on
    white (or black) keeps its background at 255 (0), so the change is not a constant but a silhouette."""
    if shift == 0:
        return luma
    clipped = luma >= 254.5 if shift > 0 else luma <= 0.5
    return np.where(clipped, luma, luma - shift)


def detect(image: np.ndarray, key: bytes = DEFAULT_KEY) -> Detection:
    """Look for a mark made with `key` (see the module docstring for when one is reported)."""
    image = _check(image, "watermark detection")
    proj, dither = _keyed(key)
    luma = _luma(image)
    n = PAYLOAD_BITS + CRC_BITS
    best: tuple | None = None
    for shift in SHIFTS:
        p = proj.T @ _coefficients(_unshift(luma, shift))
        soft = _soft(p[None, :] / GAINS[:, None], dither[None, :])          # [gains, projections]
        scores = np.abs(soft).mean(axis=1)
        combined = soft.reshape(len(GAINS), REPEAT, n).sum(axis=1)
        bits = (combined > 0).astype(np.uint8)
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] < MARGIN:
                break
            if np.array_equal(_crc(bits[i, :PAYLOAD_BITS]), bits[i, PAYLOAD_BITS:]):
                errors = int(((soft[i].reshape(REPEAT, n) > 0) != bits[i]).sum())
                payload = int("".join(map(str, bits[i, :PAYLOAD_BITS])), 2)
                return Detection(True, payload, float(scores[i]), errors, float(GAINS[i]))
        top = int(np.argmax(scores))
        if best is None or scores[top] > best[0]:
            best = (float(scores[top]), float(GAINS[top]))
    return Detection(False, None, best[0], None, best[1])
