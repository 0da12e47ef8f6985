"""The metrics, registered by name, computed together on one set of features.

Like StyleGAN2-ADA's ``metric_main``: each metric is a function of the shared `FeatureSets`
(reference reals, generated, the whole training split and, when one exists, the held-out split)
returning named values; `compute` runs the chosen ones. Keys are generic (``fd``, ``kid_mean``…);
`labelled` renames the extractor-dependent ones for a result a person reads (``FID`` only for the
Inception extractor, ``FD_domain``, ``FD_random`` otherwise). Arrays a metric returns (per-sample
distances, flags) are kept apart as details for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ganvas import registry
from ganvas.errors import GanvasError
from ganvas.eval.checks import as_features, at_least, same_width
from ganvas.eval.copying import data_copying
from ganvas.eval.frechet import frechet_distance
from ganvas.eval.kernel import kernel_distance
from ganvas.eval.manifold import K_DC, K_PR, prdc
from ganvas.eval.novelty import MEMORIZED_RATIO, authenticity, distance_ratio, mean_pairwise_distance

METRICS = registry.METRICS   # the table lives in ganvas/registry.py (the one catalogue)
ALL = tuple(METRICS.names())
# what each figure means in a few words, for the report and `--help`
MEANINGS = {
    "fd": "Fréchet distance between Gaussians fitted to real and generated features (lower is better)",
    "fd_heldout": "the same against held-out images the model never saw",
    "fd_real_floor": "the same between two real samples of this size: the best a model can reach at this N",
    "kid_mean": "kernel distance: unbiased MMD² with a cubic kernel, mean over 100 subsets (lower is better)",
    "kid_std": "its standard deviation over the subsets (0 when N ≤ 1000: each subset is the whole set)",
    "precision": f"share of generated samples inside the real manifold (k={K_PR}): realism",
    "recall": f"share of real samples inside the generated manifold (k={K_PR}): variety covered",
    "density": f"real neighbourhoods (k={K_DC}) containing each generated sample, / k (≈1 when matched)",
    "coverage": f"share of real samples with a generated sample in their neighbourhood (k={K_DC})",
    "authenticity": "share of generated samples not closer to a training sample than its own neighbour (Alaa 2022)",
    "memorized_fraction": f"share with d(NN1)/d(NN2) < {MEMORIZED_RATIO:.3g} to the training set (copies)",
    "diversity": "mean pairwise feature distance within the generated samples",
    "diversity_real": "the same within as many real samples",
    "diversity_ratio": "diversity / diversity_real (≈1 matched, ≪1 mode collapse)",
    "C_T": "Meehan 2020 data-copying statistic against the held-out split (≪0 copying, ≫0 underfitting)",
    "n_real": "reference real images the figures compare with (from the training split)",
    "n_fake": "generated samples judged",
    "n_train": "training images the memorization tests search (what the model could have copied)",
    "n_heldout": "held-out images, never trained on: the comparison for new data",
    "dim": "length of each image's feature vector (the extractor's output)",
    "C_T_cells": "cells (k-means clusters of the held-out images) C_T divides the feature space into",
    "C_T_cells_used": "cells with enough samples to be counted in C_T",
}
EXPERT = ("n_real", "n_fake", "n_train", "n_heldout", "dim", "C_T_cells", "C_T_cells_used", "kid_std", "diversity",
          "diversity_real")   # implementation figures: the report folds them away under "details"


@dataclass
class FeatureSets:
    """Features of one evaluation; `real` and `fake` are compared, `train` is what could be copied."""

    real: np.ndarray                        # reference real features (N of the training split)
    fake: np.ndarray                        # generated features (N)
    train: np.ndarray | None = None         # the whole training split (memorization); defaults to `real`
    heldout: np.ndarray | None = None       # the held-out split, if the run had one
    seed: int = 0                           # seeds KID subsets, sub-sampling and k-means
    names: dict[str, str] = field(default_factory=dict)   # array name in error messages, per role

    def __post_init__(self) -> None:
        n = self.names
        for role in ("real", "fake", "train", "heldout"):
            n.setdefault(role, {"real": "real features", "fake": "generated features", "train": "training features",
                                "heldout": "held-out features"}[role])
        self.real = as_features(self.real, n["real"])
        self.fake = as_features(self.fake, n["fake"])
        same_width(self.real, self.fake, n["real"], n["fake"])
        self.train = self.real if self.train is None else as_features(self.train, n["train"])
        same_width(self.train, self.fake, n["train"], n["fake"])
        if self.heldout is not None:
            self.heldout = as_features(self.heldout, n["heldout"])
            same_width(self.heldout, self.fake, n["heldout"], n["fake"])
        at_least(self.real, max(K_PR, K_DC) + 1, n["real"], f"density and coverage (k = {K_DC})")
        at_least(self.fake, K_PR + 1, n["fake"], f"precision and recall (k = {K_PR})")
        at_least(self.train, 2, n["train"], "the nearest-neighbour tests")

    def heldout_sample(self) -> np.ndarray:
        """As many held-out samples as reference reals (FD is biased by N: compare like with like)."""
        h = self.heldout
        if h is None or len(h) <= len(self.real):
            return h
        return h[np.random.default_rng(self.seed + 1).choice(len(h), len(self.real), replace=False)]


def metric_fd(s: FeatureSets) -> dict[str, Any]:
    out: dict[str, Any] = {"fd": frechet_distance(s.real, s.fake, s.names["real"], s.names["fake"])}
    held = s.heldout_sample()
    if held is not None:
        out["fd_heldout"] = frechet_distance(held, s.fake, s.names["heldout"], s.names["fake"])
        out["fd_real_floor"] = frechet_distance(s.real, held, s.names["real"], s.names["heldout"])
    return out


def metric_kid(s: FeatureSets) -> dict[str, Any]:
    mean, std = kernel_distance(s.real, s.fake, seed=s.seed, what_x=s.names["real"], what_y=s.names["fake"])
    return {"kid_mean": mean, "kid_std": std}


def metric_prdc(s: FeatureSets) -> dict[str, Any]:
    return prdc(s.real, s.fake, what_real=s.names["real"], what_fake=s.names["fake"])


def metric_authenticity(s: FeatureSets) -> dict[str, Any]:
    share, flags = authenticity(s.train, s.fake, s.names["train"], s.names["fake"])
    return {"authenticity": share, "authentic": flags}


def metric_memorization(s: FeatureSets) -> dict[str, Any]:
    r = distance_ratio(s.train, s.fake, s.names["train"], s.names["fake"])
    return {"memorized_fraction": float((r["ratio"] < MEMORIZED_RATIO).mean()), "nn_ratio": r["ratio"],
            "nn_distances": r["distances"], "nn_indices": r["indices"]}


def metric_diversity(s: FeatureSets) -> dict[str, Any]:
    fake = mean_pairwise_distance(s.fake, seed=s.seed, what=s.names["fake"])
    real = mean_pairwise_distance(s.real, seed=s.seed, what=s.names["real"])
    return {"diversity": fake, "diversity_real": real, "diversity_ratio": fake / real if real > 0 else float("nan")}


def metric_data_copying(s: FeatureSets) -> dict[str, Any]:
    if s.heldout is None:
        return {}
    r = data_copying(s.train, s.heldout, s.fake, seed=s.seed, what_train=s.names["train"],
                     what_heldout=s.names["heldout"], what_fake=s.names["fake"])
    return {"C_T": r["C_T"], "C_T_cells": r["cells"], "C_T_cells_used": r["cells_used"]}


def compute(sets: FeatureSets, metrics: tuple[str, ...] | list[str] = ALL) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values, details): the chosen metrics' scalar values, and their per-sample arrays."""
    values: dict[str, Any] = {"n_real": len(sets.real), "n_fake": len(sets.fake), "dim": sets.real.shape[1],
                              "n_train": len(sets.train)}
    if sets.heldout is not None:
        values["n_heldout"] = len(sets.heldout)
    details: dict[str, Any] = {}
    for name in metrics:
        for key, value in METRICS.get(name)(sets).items():
            if isinstance(value, np.ndarray):
                details[key] = value
            else:
                values[key] = value
    return values, details


LABELLED = {"fd": "{fd}", "fd_heldout": "{fd}_heldout", "fd_real_floor": "{fd}_real_floor",
            "kid_mean": "{kd}_mean", "kid_std": "{kd}_std"}


def labelled(values: dict[str, Any], fd_name: str, kd_name: str) -> dict[str, Any]:
    """Rename extractor-dependent keys: fd → FID / FD_domain…, kid_mean → KID_mean / KD_domain_mean…"""
    return {(LABELLED[k].format(fd=fd_name, kd=kd_name) if k in LABELLED else k): v for k, v in values.items()}


def check_metric_names(names: list[str]) -> tuple[str, ...]:
    for name in names:
        if name not in METRICS:
            METRICS.get(name)          # raises the one-line unknown-name error
    if not names:
        raise GanvasError("no metrics chosen")
    return tuple(names)
