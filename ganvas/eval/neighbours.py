"""Exact Euclidean nearest neighbours in float64, computed in blocks so memory stays bounded.

Every neighbourhood metric (precision/recall, density/coverage, authenticity, the distance-ratio
test, C_T) reduces to distances between two sets of feature vectors. A full N×M matrix of 50k × 50k
would need 20 GB, so rows are processed in blocks of about `BLOCK_BYTES`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK_BYTES = 64 * 2**20


def row_blocks(n_rows: int, n_cols: int, block_bytes: int = BLOCK_BYTES) -> Iterator[slice]:
    step = max(1, block_bytes // (8 * max(n_cols, 1)))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def distances(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between rows of `a` and rows of `b` (len(a) × len(b)).

    Uses |a|² + |b|² − 2a·b (the same expansion as scikit-learn and the `prdc` package), clipped at 0.
    """
    a_sq = np.einsum("ij,ij->i", a, a)
    if b_sq is None:
        b_sq = np.einsum("ij,ij->i", b, b)
    d2 = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    np.maximum(d2, 0.0, out=d2)
    return np.sqrt(d2, out=d2)


def kth_neighbour_distance(x: np.ndarray, ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    """For each k in `ks`: every point's distance to its k-th nearest *other* point of `x`.

    As in `prdc`, this is the (k+1)-th smallest entry of the point's row of distances, the point
    itself (distance 0) being the first; exact duplicates therefore count as neighbours.
    """
    out = {k: np.empty(len(x)) for k in ks}
    sq = np.einsum("ij,ij->i", x, x)
    for rows in row_blocks(len(x), len(x)):
        d = distances(x[rows], x, sq)
        part = np.partition(d, sorted(ks), axis=1)
        for k in ks:
            out[k][rows] = part[:, k]
    return out


def nearest(queries: np.ndarray, points: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest `points` of every query, closest first: (distances, indices), each len(queries) × k."""
    k = min(k, len(points))
    dist = np.empty((len(queries), k))
    idx = np.empty((len(queries), k), dtype=np.int64)
    sq = np.einsum("ij,ij->i", points, points)
    for rows in row_blocks(len(queries), len(points)):
        d = distances(queries[rows], points, sq)
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(points) else np.tile(np.arange(len(points)),
                                                                                           (d.shape[0], 1))
        pd = np.take_along_axis(d, part, axis=1)
        order = np.argsort(pd, axis=1, kind="stable")
        idx[rows] = np.take_along_axis(part, order, axis=1)
        dist[rows] = np.take_along_axis(pd, order, axis=1)
    return dist, idx
