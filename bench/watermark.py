"""The invisible watermark (ganvas/publish/watermark.py): robustness, false positives, invisibility, speed.

1. Robustness: --n pictures of the emoji set (64 px) and of crawl-terrain tiles (32 px), each marked with a
   random 32-bit payload, then attacked; per attack the mean bit accuracy (payload bits read right, at the
   detector's best gain, whether or not the CRC passed) and the detection rate (found, right payload).
2. False positives: --unmarked pictures nobody marked (emoji, crawl-terrain, emoji-sketch line drawings,
   those pictures JPEG'd at 75 and resized by 0.5, smooth random fields); the rate of any detection.
3. Invisibility: PSNR and SSIM (scikit-image) of marked against original at 32, 64 and 128 px.
4. Speed: embed and detect ms per picture (median), one thread.

    .venv/bin/python bench/watermark.py                    # about 3 minutes
    .venv/bin/python bench/watermark.py --quick            # 100 marked, 2,000 unmarked
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageEnhance  # noqa: E402

from ganvas.publish import watermark as W  # noqa: E402


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def webp(a: np.ndarray, lossless: bool = False) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "WEBP", quality=90, lossless=lossless)
    return np.asarray(Image.open(buf).convert("RGB"))


def png(a: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", optimize=True)
    return np.asarray(Image.open(buf))


def resize(a: np.ndarray, f: float, back: bool = False) -> np.ndarray:
    h, w = a.shape[:2]
    out = Image.fromarray(a).resize((max(8, round(w * f)), max(8, round(h * f))), Image.Resampling.BICUBIC)
    return np.asarray(out.resize((w, h), Image.Resampling.BICUBIC) if back else out)


def enhance(kind: type, factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda a: np.asarray(kind(Image.fromarray(a)).enhance(factor))


ATTACKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda a: a,
    "PNG re-save": png,
    "WebP lossless": lambda a: webp(a, True),
    "WebP q90": webp,
    "JPEG q90": lambda a: jpeg(a, 90),
    "JPEG q75": lambda a: jpeg(a, 75),
    "JPEG q50": lambda a: jpeg(a, 50),
    "resize 0.5×": lambda a: resize(a, 0.5),
    "resize 0.75×": lambda a: resize(a, 0.75),
    "resize 1.5×": lambda a: resize(a, 1.5),
    "resize 2×": lambda a: resize(a, 2),
    "resize 0.5× and back": lambda a: resize(a, 0.5, back=True),
    "brightness +10": lambda a: np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8),
    "brightness −10": lambda a: np.clip(a.astype(int) - 10, 0, 255).astype(np.uint8),
    "contrast ×1.1": enhance(ImageEnhance.Contrast, 1.1),
    "saturation ×1.2": enhance(ImageEnhance.Color, 1.2),
    "gamma 0.9": lambda a: (255 * (a / 255.0) ** 0.9).round().astype(np.uint8),
    "noise σ=2": lambda a: np.clip(a + np.random.default_rng(0).normal(0, 2, a.shape), 0, 255).astype(np.uint8),
    "resize 0.75× + JPEG q75": lambda a: jpeg(resize(a, 0.75), 75),
    "saturation ×1.2 + WebP q90": lambda a: webp(enhance(ImageEnhance.Color, 1.2)(a)),
    "crop 10%": lambda a: a[a.shape[0] // 20:-(a.shape[0] // 20), a.shape[1] // 20:-(a.shape[1] // 20)],
}


def images(name: str, size: int) -> np.ndarray:
    from ganvas.data.dataset import load_dataset

    ds = load_dataset(name, size, progress=False)
    x = ds.arrays[ds.sample_key]
    return np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x[..., :3]


def bit_accuracy(a: np.ndarray, payload: int) -> float:
    """Share of payload bits read right at the detector's best gain (before the CRC's verdict)."""
    proj, dither = W._keyed(W.DEFAULT_KEY)
    p = proj.T @ W._coefficients(W._luma(W._check(a, "bench")))
    n = W.PAYLOAD_BITS + W.CRC_BITS
    soft = W._soft(p[None, :] / W.GAINS[:, None], dither[None, :])
    best = int(np.argmax(np.abs(soft).mean(axis=1)))
    bits = (soft[best].reshape(W.REPEAT, n).sum(axis=0) > 0).astype(np.uint8)[:W.PAYLOAD_BITS]
    return float((bits == W._encode(payload)[:W.PAYLOAD_BITS]).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500, help="marked pictures per attack")
    ap.add_argument("--unmarked", type=int, default=12000, help="unmarked pictures for the false-positive rate")
    ap.add_argument("--quick", action="store_true", help="--n 100 --unmarked 2000")
    args = ap.parse_args()
    if args.quick:
        args.n, args.unmarked = 100, 2000
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    emoji, tiles = images("emoji", 64), images("crawl-terrain", 32)
    pick_e = rng.choice(len(emoji), args.n * 3 // 4, replace=False)
    pick_t = rng.choice(len(tiles), args.n - len(pick_e), replace=False)
    originals = [emoji[i] for i in pick_e] + [tiles[i] for i in pick_t]
    payloads = [int(p) for p in rng.integers(0, 2**32, len(originals))]

    t_embed, t_detect = [], []
    marked = []
    for a, p in zip(originals, payloads, strict=True):
        t = time.perf_counter()
        marked.append(W.embed(a, p))
        t_embed.append(time.perf_counter() - t)
    print(f"watermark: {len(originals)} pictures ({len(pick_e)} emoji at 64 px, {len(pick_t)} crawl-terrain tiles "
          f"at 32 px), 32-bit payloads; key {W.DEFAULT_KEY!r}, step {W.STEP}, margin {W.MARGIN}")
    print("\n| attack | bit accuracy | detected (right payload) | wrong payload |\n|---|---|---|---|")
    for name, attack in ATTACKS.items():
        acc, hit, wrong = [], 0, 0
        for m, p in zip(marked, payloads, strict=True):
            x = attack(m)
            t = time.perf_counter()
            d = W.detect(x)
            t_detect.append(time.perf_counter() - t)
            acc.append(bit_accuracy(x, p))
            hit += d.found and d.payload == p
            wrong += d.found and d.payload != p
        print(f"| {name} | {np.mean(acc):.3f} | {hit / len(marked):.1%} | {wrong} |")

    sketches = images("emoji-sketch", 64)
    pool: list[np.ndarray] = []
    sources = [("emoji", list(emoji)), ("crawl-terrain", list(tiles)), ("emoji-sketch", list(sketches[:3000])),
               ("emoji JPEG q75", [jpeg(a, 75) for a in emoji[:1500]]),
               ("emoji resized 0.5×", [resize(a, 0.5) for a in emoji[1500:3000]])]
    smooth = []
    for _ in range(1000):
        field = rng.normal(0, 1, (8, 8, 3))
        smooth.append(np.asarray(Image.fromarray(((field - field.min()) / np.ptp(field) * 255).astype(np.uint8))
                                 .resize((64, 64), Image.Resampling.BICUBIC)))
    sources.append(("smooth random fields", smooth))
    counts = {}
    for name, xs in sources:
        take = xs[: max(0, args.unmarked - len(pool))]
        pool += take
        counts[name] = len(take)
    t0 = time.perf_counter()
    found = [W.detect(a) for a in pool]
    fp = sum(d.found for d in found)
    scores = np.array([d.score for d in found])
    print(f"\nfalse positives: {fp} of {len(pool)} unmarked pictures ({fp / len(pool):.1e}; goal ≤ 1e-4) — "
          + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"  their best decision margin: median {np.median(scores):.3f}, 99.9th percentile "
          f"{np.percentile(scores, 99.9):.3f}, max {scores.max():.3f} (a mark needs ≥ {W.MARGIN} and a valid "
          f"24-bit CRC); {1e3 * (time.perf_counter() - t0) / len(pool):.2f} ms per unmarked picture")

    from skimage.metrics import structural_similarity

    print("\n| size | PSNR dB (median, min) | SSIM (median, min) |\n|---|---|---|")
    for side in (32, 64, 128):
        ps, ss = [], []
        for a in emoji[rng.choice(len(emoji), 100, replace=False)]:
            a = np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.LANCZOS))
            m = W.embed(a, int(rng.integers(0, 2**32)))
            mse = ((m.astype(float) - a) ** 2).mean()
            ps.append(10 * np.log10(255**2 / max(mse, 1e-12)))
            ss.append(structural_similarity(a, m, channel_axis=2, data_range=255))
        print(f"| {side} px | {np.median(ps):.1f}, {np.min(ps):.1f} | {np.median(ss):.4f}, {np.min(ss):.4f} |")
    print(f"\nspeed (one thread): embed {1e3 * statistics.median(t_embed):.2f} ms, detect "
          f"{1e3 * statistics.median(t_detect):.2f} ms per picture (median)")


if __name__ == "__main__":
    main()
