"""The metrics against independent references on the same features, known cases, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch

from ganvas.errors import GanvasError
from ganvas.eval.copying import data_copying, mann_whitney_z
from ganvas.eval.evaluate import FEATURES_JSON_KEYS, evaluate_features
from ganvas.eval.frechet import feature_stats, frechet_distance
from ganvas.eval.kernel import kernel_distance
from ganvas.eval.manifold import prdc
from ganvas.eval.novelty import authenticity, distance_ratio, mean_pairwise_distance
from ganvas.eval.suite import FeatureSets, compute


def correlated(rng: np.random.Generator, n: int, d: int, shift: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """n samples of one fixed correlated Gaussian per width d (shifted and scaled)."""
    mix = np.linspace(0.2, 1.0, d)[:, None] * np.random.default_rng(d).normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix + shift) * scale


def fd_sqrtm(x: np.ndarray, y: np.ndarray) -> float:
    """The usual reference: scipy's matrix square root of Σ₁Σ₂ (pytorch-fid's formula)."""
    m1, s1 = feature_stats(x)
    m2, s2 = feature_stats(y)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((m1 - m2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


@pytest.mark.parametrize(("n1", "n2", "d"), [(600, 500, 64), (2000, 300, 128), (40, 50, 64), (30, 300, 64)],
                         ids=["full-rank", "one-singular", "gram-form", "mixed"])
def test_frechet_distance_matches_scipy_sqrtm(n1: int, n2: int, d: int) -> None:
    rng = np.random.default_rng(n1 + d)
    x, y = correlated(rng, n1, d), correlated(rng, n2, d, shift=0.1, scale=1.2)
    assert frechet_distance(x, y) == pytest.approx(fd_sqrtm(x, y), rel=1e-6)


def test_frechet_distance_with_a_constant_feature_is_exact() -> None:
    rng = np.random.default_rng(1)
    x, y = correlated(rng, 400, 32), correlated(rng, 400, 32, shift=0.3)
    x[:, 5] = 0.0                                               # a dead ReLU channel: Σ₁ is singular
    assert frechet_distance(x, y) == pytest.approx(fd_sqrtm(x, y), rel=1e-6)


class Passthrough(torch.nn.Module):
    """A 'feature extractor' for torchmetrics that returns its input: the images are the features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_fd_and_kid_match_torchmetrics_with_a_custom_feature_module() -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    rng = np.random.default_rng(2)
    x, y = correlated(rng, 300, 48), correlated(rng, 300, 48, shift=0.2)
    fid = FrechetInceptionDistance(feature=Passthrough(48))
    fid.update(torch.from_numpy(x), real=True)
    fid.update(torch.from_numpy(y), real=False)
    assert frechet_distance(x, y) == pytest.approx(float(fid.compute()), rel=1e-6)
    # with subsets as large as the sets every subset is the whole set, so the two must agree exactly
    kid = KernelInceptionDistance(feature=Passthrough(48), subsets=3, subset_size=300)
    kid.update(torch.from_numpy(x), real=True)
    kid.update(torch.from_numpy(y), real=False)
    ref_mean, _ = kid.compute()
    mean, std = kernel_distance(x, y, subsets=3, subset_size=1000)
    assert mean == pytest.approx(float(ref_mean), rel=1e-6) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_seeded_and_subsets_vary() -> None:
    rng = np.random.default_rng(3)
    x, y = correlated(rng, 500, 16), correlated(rng, 400, 16, shift=0.5)
    a, b = kernel_distance(x, y, subset_size=100, seed=7), kernel_distance(x, y, subset_size=100, seed=7)
    assert a == b and a[1] > 0 and a[0] > 0
    assert kernel_distance(x, y, subset_size=100, seed=8) != a


def test_prdc_matches_the_prdc_package() -> None:
    import prdc as reference

    rng = np.random.default_rng(4)
    real, fake = correlated(rng, 400, 24), correlated(rng, 350, 24, shift=0.25, scale=0.9)
    ours = prdc(real, fake)
    at3 = reference.compute_prdc(real, fake, nearest_k=3)
    at5 = reference.compute_prdc(real, fake, nearest_k=5)
    assert ours["precision"] == pytest.approx(at3["precision"], abs=1e-12)
    assert ours["recall"] == pytest.approx(at3["recall"], abs=1e-12)
    assert ours["density"] == pytest.approx(at5["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(at5["coverage"], abs=1e-12)


def test_mann_whitney_z_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    q, p = rng.normal(size=70), np.r_[rng.normal(size=50) + 0.4, 0.0, 0.0]
    q[:3] = 0.0                                                           # ties across the samples
    u = scipy.stats.mannwhitneyu(q, p, alternative="less").statistic
    m, n = len(q), len(p)
    assert mann_whitney_z(q, p) == pytest.approx((u - (m * n / 2 - 0.5)) / np.sqrt(m * n * (m + n + 1) / 12))


def test_identical_sets() -> None:
    x = correlated(np.random.default_rng(6), 300, 32)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    r = prdc(x, x.copy())
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and r["coverage"] == 1.0
    # the unbiased MMD² estimate of a set against itself is not exactly 0, but tiny next to a real difference
    shifted = correlated(np.random.default_rng(6), 300, 32, shift=0.3)
    assert abs(kernel_distance(x, x, subset_size=300)[0]) < 0.05 * kernel_distance(x, shifted, subset_size=300)[0]


def test_copies_of_training_samples_are_flagged_as_memorized() -> None:
    rng = np.random.default_rng(7)
    train, fresh = correlated(rng, 1000, 16), correlated(rng, 200, 16)
    copies = train[rng.choice(1000, 200, replace=False)]
    share, flags = authenticity(train, copies)
    assert share == 0.0 and not flags.any()
    assert (distance_ratio(train, copies)["ratio"] < 1 / 3).all()
    # fresh samples of the same distribution are mostly authentic and none are copies
    assert authenticity(train, fresh)[0] > 0.5
    assert (distance_ratio(train, fresh)["ratio"] < 1 / 3).mean() < 0.02
    assert evaluate_features(fresh, copies, train)["memorized_fraction"] == 1.0


def test_data_copying_statistic() -> None:
    rng = np.random.default_rng(8)
    train, heldout = correlated(rng, 2000, 8), correlated(rng, 500, 8)
    near_copies = train[rng.choice(2000, 500, replace=False)] + rng.normal(scale=0.01, size=(500, 8))
    assert data_copying(train, heldout, near_copies)["C_T"] < -5
    assert abs(data_copying(train, heldout, correlated(rng, 500, 8))["C_T"]) < 3
    assert data_copying(train, heldout, correlated(rng, 500, 8, scale=2.0))["C_T"] > 3   # underfitting


def test_mode_collapse_has_low_recall_coverage_and_diversity() -> None:
    rng = np.random.default_rng(9)
    real, fake_ok = correlated(rng, 500, 16), correlated(rng, 500, 16)
    collapsed = np.repeat(real[:1] + 0.01, 500, axis=0) + rng.normal(scale=1e-3, size=(500, 16))
    values, _ = compute(FeatureSets(real, collapsed), ("prdc", "diversity"))
    good, _ = compute(FeatureSets(real, fake_ok), ("prdc", "diversity"))
    assert values["recall"] < 0.05 and values["coverage"] < 0.05 and values["diversity_ratio"] < 0.01
    assert good["recall"] > 0.5 and good["coverage"] > 0.5 and 0.8 < good["diversity_ratio"] < 1.2
    assert mean_pairwise_distance(collapsed) < 0.01 * mean_pairwise_distance(real)


def test_features_json_has_exactly_the_documented_keys() -> None:
    rng = np.random.default_rng(10)
    out = evaluate_features(correlated(rng, 100, 8), correlated(rng, 80, 8))
    assert tuple(out) == FEATURES_JSON_KEYS
    assert out["n_real"] == 100 and out["n_fake"] == 80 and out["dim"] == 8


BAD = [
    (lambda r: (r[:, :8], r), "feature arrays of different widths: real features has 8 columns"),
    (lambda r: (np.where(np.arange(r.size).reshape(r.shape) == 7, np.nan, r), r), "NaN at row 0, column 7"),
    (lambda r: (r, np.where(np.arange(r.size).reshape(r.shape) == 40, np.inf, r)), "generated features: 1 NaN or inf"),
    (lambda r: (r[:5], r), "real features: 5 samples, but density and coverage (k = 5) needs at least 6"),
    (lambda r: (r, r[:3]), "generated features: 3 samples, but precision and recall (k = 3) needs at least 4"),
    (lambda r: (r[0], r), "expected a 2-D array"),
    (lambda r: (r.astype(str), r), "expected a numeric N×D array"),
]


@pytest.mark.parametrize(("make", "message"), BAD, ids=["width", "nan", "inf", "few-real", "few-fake", "1d", "text"])
def test_bad_feature_arrays_are_one_line_errors(make, message: str) -> None:
    real, fake = make(np.random.default_rng(11).normal(size=(50, 16)))
    with pytest.raises(GanvasError) as err:
        compute(FeatureSets(real, fake))
    assert message in str(err.value) and "\n" not in str(err.value)
