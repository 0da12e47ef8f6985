"""64-bit perceptual hashes (DCT hash) of pictures, and Hamming distances between them.

Near-copies must be found among thousands of training items in well under a millisecond, before an
output leaves ganvas (the memorization guard) and when a person opts an item out (``--exclude``): a
64-bit hash compares by one XOR and a popcount, where feature distances need a network pass. The hash
is the sign of the 8×8 lowest-frequency DCT coefficients (DC dropped) of the 32×32 grey picture
against their median, so it ignores colour shifts, re-encoding and resizing, and changes with layout.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 32          # the grey picture the DCT is taken of
LOW = 8            # the LOW×LOW lowest frequencies make the 64 bits


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_D = _dct_matrix(SIDE)


def grey_32(images: np.ndarray) -> np.ndarray:
    """N×H×W×C (or N×H×W) uint8 pictures as N×32×32 float grey (Lanczos: the same on every machine's PIL)."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    out = np.empty((len(images), SIDE, SIDE), np.float64)
    for i, img in enumerate(images):
        pic = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img[..., :3]).convert("L")
        out[i] = np.asarray(pic.resize((SIDE, SIDE), Image.Resampling.LANCZOS), np.float64)
    return out


def phash(images: np.ndarray) -> np.ndarray:
    """The 64-bit hash of each picture (N×H×W×C uint8) as uint64 [N]."""
    grey = grey_32(images)
    coeffs = np.einsum("ij,njk,lk->nil", _D, grey, _D)[:, :LOW, :LOW].reshape(len(grey), -1)[:, 1:]
    bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
    bits = np.concatenate([bits, np.zeros((len(bits), 1), bool)], axis=1)   # 63 coefficients + a 0 bit
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").ravel().astype(np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between hashes: a [N] against b [M] → int [N, M]."""
    x = np.bitwise_xor(np.asarray(a, np.uint64)[:, None], np.asarray(b, np.uint64)[None, :])
    return np.bitwise_count(x).astype(np.int32) if hasattr(np, "bitwise_count") else _popcount(x)


def _popcount(x: np.ndarray) -> np.ndarray:
    bytes_ = x.view(np.uint8).reshape(*x.shape, 8)
    return np.unpackbits(bytes_, axis=-1).sum(axis=-1).astype(np.int32)


def to_hex(h: int | np.integer) -> str:
    return f"{int(h):016x}"


def from_hex(text: str) -> np.uint64:
    return np.uint64(int(text, 16))
