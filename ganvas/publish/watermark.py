"""An invisible, keyed watermark for the small pictures ganvas makes (32–256 px): 32 bits that survive
re-encoding (PNG, WebP, JPEG ≥ 75), resizing between 0.5× and 2× and small colour edits.

Why this design (spread-transform dither modulation, Chen and Wornell 2001, on low luminance DCT
frequencies), and not a library: ``invisible-watermark`` refuses pictures under 256 px, and its robust
mode needs onnxruntime and a second of CPU per picture; this is numpy, a few ms per 64×64 picture.

How a mark is made:

* **Where**: the luminance Y (BT.601, as JPEG's YCbCr; adding ΔY to R, G and B changes Y by ΔY and
  leaves Cb, Cr alone: colour is untouched, alpha too). Its low DCT frequencies u, v < 10 with
  u + v ≥ 3 (94 coefficients) carry the mark: JPEG keeps them almost exactly, and so does a resize
  (at most 0.28 of a 32 px picture's Nyquist frequency, 0.56 of a 16 px one's). The
  three lowest diagonals are left out because colour edits move them most: brightening a picture on a
  white background moves the object but not the clipped background, i.e. adds its silhouette, whose
  energy is in the lowest frequencies (measured on emoji: 3–10× the change of the band used).
* **Canonical grid without resampling**: a frequency (u, v) is read as ``cos(π u (i + ½)/H)`` at the
  picture's own pixel centres, scaled so that its coefficient is the pattern's RMS in grey levels
  whatever H and W are. PIL's resize maps pixel centres onto pixel centres, so a resized picture has
  the same coefficients: the grid is the continuous picture itself, the N×N canonical grid taken to its
  limit (N = the picture's size). Unlike a fixed N = 64 grid, it needs no interpolation: the mark is
  added at full size exactly (no resampling error at embed time), 32 px pictures are not blown up,
  256 px ones not squeezed, and a detector reads whatever size comes back with two small matrix
  products. (A fixed grid would have to be ≥ 20 px to hold frequency 9, and ≤ the smallest picture.)
* **Keyed directions**: a key-seeded orthonormal basis of the 94 coefficients (SHA-256 in counter
  mode, then Gram–Schmidt: the same on every machine and numpy version) gives 56 spreading directions,
  one per code bit, and 38 reference directions that the mark never touches.
* **Gain invariance**: each projection is divided by the reference directions' RMS (with a floor for
  flat pictures), so a contrast change, which scales every coefficient alike, scales both and leaves
  the ratio, the quantity that is quantised, unchanged (rational dither modulation, after
  Pérez-González et al. 2005). The step is thus proportional to the picture's own low-frequency
  contrast: busy pictures get a stronger mark, flat ones a weaker one.
* **Small pictures**: a picture under 48 px has a quarter of a 64 px picture's pixels to average
  re-encoding noise out, so its step is 1.5× larger (PSNR ≈ 35 dB at 32 px instead of 38); the
  detector, which cannot know the original size, tries both steps.
* **Code**: 32 payload bits and their CRC-24 (OpenPGP), whitened by a key stream: 56 bits, one per
  direction, by dither modulation with a key-seeded dither per bit. Clipping and rounding to uint8
  are compensated by re-measuring and correcting a few times.

How a mark is read: project, divide, and take each bit's soft value ``t = cos(2π(q/step − dither))``
(+1 on a 0 lattice point, −1 on a 1). A brightness or contrast edit of a picture with a clipped (white)
background is undone first: every (gain, shift) of a small grid is tried on the unclipped pixels and
the one whose soft values are most decisive is kept. Hard decisions (under each of the two steps) are
checked by the CRC; if it fails, Chase decoding flips up to `CHASE_BITS` of the `CHASE_WEAKEST` least
reliable bits (794 sets; errors corrected). The mark is found when a codeword passes the CRC AND its
score (the mean of ``t`` signed by the codeword: ~0.99 on a fresh mark, ~0.71 on an unmarked
picture's best guess) is at least `THRESHOLD`. On an unmarked picture a CRC passes by chance with
probability 2 · 794 / 2**24 ≈ 9.5e-5 (two steps, 794 flip sets each), and the score test, nearly
independent of it, passes 3–5 % of the time, so false positives are ≈ 5e-6 by design (0 of 10,000
unmarked pictures in ``bench/watermark.py``, at 64 and at 32 px).

Every float is float64 and every decision has a margin far above rounding, so the same bytes come
out on any x86-64 machine.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import asdict, dataclass

import numpy as np

from ganvas.errors import GanvasError

PAYLOAD_BITS = 32
CRC_BITS = 24
CODE_BITS = PAYLOAD_BITS + CRC_BITS
DEFAULT_KEY = b"ganvas public watermark key v1"    # public: every ganvas install can read ganvas marks
BAND = 10                   # frequencies u, v < BAND with u + v >= LOWEST carry the mark
LOWEST = 3                  # the lowest frequencies move most under colour edits (a shape's silhouette)
FLOOR = 4.0                 # grey levels: the reference RMS never counts as less (flat pictures)
STEP = 0.218                # the quantiser's step, relative to the reference RMS (PSNR ≈ 38 dB on emoji)
SMALL_SIDE, SMALL_GAIN = 48, 1.5   # pictures under 48 px get a 1.5× step (PSNR ≈ 35 dB at 32 px)
CHASE_BITS = 4              # up to this many of the CHASE_WEAKEST least reliable bits are tried flipped
CHASE_WEAKEST = 12          # ... 794 flip sets: a chance CRC pass has probability 794 / 2**24 ≈ 4.7e-5
THRESHOLD = 0.76            # the score a CRC-valid codeword needs
MIN_SIDE = 16               # px: the smallest side a picture may have (frequency 9 needs ≥ 16 samples)
UNDO_GAINS = (0.9, 0.95, 1.0, 1.05, 1.1)   # detect: contrast edits tried undone
UNDO_SHIFTS = tuple(range(-24, 25, 4))     # detect: brightness shifts tried undone
PASSES = 4                  # embed: correction passes for clipping and rounding
_VERSION = b"ganvas-watermark-v1"


@dataclass(frozen=True)
class Detection:
    """What `detect` found: the payload when a valid mark is present, and the statistic it rests on."""

    found: bool
    payload: int | None     # the 32-bit payload, None unless found
    score: float            # mean soft value of the best codeword: ~0.99 marked, ~0.71 unmarked
    bit_errors: int | None  # code bits corrected (flipped) to reach a valid codeword, when found

    def to_record(self) -> dict:
        return {**asdict(self), "score": round(self.score, 4), "threshold": THRESHOLD}


# ---- key material -----------------------------------------------------------------------------------

def _stream(key: bytes, label: bytes, n: int) -> np.ndarray:
    """n uniform floats in [0, 1) from SHA-256 in counter mode: the same on every machine and numpy."""
    words = []
    for counter in range((n + 3) // 4):
        digest = hashlib.sha256(_VERSION + b"|" + label + b"|" + key + b"|" + counter.to_bytes(8, "big")).digest()
        words.extend(int.from_bytes(digest[i:i + 8], "big") >> 11 for i in range(0, 32, 8))
    return np.asarray(words[:n], dtype=np.float64) / float(1 << 53)


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(directions [94, 94] orthonormal columns, dithers [56] in [0, 1), whitening bits [56])."""
    n = N_COEFFS
    raw = (_stream(key, b"basis", n * n).reshape(n, n) - 0.5)
    basis = np.zeros((n, n))
    for j in range(n):                       # modified Gram–Schmidt: no LAPACK sign conventions
        v = raw[:, j].copy()
        for i in range(j):
            v -= (basis[:, i] @ v) * basis[:, i]
        basis[:, j] = v / np.sqrt(v @ v)
    dither = _stream(key, b"dither", CODE_BITS)
    whiten = (_stream(key, b"whiten", CODE_BITS) < 0.5).astype(np.int64)
    return basis, dither, whiten


# ---- the code ------------------------------------------------------------------------------------------

def _crc24(payload: int) -> int:
    """CRC-24/OPENPGP (poly 0x864CFB, init 0xB704CE) of the payload's 4 big-endian bytes."""
    crc = 0xB704CE
    for byte in payload.to_bytes(4, "big"):
        crc ^= byte << 16
        for _ in range(8):
            crc = (crc << 1) ^ 0x864CFB if crc & 0x800000 else crc << 1
    return crc & 0xFFFFFF


def _bits(word: int, n: int) -> np.ndarray:
    return np.array([(word >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.int64)


def _word(bits: np.ndarray) -> int:
    word = 0
    for b in bits:
        word = (word << 1) | int(b)
    return word


def _codeword(payload: int) -> np.ndarray:
    """The 56 code bits: the 32 payload bits, then their CRC-24."""
    return _bits((payload << CRC_BITS) | _crc24(payload), CODE_BITS)


@functools.lru_cache(maxsize=1)
def _columns() -> np.ndarray:
    """[56] syndromes of single-bit flips: the CRC is affine in the payload, so a syndrome is an XOR of these."""
    base = _crc24(0)
    cols = [_crc24(1 << (PAYLOAD_BITS - 1 - i)) ^ base for i in range(PAYLOAD_BITS)]
    cols += [1 << (CRC_BITS - 1 - j) for j in range(CRC_BITS)]
    return np.array(cols, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _flip_sets() -> tuple[np.ndarray, np.ndarray]:
    """Every subset of CHASE_WEAKEST positions with at most CHASE_BITS members: [S, CHASE_WEAKEST] bool, sizes."""
    subsets = [c for k in range(CHASE_BITS + 1) for c in itertools.combinations(range(CHASE_WEAKEST), k)]
    mask = np.zeros((len(subsets), CHASE_WEAKEST), bool)
    for row, c in enumerate(subsets):
        mask[row, list(c)] = True
    return mask, mask.sum(axis=1)


def _decode(soft: np.ndarray) -> tuple[int, float, int] | None:
    """Chase decoding: (payload, score, flips) of the best CRC-valid word within CHASE_BITS flips of the
    CHASE_WEAKEST least reliable bits, or None. Syndromes make all flip sets one vectorised XOR."""
    hard = (soft < 0).astype(np.int64)
    word = _word(hard)
    syndrome = _crc24(word >> CRC_BITS) ^ (word & 0xFFFFFF)
    weak = np.argsort(np.abs(soft), kind="stable")[:CHASE_WEAKEST]
    mask, sizes = _flip_sets()
    cols = _columns()[weak]
    flips = np.bitwise_xor.reduce(np.where(mask, cols[None, :], 0), axis=1)
    valid = np.flatnonzero(flips == syndrome)
    if not len(valid):
        return None
    # flipping bit i costs 2·|soft_i| of the score's sum
    cost = (mask[valid] * np.abs(soft[weak])[None, :]).sum(axis=1)
    row = int(valid[int(np.argmin(cost))])
    bits = hard.copy()
    bits[weak[mask[row]]] ^= 1
    return _word(bits) >> CRC_BITS, float(np.mean(soft * (1 - 2 * bits))), int(sizes[row])


# ---- pictures ↔ coefficients ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _rows(n: int) -> np.ndarray:
    """[BAND, n]: cos(π u (i + ½)/n) scaled so a coefficient is the pattern's amplitude-RMS in grey levels."""
    u = np.arange(BAND, dtype=np.float64)[:, None]
    i = np.arange(n, dtype=np.float64)[None, :]
    rows = np.cos(np.pi * u * (i + 0.5) / n) * (np.sqrt(2.0) / n)
    rows[0] = 1.0 / n
    return rows


_BAND_MASK = np.add.outer(np.arange(BAND), np.arange(BAND)) >= LOWEST
N_COEFFS = int(_BAND_MASK.sum())


def _coefficients(y: np.ndarray) -> np.ndarray:
    """The 94 band coefficients of a luminance picture (H×W float64): resize-invariant, ΣΔ² = pixel MSE."""
    a = _rows(y.shape[0]) @ y @ _rows(y.shape[1]).T
    return a[_BAND_MASK]


def _pattern(coeffs: np.ndarray, h: int, w: int) -> np.ndarray:
    """The luminance change (H×W) whose band coefficients are `coeffs` (and whose others are 0)."""
    a = np.zeros((BAND, BAND))
    a[_BAND_MASK] = coeffs
    return (h * w) * (_rows(h).T @ a @ _rows(w))


def _check(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise GanvasError(f"{what}: expected a numpy uint8 array H×W×C, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise GanvasError(f"{what}: expected a uint8 image, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise GanvasError(f"{what}: expected shape H×W×C with C = 1, 3 or 4, got {tuple(image.shape)}")
    if min(image.shape[:2]) < MIN_SIDE:
        raise GanvasError(f"{what}: image is {image.shape[0]}×{image.shape[1]} px; "
                          f"a watermark needs at least {MIN_SIDE}×{MIN_SIDE}")
    return image


def _key(key: bytes, what: str) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise GanvasError(f"{what}: the key must be non-empty bytes, got {type(key).__name__}")
    return bytes(key)


def _luma(image: np.ndarray) -> np.ndarray:
    """Y of YCbCr (BT.601) as float64; a grey picture is its own luminance; alpha is ignored."""
    if image.shape[2] == 1:
        return image[..., 0].astype(np.float64)
    rgb = image[..., :3].astype(np.float64)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _measure(image: np.ndarray, key: bytes) -> tuple[np.ndarray, float]:
    """(projections on the 56 code directions, reference RMS)."""
    basis, _, _ = _keyed(key)
    proj = _coefficients(_luma(image)) @ basis
    ref = proj[CODE_BITS:]
    return proj[:CODE_BITS], float(np.sqrt(ref @ ref / len(ref) + FLOOR * FLOOR))


# ---- embed and detect ------------------------------------------------------------------------------------

def embed(image: np.ndarray, payload: int, key: bytes = DEFAULT_KEY, strength: float = 1.0) -> np.ndarray:
    """`image` (uint8 H×W×C, C = 1, 3 or 4; or H×W) with `payload` (an int in [0, 2**32)) marked invisibly.

    `strength` in (0, 1] is how far each projection moves towards its lattice point (distortion-
    compensated QIM): 1.0, the default, gives about 38 dB PSNR at 64 px; less is fainter and less robust.
    Returns a new array of the same shape and dtype; colour (Cb, Cr) and alpha are untouched.
    """
    shape = np.shape(image)
    image = _check(image, "watermark embed")
    if isinstance(payload, bool) or not isinstance(payload, (int, np.integer)) or not 0 <= payload < 1 << PAYLOAD_BITS:
        raise GanvasError(f"watermark payload must be an int in [0, 2**{PAYLOAD_BITS}), got {payload!r}")
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise GanvasError(f"watermark strength must be a number in (0, 1], got {strength!r}")
    key = _key(key, "watermark embed")
    basis, dither, whiten = _keyed(key)
    bits = _codeword(int(payload)) ^ whiten
    h, w = image.shape[:2]
    step = _step(h, w)
    proj, ref = _measure(image, key)
    q = proj / ref                                   # lattice points of bit b: step·(k + b/2 + dither)
    offset = step * (bits / 2.0 + dither)
    target = q + float(strength) * (np.round((q - offset) / step) * step + offset - q)
    base = image.astype(np.float64)
    delta = np.zeros((h, w))
    out = image
    for _ in range(PASSES):
        err = target * ref - proj                     # what the rounded, clipped picture still lacks
        if np.max(np.abs(err)) < 0.02 * step * ref:
            break
        delta += _pattern(basis[:, :CODE_BITS] @ err, h, w)
        marked = base.copy()
        marked[..., :min(3, base.shape[2])] += delta[..., None]
        out = np.clip(np.round(marked), 0, 255).astype(np.uint8)
        proj, ref = _measure(out, key)
    return out.reshape(shape)


def _step(h: int, w: int) -> float:
    """The quantiser's step for a picture of H×W: larger under SMALL_SIDE, where fewer pixels average noise out."""
    return STEP * SMALL_GAIN if min(h, w) < SMALL_SIDE else STEP


def _undo_grid() -> tuple[np.ndarray, np.ndarray]:
    gains = np.array(UNDO_GAINS)
    shifts = np.array(UNDO_SHIFTS, dtype=np.float64)
    return np.repeat(gains, len(shifts)), np.tile(shifts, len(gains))


def _candidates(image: np.ndarray, key: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Projections [G, 56] and reference RMS [G] of the picture under each undo (gain a, shift b) of the grid.

    Brightness and contrast edits move a picture's unclipped pixels (y → a·y + b) but not its white
    (or black) background, which stays clipped: that moves the low frequencies by the silhouette of the
    object, which no normalisation removes. Undoing the edit, (y − b)/a on unclipped pixels only, is
    linear in y, so every (a, b) of the grid costs one small matrix product.
    """
    basis, _, _ = _keyed(key)
    y = _luma(image)
    sat = (y >= 254.5) | (y <= 0.5)
    c_sat = _coefficients(np.where(sat, y, 0.0))
    c_y = _coefficients(np.where(sat, 0.0, y))
    c_1 = _coefficients((~sat).astype(np.float64))
    gains, shifts = _undo_grid()
    coeffs = c_sat[None, :] + (c_y[None, :] - shifts[:, None] * c_1[None, :]) / gains[:, None]
    proj = coeffs @ basis
    ref = proj[:, CODE_BITS:]
    return proj[:, :CODE_BITS], np.sqrt(np.mean(ref * ref, axis=1) + FLOOR * FLOOR)


def detect(image: np.ndarray, key: bytes = DEFAULT_KEY) -> Detection:
    """Whether `image` (uint8, any size ≥ 16 px) carries a mark made with `key`, and its payload."""
    image = _check(image, "watermark detect")
    key = _key(key, "watermark detect")
    _, dither, whiten = _keyed(key)
    proj, ref = _candidates(image, key)
    best, top = None, 0.0
    for step in (STEP, STEP * SMALL_GAIN):          # a mark made on a small or a large picture
        softs = np.cos(2.0 * np.pi * (proj / ref[:, None] / step - dither))   # +1: code bit 0, −1: code bit 1
        fit = np.mean(np.abs(softs), axis=1)
        soft = softs[int(np.argmax(fit))]                                  # the undo that fits a mark best
        top = max(top, float(np.max(fit)))
        got = _decode(soft * (1 - 2 * whiten))                             # un-whitened: +1 for a code bit 0
        if got is not None and (best is None or got[1] > best[1]):
            best = got
    if best is None:
        return Detection(False, None, top, None)
    payload, score, count = best
    if score < THRESHOLD:
        return Detection(False, None, score, None)
    return Detection(True, payload, score, count)
