"""Speed of ganvas's metrics: the Fréchet distance against scipy's sqrtm, and feature extraction.

1. Fréchet distance at d = 2048 (Inception's width) from two covariance matrices: ganvas (Cholesky of
   Σ₁, eigenvalues of LᵀΣ₂L) against the usual reference (``scipy.linalg.sqrtm(Σ₁Σ₂)``, as
   pytorch-fid), side by side, with the relative difference of the two results; and the Gram form
   for n < d samples against sqrtm of the singular covariances.
2. Feature extraction in images/s for each extractor on the same emoji images, with the ratio to
   Inception. The domain extractor is trained first if it is not in the data home yet (once).

    .venv/bin/python bench/metrics_speed.py                  # d = 2048, 512 images per extractor
    .venv/bin/python bench/metrics_speed.py --dim 512 --images 64 --extractors random,inception   # quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def covariances(d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two full-rank covariance matrices (of 2d samples each) and means, like real feature statistics."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    x = rng.normal(size=(2 * d, d)) @ mix
    y = rng.normal(size=(2 * d, d)) @ (mix + 0.05 * rng.normal(size=(d, d)) / np.sqrt(d)) + 0.1
    return x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)


def fd_scipy(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    import scipy.linalg

    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def timed(fn, *args) -> tuple[float, float]:
    t = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - t


def timed_median(fn, *args, repeats: int = 3) -> tuple[float, float, float]:
    """Value, median seconds of `repeats` calls after a warm-up call, and the warm-up call's seconds
    (the first call also pays one-off set-up such as thread pools, for either method)."""
    value, first = timed(fn, *args)
    times = [timed(fn, *args)[1] for _ in range(repeats)]
    return value, statistics.median(times), first


def bench_fd(d: int) -> None:
    from ganvas.eval.frechet import frechet_distance, frechet_distance_from_stats

    print(f"Fréchet distance, d = {d}")
    stats = covariances(d)
    ours, t_ours, first_ours = timed_median(frechet_distance_from_stats, *stats)
    ref, t_ref, first_ref = timed_median(fd_scipy, *stats)
    print(f"  {'method (median of 3 after a warm-up call)':<44} {'seconds':>9} {'first call':>11} {'FD':>14}")
    print(f"  {'scipy.linalg.sqrtm(S1 S2) (pytorch-fid)':<44} {t_ref:>9.2f} {first_ref:>11.2f} {ref:>14.6f}")
    print(f"  {'ganvas: Cholesky + eigvalsh(L^T S2 L)':<44} {t_ours:>9.2f} {first_ours:>11.2f} {ours:>14.6f}")
    print(f"  speed-up {t_ref / t_ours:.1f}x (first calls {first_ref / first_ours:.1f}x), "
          f"relative difference {abs(ours - ref) / abs(ref):.2e}")
    rng = np.random.default_rng(1)
    n = 500
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.05
    ours, t_ours = timed(frechet_distance, x, y)
    ref, t_ref = timed(fd_scipy, x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    print(f"  n = {n} < d (singular covariances): sqrtm {t_ref:.2f} s, ganvas Gram form {t_ours:.3f} s "
          f"({t_ref / t_ours:.0f}x), relative difference {abs(ours - ref) / abs(ref):.2e} "
          "(here sqrtm is the inexact one)")


def bench_extractors(names: list[str], n_images: int) -> None:
    from ganvas.data.dataset import load_dataset
    from ganvas.eval.features import get_extractor

    print(f"\nFeature extraction, {n_images} emoji images (32 px stored), {os.cpu_count()} CPU threads")
    ds = load_dataset("emoji", 32)
    images = ds.arrays["x"][:n_images]
    rates = {}
    for name in names:
        ex = get_extractor(name, ds, **({"progress": True} if name == "domain" else {}))
        ex(images[:4])                                                  # warm-up
        _, t = timed(ex, images)
        rates[name] = n_images / t
    base = rates.get("inception")
    print(f"  {'extractor':<10} {'dim':>5} {'images/s':>10} {'vs inception':>13}")
    for name, rate in rates.items():
        dim = get_extractor(name, ds).dim if name != "inception" else 2048
        ratio = f"{rate / base:.0f}x" if base else "-"
        print(f"  {name:<10} {dim:>5} {rate:>10.1f} {ratio:>13}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=2048, help="feature width for the Fréchet distance")
    p.add_argument("--images", type=int, default=512, help="images per extractor")
    p.add_argument("--extractors", default="inception,domain,random", help="comma-separated")
    p.add_argument("--skip-fd", action="store_true")
    a = p.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    if not a.skip_fd:
        bench_fd(a.dim)
    if a.extractors:
        bench_extractors([n for n in a.extractors.split(",") if n], a.images)


if __name__ == "__main__":
    main()
