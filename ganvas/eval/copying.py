"""Meehan, Chaudhuri and Dasgupta 2020, "A Non-Parametric Test to Detect Data-Copying in Generative
Models": the C_T statistic.

Data-copying is finer than memorising whole samples: a model that sits *closer* to its training
samples than fresh data from the same distribution does. The test compares, for a held-out sample
P_n the model never saw and the generated sample Q_m, their distances to the nearest training
sample, cell by cell of a partition of feature space (k-means on the training set), with a
Mann-Whitney U test. Each cell's U is z-scored under the null hypothesis of equal distributions;
C_T averages the cells' z-scores weighted by their share of held-out samples, over the cells holding
more than a τ share of generated samples (τ = 20/m, as in the paper's experiments).
C_T ≪ 0 (below about −3): generated samples are closer to the training set than new data is, i.e.
data-copying; C_T ≫ 0: underfitting; near 0: neither.
"""

from __future__ import annotations

import numpy as np

from ganvas.eval.checks import as_features, at_least, same_width
from ganvas.eval.neighbours import distances, nearest


def kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 50) -> np.ndarray:
    """Cluster centres of `x` by k-means++ seeding and Lloyd iterations, deterministic for `seed`."""
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        i = int(rng.choice(len(x), p=d2 / total)) if total > 0 else int(rng.integers(len(x)))
        centres.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(axis=1))
    c = np.array(centres)
    for _ in range(iterations):
        labels = distances(x, c).argmin(axis=1)
        new = np.array([x[labels == j].mean(axis=0) if (labels == j).any() else c[j] for j in range(k)])
        if np.allclose(new, c):
            break
        c = new
    return c


def rank_average(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(values, kind="stable")
    sorted_v = values[order]
    ranks = np.empty(len(values))
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return ranks


def mann_whitney_z(q: np.ndarray, p: np.ndarray) -> float:
    """The z-scored U statistic of `q` against `p` (U = pairs with q above p, ties ½), with the
    continuity correction of the reference implementation; negative when q tends to be smaller."""
    m, n = len(q), len(p)
    ranks = rank_average(np.concatenate([q, p]))
    u = ranks[:m].sum() - m * (m + 1) / 2.0
    mean = m * n / 2.0 - 0.5
    std = np.sqrt(m * n * (m + n + 1) / 12.0)
    return float((u - mean) / std)


def default_cells(n_heldout: int) -> int:
    """About 50 held-out samples per cell (the paper's MNIST runs: 10,000 in 50 cells, 200 each), 1–50 cells."""
    return int(np.clip(n_heldout // 50, 1, 50))


def data_copying(train: np.ndarray, heldout: np.ndarray, fake: np.ndarray, cells: int | None = None,
                 tau: float | None = None, seed: int = 0, what_train: str = "training features",
                 what_heldout: str = "held-out features", what_fake: str = "generated features") -> dict:
    """C_T and its per-cell z-scores; cells without held-out or training samples are left out."""
    train = as_features(train, what_train)
    heldout, fake = as_features(heldout, what_heldout), as_features(fake, what_fake)
    same_width(train, heldout, what_train, what_heldout)
    same_width(train, fake, what_train, what_fake)
    at_least(heldout, 2, what_heldout, "the data-copying test C_T")
    at_least(fake, 2, what_fake, "the data-copying test C_T")
    k = min(cells or default_cells(len(heldout)), len(train))
    tau = 20.0 / len(fake) if tau is None else tau
    centres = kmeans(train, k, seed)
    t_cell, p_cell, q_cell = (distances(a, centres).argmin(axis=1) for a in (train, heldout, fake))
    z = np.zeros(k)
    used = np.zeros(k, dtype=bool)
    for c in range(k):
        t, p, q = train[t_cell == c], heldout[p_cell == c], fake[q_cell == c]
        if len(t) == 0 or len(p) == 0 or len(q) / len(fake) <= tau:
            continue
        lq = nearest(q, t, 1)[0][:, 0]
        lp = nearest(p, t, 1)[0][:, 0]
        z[c] = mann_whitney_z(lq, lp)
        used[c] = True
    weights = np.bincount(p_cell, minlength=k) / len(heldout)
    if not used.any():
        return {"C_T": float("nan"), "cells": k, "cells_used": 0, "tau": tau, "z": z.tolist()}
    c_t = float(weights[used] @ z[used] / weights[used].sum())
    return {"C_T": c_t, "cells": k, "cells_used": int(used.sum()), "tau": tau, "z": z.tolist()}
