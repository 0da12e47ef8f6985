"""Precision, recall (Kynkäänniemi et al. 2019) and density, coverage (Naeem et al. 2020).

Each real sample gets a ball reaching to its k-th nearest real neighbour; the union of balls
estimates the real manifold (and likewise for generated samples).
- precision: share of generated samples inside the real manifold (are they realistic?);
- recall: share of real samples inside the generated manifold (is the variety covered?);
- density: how many real balls contain a generated sample on average, / k (≈1 when the generated
  samples are distributed like the real ones; robust to real outliers, unlike precision);
- coverage: share of real samples whose ball contains at least one generated sample (robust to
  generated outliers, unlike recall).
The comparisons are strict (distance < radius) and radii count the point itself, exactly as the
reference `prdc` package does, so the numbers agree with it on the same features (a test checks).
The papers use k = 3 for precision/recall and k = 5 for density/coverage; so does ganvas.
"""

from __future__ import annotations

import numpy as np

from ganvas.eval.checks import as_features, at_least, same_width
from ganvas.eval.neighbours import distances, kth_neighbour_distance, row_blocks

K_PR = 3        # Kynkäänniemi et al.'s k
K_DC = 5        # Naeem et al.'s k


def prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = K_PR, k_dc: int = K_DC,
         what_real: str = "real features", what_fake: str = "generated features") -> dict[str, float]:
    """precision and recall with k = `k_pr`, density and coverage with k = `k_dc`."""
    real, fake = as_features(real, what_real), as_features(fake, what_fake)
    same_width(real, fake, what_real, what_fake)
    k_max = max(k_pr, k_dc)
    at_least(real, k_max + 1, what_real, f"a {k_max}-nearest-neighbour radius")
    at_least(fake, k_pr + 1, what_fake, f"a {k_pr}-nearest-neighbour radius")
    r_real = kth_neighbour_distance(real, (k_pr, k_dc))
    r_fake = kth_neighbour_distance(fake, (k_pr,))[k_pr]
    in_real_manifold = np.zeros(len(fake), dtype=bool)      # precision, per generated sample
    real_balls_hit = np.zeros(len(fake))                    # density numerator, per generated sample
    recalled = np.zeros(len(real), dtype=bool)              # recall, per real sample
    covered = np.zeros(len(real), dtype=bool)               # coverage, per real sample
    fake_sq = np.einsum("ij,ij->i", fake, fake)
    for rows in row_blocks(len(real), len(fake)):
        d = distances(real[rows], fake, fake_sq)            # real block × all generated
        in_real_manifold |= (d < r_real[k_pr][rows, None]).any(axis=0)
        real_balls_hit += (d < r_real[k_dc][rows, None]).sum(axis=0)
        recalled[rows] = (d < r_fake[None, :]).any(axis=1)
        covered[rows] = d.min(axis=1) < r_real[k_dc][rows]
    return {
        "precision": float(in_real_manifold.mean()),
        "recall": float(recalled.mean()),
        "density": float(real_balls_hit.mean() / k_dc),
        "coverage": float(covered.mean()),
    }


def membership(real: np.ndarray, fake: np.ndarray, k_pr: int = K_PR, k_dc: int = K_DC,
               what_real: str = "real features", what_fake: str = "generated features",
               radii: dict[int, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per generated sample, what `prdc` averages: (inside the real manifold with k = `k_pr`, i.e. counted by
    precision; the real k = `k_dc` neighbourhoods containing it / k_dc, whose mean is density). Per sample, so
    one output (a kept one, say) can be judged against the same reals as a whole evaluation. `radii`: the reals'
    k-th neighbour distances from an earlier call of `real_radii`, so judging one output costs no N² pass."""
    real, fake = as_features(real, what_real), as_features(fake, what_fake)
    same_width(real, fake, what_real, what_fake)
    k_max = max(k_pr, k_dc)
    at_least(real, k_max + 1, what_real, f"a {k_max}-nearest-neighbour radius")
    r_real = radii if radii is not None else real_radii(real, k_pr, k_dc)
    inside = np.zeros(len(fake), dtype=bool)
    hits = np.zeros(len(fake))
    fake_sq = np.einsum("ij,ij->i", fake, fake)
    for rows in row_blocks(len(real), len(fake)):
        d = distances(real[rows], fake, fake_sq)
        inside |= (d < r_real[k_pr][rows, None]).any(axis=0)
        hits += (d < r_real[k_dc][rows, None]).sum(axis=0)
    return inside, hits / k_dc


def real_radii(real: np.ndarray, k_pr: int = K_PR, k_dc: int = K_DC) -> dict[int, np.ndarray]:
    """Each real sample's distance to its k-th nearest other real sample, for k = `k_pr` and `k_dc`."""
    return kth_neighbour_distance(as_features(real, "real features"), (k_pr, k_dc))
