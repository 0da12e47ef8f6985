"""Is it new? Authenticity, the nearest-neighbour distance-ratio test, and variety within a set.

These compare each generated sample with the *training* set (what the model could have copied).
"""

from __future__ import annotations

import numpy as np

from ganvas.eval.checks import as_features, at_least, same_width
from ganvas.eval.neighbours import distances, kth_neighbour_distance, nearest, row_blocks

MEMORIZED_RATIO = 1.0 / 3.0     # d(NN1)/d(NN2) below this: the sample sits on one training sample


def authenticity(train: np.ndarray, fake: np.ndarray, what_train: str = "training features",
                 what_fake: str = "generated features") -> tuple[float, np.ndarray]:
    """Alaa et al. 2022 ("How Faithful is your Synthetic Data?"): the share of authentic samples.

    A generated sample g is *unauthentic* when it is closer to its nearest training sample x* than
    x* is to its own nearest other training sample: g then sits inside the gap around x* that no
    honest sample of the data distribution would be expected to fall into, i.e. g looks copied.
    Returns the share of authentic generated samples and the per-sample flags (True = authentic).

    The reference implementation's main branch (ahmedmalaa/evaluating-generative-models,
    metrics/evaluation.py and audit.py) computes
    ``authen = real_to_real[real_to_synth_args] < real_to_synth``: it takes, for each *real* sample,
    the index of its nearest *synthetic* sample and uses that synthetic index to look up a *real*
    sample's nearest-neighbour distance. The two distances compared belong to unrelated points, the
    average runs over real samples instead of generated ones, and the lookup fails outright when
    there are more synthetic than real samples (their issue #4). The authors' `boris-new` branch
    fixes it by searching from the synthetic side: for each synthetic sample, its nearest real
    sample i* and distance d, and ``real_to_real[i*] < d``. ganvas implements that corrected
    definition (a test checks that exact copies score 0 and fresh samples of the same distribution
    score close to the expected share).
    """
    train, fake = as_features(train, what_train), as_features(fake, what_fake)
    same_width(train, fake, what_train, what_fake)
    at_least(train, 2, what_train, "authenticity (a training sample's nearest other training sample)")
    gap, d, idx = nearest_with_gap(train, fake)
    authentic = gap[idx] < d
    return float(authentic.mean()), authentic


def nearest_with_gap(train: np.ndarray, fake: np.ndarray, gap: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each training sample's distance to its nearest other training sample; each generated sample's
    distance to its nearest training sample; that sample's index): what authenticity and the creativity
    report's novelty (ganvas.eval.creativity) compare. Inputs are checked feature arrays; `gap` from an earlier
    call spares the N² pass over the training set."""
    if gap is None:
        gap = kth_neighbour_distance(train, (1,))[1]
    d, idx = nearest(fake, train, 1)
    return gap, d[:, 0], idx[:, 0]


def distance_ratio(train: np.ndarray, fake: np.ndarray, what_train: str = "training features",
                   what_fake: str = "generated features") -> dict[str, np.ndarray]:
    """Per generated sample: distances and indices of its 3 nearest training samples, and d(NN1)/d(NN2).

    The ratio test (as in Lowe's SIFT matching, used for GAN memorization by e.g. the GAN memorization
    competition of Bai et al. 2021): a sample much closer to one training sample than to any other
    (ratio < 1/3) copies that sample rather than combining what it learnt. A sample at distance 0 from
    a training sample has ratio 0 even when that training sample is duplicated.
    """
    train, fake = as_features(train, what_train), as_features(fake, what_fake)
    same_width(train, fake, what_train, what_fake)
    at_least(train, 2, what_train, "the nearest-neighbour distance ratio (two nearest training samples)")
    d, idx = nearest(fake, train, min(3, len(train)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[:, 0] == 0, 0.0, d[:, 0] / d[:, 1])
    return {"distances": d, "indices": idx, "ratio": ratio}


def memorized_fraction(ratio: np.ndarray, threshold: float = MEMORIZED_RATIO) -> float:
    return float((np.asarray(ratio) < threshold).mean())


def mean_pairwise_distance(x: np.ndarray, max_samples: int = 2000, seed: int = 0,
                           what: str = "features") -> float:
    """Mean Euclidean distance between distinct samples: the set's spread in feature space.

    Exact for up to `max_samples` samples, else over a seeded subset of that many (error < 1%).
    """
    x = as_features(x, what)
    at_least(x, 2, what, "a pairwise distance")
    if len(x) > max_samples:
        x = x[np.random.default_rng(seed).choice(len(x), max_samples, replace=False)]
    total, sq = 0.0, np.einsum("ij,ij->i", x, x)
    for rows in row_blocks(len(x), len(x)):
        total += distances(x[rows], x, sq).sum()
    n = len(x)
    return float(total / (n * (n - 1)))
