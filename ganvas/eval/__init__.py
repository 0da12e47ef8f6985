"""Judging what a GAN makes: quality, diversity, novelty and memorization.

Entry points:
- ``evaluate_generator(G, dataset, n, features) -> dict`` every metric of a generator;
- ``features.get_extractor(name, dataset)`` a registered feature extractor (inception | domain | random);
- ``evaluate_features(real, fake, train)`` the metrics on precomputed feature arrays;
- the pure metric functions: ``frechet_distance``, ``kernel_distance``, ``prdc``, ``authenticity``,
  ``distance_ratio``, ``data_copying``, ``mean_pairwise_distance``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate_generator", "evaluate_features", "evaluate_run", "get_extractor", "frechet_distance",
           "kernel_distance", "prdc", "authenticity", "distance_ratio", "data_copying", "mean_pairwise_distance"]

_WHERE = {
    "evaluate_generator": "ganvas.eval.evaluate", "evaluate_features": "ganvas.eval.evaluate",
    "evaluate_run": "ganvas.eval.evaluate", "get_extractor": "ganvas.eval.features",
    "frechet_distance": "ganvas.eval.frechet", "kernel_distance": "ganvas.eval.kernel", "prdc": "ganvas.eval.manifold",
    "authenticity": "ganvas.eval.novelty", "distance_ratio": "ganvas.eval.novelty",
    "mean_pairwise_distance": "ganvas.eval.novelty", "data_copying": "ganvas.eval.copying",
}


def __getattr__(name: str) -> Any:
    """Import lazily: `import ganvas.eval` stays cheap for code that needs one function."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'ganvas.eval' has no attribute {name!r}")
