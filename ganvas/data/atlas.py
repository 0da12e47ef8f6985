"""Pictures inside game texture atlases: cells of a regular grid, and sprites packed edge to edge.

Games ship their art as a few large PNG files (atlases). Terrain is usually a regular grid of
full tiles. Sprites are packed tightly instead: each cropped to its bounding box and placed against
its neighbours with no margin (Dungeon Crawl's packer in rltiles/tool/tile_page.cc does this), and
no file says where one ends. They are found here as the 4-connected components of the opaque
pixels; two sprites that touch merge into one component, which is then cut where the fewest opaque
pixels cross (the seam between two bounding boxes is usually thin), until every piece fits the
atlas's tile size. Pieces too small to be a picture are dropped as fragments.

Pure numpy: labelling works on runs of opaque pixels with a union-find, so a 1024×2048 atlas takes
about a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass
class Sprite:
    """One picture cut from an atlas: where it was, and its pixels (RGBA, other sprites' pixels cleared)."""

    y: int
    x: int
    rgba: np.ndarray        # h×w×4 uint8


def grid_cells(rgba: np.ndarray, size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """(row, column, cell) of every `size`×`size` cell of a grid atlas, row by row (partial cells left out)."""
    rows, cols = rgba.shape[0] // size, rgba.shape[1] // size
    for r in range(rows):
        for c in range(cols):
            yield r, c, rgba[r * size:(r + 1) * size, c * size:(c + 1) * size]


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The horizontal runs of True in `mask`: row, first column, column after the last; row-major order."""
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    ys, xs = np.nonzero(d == 1)
    _, xe = np.nonzero(d == -1)
    return ys, xs, xe


def label_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of `mask` and, for each, the 4-connected component it belongs to (0, 1, ... in
    order of first appearance)."""
    ys, xs, xe = _runs(mask)
    n = len(ys)
    parent = list(range(n))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    starts = np.searchsorted(ys, np.arange(mask.shape[0] + 1)).tolist()
    xs_l, xe_l = xs.tolist(), xe.tolist()
    for y in range(1, mask.shape[0]):
        i, i_end, j, j_end = starts[y], starts[y + 1], starts[y - 1], starts[y]
        while i < i_end and j < j_end:          # runs of two rows, both sorted: one merge pass
            if xs_l[j] < xe_l[i] and xs_l[i] < xe_l[j]:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            if xe_l[j] < xe_l[i]:
                j += 1
            else:
                i += 1
    roots = np.fromiter((find(k) for k in range(n)), dtype=np.int64, count=n)
    _, labels = np.unique(roots, return_inverse=True)
    return ys, xs, xe, labels.reshape(-1)


def components(mask: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(top, left, mask of the component within its bounding box) of each 4-connected component."""
    ys, xs, xe, labels = label_runs(mask)
    if not len(ys):
        return []
    order = np.argsort(labels, kind="stable")
    first = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
    y0 = np.minimum.reduceat(ys[order], first)
    y1 = np.maximum.reduceat(ys[order], first) + 1
    x0 = np.minimum.reduceat(xs[order], first)
    x1 = np.maximum.reduceat(xe[order], first)
    out = []
    bounds = np.r_[first, len(order)]
    for k in range(len(first)):
        m = np.zeros((y1[k] - y0[k], x1[k] - x0[k]), dtype=bool)
        for r in order[bounds[k]:bounds[k + 1]]:
            m[ys[r] - y0[k], xs[r] - x0[k]:xe[r] - x0[k]] = True
        out.append((int(y0[k]), int(x0[k]), m))
    return out


def _cut_position(counts: np.ndarray, tile: int) -> int:
    """Where to cut a strip of `len(counts)` > `tile` columns (or rows): the boundary with the fewest
    opaque pixels on its two sides, placed so that the first piece and the pieces left fit in tiles."""
    n = len(counts)
    pieces = -(-n // tile)
    lo, hi = max(1, n - tile * (pieces - 1)), min(tile, n - 1)
    if lo > hi:
        lo, hi = 1, n - 1
    b = np.arange(lo, hi + 1)
    return int(b[np.argmin(counts[b - 1] + counts[b])])


def split_to_tiles(y: int, x: int, mask: np.ndarray, tile: int, depth: int = 0) -> list[tuple[int, int, np.ndarray]]:
    """A component cut into pieces no larger than `tile`×`tile`, each piece's own components kept apart."""
    h, w = mask.shape
    if (h <= tile and w <= tile) or depth > 64:
        return [(y, x, mask)]
    if w > tile and (w >= h or h <= tile):
        b = _cut_position(mask.sum(axis=0), tile)
        parts = [(y, x, mask[:, :b]), (y, x + b, mask[:, b:])]
    else:
        b = _cut_position(mask.sum(axis=1), tile)
        parts = [(y, x, mask[:b]), (y + b, x, mask[b:])]
    out = []
    for py, px, pm in parts:
        for cy, cx, cm in components(pm):
            out += split_to_tiles(py + cy, px + cx, cm, tile, depth + 1)
    return out


def cut_sprites(rgba: np.ndarray, tile: int, min_side: int = 8, min_area: int = 40,
                regions: tuple[tuple[int, int, int, int], ...] | None = None) -> tuple[list[Sprite], int]:
    """The sprites of a packed atlas (see the module's docstring) and how many fragments were dropped.

    `regions` ((left, top, right, bottom) rectangles): keep only sprites whose top-left corner lies in one,
    for atlases that hold several kinds of picture in known bands. Sprites come in reading order.
    """
    alpha = rgba[..., 3] > 0
    sprites, fragments = [], 0
    for y, x, m in components(alpha):
        for py, px, pm in split_to_tiles(y, x, m, tile):
            if regions is not None and not any(x0 <= px < x1 and y0 <= py < y1 for x0, y0, x1, y1 in regions):
                continue
            if min(pm.shape) < min_side or int(pm.sum()) < min_area:
                fragments += 1
                continue
            crop = rgba[py:py + pm.shape[0], px:px + pm.shape[1]].copy()
            crop[~pm] = 0
            sprites.append(Sprite(py, px, crop))
    sprites.sort(key=lambda s: (s.y, s.x))
    return sprites, fragments


def centred(rgba: np.ndarray, size: int) -> np.ndarray:
    """`rgba` (at most `size` on each side) centred on a transparent `size`×`size` canvas, pixels unscaled."""
    h, w = rgba.shape[:2]
    out = np.zeros((size, size, 4), dtype=np.uint8)
    top, left = (size - h) // 2, (size - w) // 2
    out[top:top + h, left:left + w] = rgba
    return out
