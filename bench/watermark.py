"""Robustness, false positives, invisibility and speed of ganvas's image watermark (issue 16, item 1).

For each attack (re-encoding, resizing there and back, crops, colour edits, noise and combinations) the
mean bit accuracy (of the 32 payload bits, read from the hard decisions) and the detection rate (a valid
mark with the right payload) over marked pictures: real dataset pictures (emoji, crawl-terrain and the
other built-in image sets that are built), each with its own random payload. The false-positive rate
over unmarked pictures: the same datasets' other pictures, those pictures attacked (re-encoded, resized,
colour-edited) and synthetic ones (smooth noise, gradients, flat colours, white noise); any detection
counts. PSNR/SSIM of the marked pictures at 32, 64 and 128 px; embed/detect ms per 64×64 picture.

    taskset -c 1 .venv/bin/python bench/watermark.py                 # 500 marked, 10,000 unmarked
    taskset -c 1 .venv/bin/python bench/watermark.py --quick         # 100 marked, 1,000 unmarked
    taskset -c 1 .venv/bin/python bench/watermark.py --n 1000 --unmarked 20000 --size 32
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

from ganvas.publish import watermark as wm  # noqa: E402

DATASETS = ("emoji", "crawl-terrain", "emoji-sketch", "kai-sketch", "openclipart", "crawl-tiles",
            "crawl-monsters", "wesnoth-portraits", "wesnoth-units", "papirus")
Attack = Callable[[np.ndarray], np.ndarray]


# ---- attacks -----------------------------------------------------------------------------------------------

def _pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img[..., 0] if img.shape[2] == 1 else img)


def _arr(pic: Image.Image, channels: int) -> np.ndarray:
    a = np.asarray(pic.convert("L" if channels == 1 else "RGB"))
    return a.reshape(a.shape[0], a.shape[1], -1)


def encode(fmt: str, **opts) -> Attack:
    def attack(img: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        _pil(img).save(buf, fmt, **opts)
        return _arr(Image.open(io.BytesIO(buf.getvalue())), img.shape[2])
    return attack


def resize(factor: float, back: bool) -> Attack:
    def attack(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        pic = _pil(img).resize((round(w * factor), round(h * factor)), Image.Resampling.LANCZOS)
        if back:
            pic = pic.resize((w, h), Image.Resampling.LANCZOS)
        return _arr(pic, img.shape[2])
    return attack


def crop(fraction: float) -> Attack:
    """Cut `fraction` of the width and height away, half on each side (not resized back)."""
    def attack(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        dy, dx = round(h * fraction / 2), round(w * fraction / 2)
        return img[dy:h - dy, dx:w - dx]
    return attack


def enhance(kind: str, factor: float) -> Attack:
    def attack(img: np.ndarray) -> np.ndarray:
        return _arr(getattr(ImageEnhance, kind)(_pil(img)).enhance(factor), img.shape[2])
    return attack


def brightness(add: float) -> Attack:
    return lambda img: np.clip(img.astype(np.float64) + add, 0, 255).round().astype(np.uint8)


def gamma(g: float) -> Attack:
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** g), 0, 255).astype(np.uint8)
    return lambda img: lut[img]


def noise(sigma: float, seed: int = 0) -> Attack:
    def attack(img: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(seed + int(img[0, 0, 0]))
        return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).round().astype(np.uint8)
    return attack


def chain(*attacks: Attack) -> Attack:
    def attack(img: np.ndarray) -> np.ndarray:
        for a in attacks:
            img = a(img)
        return img
    return attack


ATTACKS: dict[str, Attack] = {
    "none": lambda img: img,
    "PNG": encode("PNG"),
    "WebP lossless": encode("WEBP", lossless=True),
    "WebP q90": encode("WEBP", quality=90),
    "JPEG 90": encode("JPEG", quality=90),
    "JPEG 75": encode("JPEG", quality=75),
    "JPEG 50": encode("JPEG", quality=50),
    "resize 0.5×": resize(0.5, False),
    "resize 0.5× and back": resize(0.5, True),
    "resize 0.75×": resize(0.75, False),
    "resize 0.75× and back": resize(0.75, True),
    "resize 1.5×": resize(1.5, False),
    "resize 1.5× and back": resize(1.5, True),
    "resize 2×": resize(2.0, False),
    "resize 2× and back": resize(2.0, True),
    "crop 10%": crop(0.10),
    "brightness +10": brightness(10),
    "brightness −10": brightness(-10),
    "contrast ×1.1": enhance("Contrast", 1.1),
    "contrast ×0.9": enhance("Contrast", 0.9),
    "saturation ×1.2": enhance("Color", 1.2),
    "gamma 0.9": gamma(0.9),
    "gamma 1.1": gamma(1.1),
    "noise σ=2": noise(2.0),
    "JPEG 75 + resize 0.5×": chain(encode("JPEG", quality=75), resize(0.5, False)),
    "resize 0.75× + JPEG 75": chain(resize(0.75, False), encode("JPEG", quality=75)),
    "brightness +10 + contrast ×1.1 + JPEG 90": chain(brightness(10), enhance("Contrast", 1.1),
                                                     encode("JPEG", quality=90)),
    "gamma 0.9 + saturation ×1.2 + WebP q90": chain(gamma(0.9), enhance("Color", 1.2),
                                                   encode("WEBP", quality=90)),
    "resize 2× + JPEG 75 + resize 0.5×": chain(resize(2.0, False), encode("JPEG", quality=75),
                                               resize(0.5, False)),
}
REQUIRED = ("none", "PNG", "WebP lossless", "WebP q90", "JPEG 90", "JPEG 75", "resize 0.5×", "resize 0.5× and back",
            "resize 0.75×", "resize 0.75× and back", "resize 1.5×", "resize 1.5× and back", "resize 2×",
            "resize 2× and back", "brightness +10", "contrast ×1.1", "saturation ×1.2", "gamma 0.9")   # issue 16


# ---- pictures ----------------------------------------------------------------------------------------------

def dataset_pictures(size: int, names: tuple[str, ...] = DATASETS) -> dict[str, np.ndarray]:
    """Every listed built-in image dataset that is already built, as size×size RGB: its training arrays (x,
    or a and b of a translation set), at `size` px or, when stored smaller, at its own size scaled up."""
    import json

    from ganvas.data.dataset import builtin_root, is_built, load_dataset, resize_images

    out = {}
    for name in names:
        if not is_built(name):
            continue
        native = json.loads((builtin_root(name) / "card.json").read_text(encoding="utf-8")).get("native_size")
        if not native:
            continue
        ds = load_dataset(name, min(size, int(native)), progress=False)
        for key in ("x", "a", "b"):
            if key in ds.arrays:
                x = resize_images(ds.arrays[key], size)
                out[name if key == "x" else f"{name}:{key}"] = as_rgb(x) if x.shape[3] == 1 else x
    return out


def synthetic(n: int, size: int, seed: int) -> np.ndarray:
    """Smooth noise, gradients, flat colours and white noise: pictures no dataset holds."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        kind = i % 4
        if kind == 0:            # smooth noise: a small random picture blown up
            small = rng.integers(0, 256, (int(rng.integers(2, 12)),) * 2 + (3,), dtype=np.uint8)
            out[i] = np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))
        elif kind == 1:          # a gradient
            t = np.linspace(0, 1, size)
            a, b = rng.integers(0, 256, (2, 3))
            ramp = t[:, None] if rng.random() < 0.5 else t[None, :]
            out[i] = (a + (b - a) * ramp[..., None] * np.ones((size, size, 1))).round().astype(np.uint8)
        elif kind == 2:          # a flat colour with slight noise
            out[i] = np.clip(rng.integers(0, 256, 3) + rng.normal(0, 1.5, (size, size, 3)), 0, 255).round()
        else:                    # white noise
            out[i] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return out


def as_rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img, 3, axis=-1) if img.shape[-1] == 1 else img


# ---- measurements ------------------------------------------------------------------------------------------

def bit_accuracy(img: np.ndarray, payload: int, step: float) -> float:
    """The fraction of the 32 payload bits the hard decisions get right (no undo, no error correction)."""
    _, dither, whiten = wm._keyed(wm.DEFAULT_KEY)
    proj, ref = wm._measure(img, wm.DEFAULT_KEY)
    hard = (np.cos(2 * np.pi * (proj / ref / step - dither)) < 0).astype(np.int64) ^ whiten
    return float(np.mean(hard[:wm.PAYLOAD_BITS] == wm._codeword(payload)[:wm.PAYLOAD_BITS]))


def robustness(marked: list[tuple[np.ndarray, int]], sources: list[str]) -> list[tuple[str, float, float, float, dict]]:
    """Per attack: mean bit accuracy, detection rate, median score, and the detection rate per source."""
    rows = []
    for name, attack in ATTACKS.items():
        acc, hits, scores = [], [], []
        for img, payload in marked:
            got = attack(img)
            det = wm.detect(got)
            acc.append(bit_accuracy(got, payload, wm._step(*img.shape[:2])))
            hits.append(det.found and det.payload == payload)
            scores.append(det.score)
        per = {s: float(np.mean([h for h, t in zip(hits, sources, strict=True) if t == s]))
               for s in sorted(set(sources))}
        rows.append((name, float(np.mean(acc)), float(np.mean(hits)), float(np.median(scores)), per))
    return rows


def false_positives(pictures: list[np.ndarray]) -> tuple[int, list[float]]:
    found, scores = 0, []
    for img in pictures:
        det = wm.detect(img)
        found += det.found
        scores.append(det.score)
    return found, scores


def invisibility(images: np.ndarray, size: int, n: int, seed: int) -> tuple[float, float, float]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(seed)
    pic = [np.asarray(Image.fromarray(as_rgb(img)).resize((size, size), Image.Resampling.LANCZOS))
           for img in images[:n]]
    psnr, ssim = [], []
    for img in pic:
        out = wm.embed(img, int(rng.integers(0, 2**32)))
        psnr.append(peak_signal_noise_ratio(img, out, data_range=255))
        ssim.append(structural_similarity(img, out, channel_axis=2, data_range=255))
    return float(np.mean(psnr)), float(np.min(psnr)), float(np.mean(ssim))


def timing(images: np.ndarray, repeats: int) -> tuple[float, float]:
    img = as_rgb(images[0])
    wm.embed(img, 1)
    t_embed, t_detect = [], []
    for i in range(repeats):
        t0 = time.perf_counter()
        out = wm.embed(as_rgb(images[i % len(images)]), i)
        t1 = time.perf_counter()
        wm.detect(out)
        t2 = time.perf_counter()
        t_embed.append((t1 - t0) * 1000)
        t_detect.append((t2 - t1) * 1000)
    return statistics.median(t_embed), statistics.median(t_detect)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=500, help="marked pictures per attack")
    ap.add_argument("--unmarked", type=int, default=10_000, help="unmarked pictures for the false-positive rate")
    ap.add_argument("--size", type=int, default=64, help="picture size of the robustness table")
    ap.add_argument("--quick", action="store_true", help="100 marked, 1,000 unmarked")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.n, args.unmarked = min(args.n, 100), min(args.unmarked, 1000)
    rng = np.random.default_rng(args.seed)

    sets = dataset_pictures(args.size)
    if not sets:
        sys.exit("no built-in image dataset is built: run `ganvas data build emoji` first")
    pool = np.concatenate(list(sets.values()))
    order = rng.permutation(len(pool))
    sources = ", ".join(f"{k} ({len(v)})" for k, v in sets.items())
    step = wm._step(args.size, args.size)
    print(f"watermark {wm.CODE_BITS} code bits ({wm.PAYLOAD_BITS} payload + CRC-24), step {step:.3f}, "
          f"threshold {wm.THRESHOLD}; {args.size} px pictures from {sources}")

    labels = np.concatenate([[k.split(":")[0]] * len(v) for k, v in sets.items()])
    marked_src = pool[order[:args.n]]
    marked = [(wm.embed(img, p), p) for img, p in
              zip(marked_src, (int(v) for v in rng.integers(0, 2**32, args.n)), strict=True)]
    print(f"\nrobustness over {args.n} marked pictures (each its own payload)")
    names = sorted(set(labels[order[:args.n]]))
    print(f"{'attack':44s} {'bit acc':>8s} {'detected':>9s} {'score':>6s} required  detected per source: "
          + ", ".join(names))
    for name, acc, rate, score, per in robustness(marked, list(labels[order[:args.n]])):
        print(f"{name:44s} {acc:8.4f} {rate:9.4f} {score:6.3f} {'yes' if name in REQUIRED else '   ':8s}  "
              + " ".join(f"{per[k]:.2f}" for k in names))

    clean = pool[order[args.n:]]
    n_data = min(len(clean), args.unmarked * 6 // 10)
    n_attacked = min(len(clean), args.unmarked // 5)
    n_synth = args.unmarked - n_data - n_attacked
    attacks = [ATTACKS[k] for k in ("JPEG 75", "resize 0.5×", "resize 1.5×", "gamma 0.9", "contrast ×1.1", "WebP q90")]
    attacked = [attacks[i % len(attacks)](clean[-1 - i]) for i in range(n_attacked)]
    groups = {"dataset pictures": list(clean[:n_data]), "attacked dataset pictures": attacked,
              "synthetic pictures": list(synthetic(n_synth, args.size, args.seed + 1))}
    print(f"\nfalse positives over {sum(len(g) for g in groups.values())} unmarked pictures "
          f"(found = CRC-24 valid after ≤ {wm.CHASE_BITS} flips of the {wm.CHASE_WEAKEST} weakest bits "
          f"AND score ≥ {wm.THRESHOLD})")
    total_found, all_scores = 0, []
    for name, pics in groups.items():
        found, scores = false_positives(pics)
        total_found += found
        all_scores += scores
        print(f"  {name:28s} {len(pics):6d} pictures  found {found}  score median {np.median(scores):.3f} "
              f"99.9th pct {np.quantile(scores, 0.999):.3f} max {np.max(scores):.3f}")
    above = float(np.mean(np.asarray(all_scores) >= wm.THRESHOLD))
    print(f"  false-positive rate {total_found}/{len(all_scores)} = {total_found / len(all_scores):.2e}; "
          f"score ≥ threshold alone: {above:.1%} (times a chance CRC-24 pass, 2·794/2**24: "
          f"≈ {above * 2 * 794 / 2**24:.1e})")

    print("\ninvisibility of 200 marked emoji (from 128 px, Lanczos-resized): PSNR dB (mean, min), SSIM (mean)")
    emoji = dataset_pictures(128, ("emoji",)).get("emoji", pool)
    src = emoji[np.random.default_rng(args.seed).permutation(len(emoji))[:200]]
    for size in (32, 64, 128):
        psnr, low, ssim = invisibility(src, size, 200, args.seed + size)
        print(f"  {size:4d} px  PSNR {psnr:5.1f}  (min {low:5.1f})  SSIM {ssim:.4f}")

    embed_ms, detect_ms = timing(pool[order[:50]], 200)
    print(f"\nspeed at {args.size} px: embed {embed_ms:.2f} ms, detect {detect_ms:.2f} ms per picture (median)")


if __name__ == "__main__":
    main()
