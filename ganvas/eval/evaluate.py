"""From a generator (or precomputed features) to every metric, against the right real images.

`Reference` fixes what generated samples are compared with: the dataset, its split into training
and held-out parts (the run's own ``holdout``, recomputed deterministically), the extractor, the
features of every real image (cached on disk) and a seeded choice of N reference reals from the
training part. The CLI (`ganvas evaluate`), the training loop (``eval_every``) and other code
(``ganvas.eval.evaluate_generator``) all go through it, so their numbers agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganvas.data.dataset import ArrayDataset, load_dataset
from ganvas.data.split import holdout_indices, split_key
from ganvas.errors import GanvasError
from ganvas.eval.features import Extractor, dataset_features, get_extractor
from ganvas.eval.suite import ALL, FeatureSets, compute, labelled
from ganvas.nets.conditional import one_hot

FORMAT = "ganvas-metrics"
DEFAULT_MAX_N = 5000
FEATURES_JSON_KEYS = ("fd", "kid_mean", "kid_std", "precision", "recall", "density", "coverage", "authenticity",
                      "memorized_fraction", "n_real", "n_fake", "dim")


def auto_features(dataset: ArrayDataset) -> str:
    """`domain` when image data has at least two labels to learn from, else `random`."""
    y = dataset.arrays.get("y")
    images = dataset.domain == "image"
    return "domain" if images and y is not None and len(np.unique(y)) >= 2 else "random"


@dataclass
class Reference:
    """The real side of an evaluation, prepared once and reused for every set of generated samples."""

    dataset: ArrayDataset                   # the whole dataset (training and held-out parts)
    extractor: Extractor                    # features come from here
    n: int                                  # reference reals (and generated samples) per evaluation
    train_idx: np.ndarray                   # indices of the training part
    heldout_idx: np.ndarray                 # indices of the held-out part (empty when none)
    features: np.ndarray                    # features of every sample of `dataset`
    real_idx: np.ndarray                    # the N reference reals, from the training part
    seed: int = 0                           # seeds the choice of reals, KID subsets, k-means
    holdout: float = 0.0                    # the share held out
    is_training_data: bool = True           # False when evaluating against data the model was not trained on
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, dataset: ArrayDataset, features: str | Extractor = "auto", n: int | None = None,
              holdout: float = 0.0, seed: int = 0, is_training_data: bool = True,
              progress: bool | None = None, extractor_options: dict | None = None) -> Reference:
        if isinstance(features, Extractor):
            extractor = features
        else:
            name = auto_features(dataset) if features == "auto" else features
            extractor = get_extractor(name, dataset, **(extractor_options or {}))
        if holdout > 0:
            train_idx, held_idx = holdout_indices(dataset, holdout)
        else:
            train_idx, held_idx = np.arange(len(dataset)), np.arange(0)
        limit, where = len(train_idx), f"the {len(train_idx)} training images of '{dataset.name}'"
        if len(held_idx):
            limit = min(limit, len(held_idx))
            where = (f"the held-out split of '{dataset.name}' ({len(held_idx)} images: holdout {holdout} of "
                     f"{len(dataset)})")
        if n is None:
            n = min(limit, DEFAULT_MAX_N)
        elif n > limit:
            raise GanvasError(f"--n {n} is more than {where} allows: compare like with like, so use --n {limit} "
                              "or less")
        if n < 6:
            raise GanvasError(f"--n {n} is too small: density and coverage need at least 6 samples")
        feats = dataset_features(extractor, dataset, progress=bool(progress))
        rng = np.random.default_rng(seed)
        real_idx = np.sort(rng.choice(train_idx, n, replace=False)) if n < len(train_idx) else train_idx
        return cls(dataset, extractor, n, train_idx, held_idx, feats, real_idx, seed, holdout, is_training_data)

    def describe(self) -> dict[str, Any]:
        return {
            "name": str(self.dataset.name), "fingerprint": self.dataset.fingerprint, "count": len(self.dataset),
            "is_training_data": self.is_training_data,
            "split": {"holdout": self.holdout, "n_train": int(len(self.train_idx)),
                      "n_heldout": int(len(self.heldout_idx)), "seeded_by": split_key(self.dataset),
                      "reference_reals": f"{self.n} of the training part, chosen with seed {self.seed}"},
        }

    def sets(self, fake_features: np.ndarray) -> FeatureSets:
        f = self.features
        return FeatureSets(real=f[self.real_idx], fake=fake_features, train=f[self.train_idx],
                           heldout=f[self.heldout_idx] if len(self.heldout_idx) else None, seed=self.seed)

    def evaluate(self, fake_images: np.ndarray, metrics: tuple[str, ...] = ALL,
                 progress: bool = False) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
        """(labelled values, per-sample details, generated features) for generated uint8 images."""
        if len(fake_images) != self.n:
            raise GanvasError(f"expected {self.n} generated samples, got {len(fake_images)}")
        fake = self.extractor(fake_images, progress=progress, what="generated samples")
        values, details = self.evaluate_features(fake, metrics)
        return values, details, fake

    def evaluate_features(self, fake: np.ndarray, metrics: tuple[str, ...] = ALL
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(labelled values, per-sample details) for features of generated samples already extracted
        (gathered from the ranks of a distributed run, say)."""
        if len(fake) != self.n:
            raise GanvasError(f"expected features of {self.n} generated samples, got {len(fake)}")
        values, details = compute(self.sets(fake), metrics)
        return labelled(values, self.extractor.fd_name, self.extractor.kd_name), details


@torch.no_grad()
def generate(G: Any, n: int, seed: int = 0, truncation: float | None = None, batch: int = 256,
             labels: np.ndarray | None = None) -> np.ndarray:
    """Outputs of seeds seed … seed+n−1 in the domain's stored form (uint8 N×H×W×3 for images); `labels`
    (conditional models): the class index of each output."""
    def label(s: int) -> torch.Tensor | None:
        if labels is None or not getattr(G, "classes", None):
            return None
        return one_hot(torch.as_tensor(labels[s:s + batch]), len(G.classes))

    parts = [G.domain.to_array(G.sample(min(batch, n - s), seed=seed + s, truncation=truncation, label=label(s)))
             for s in range(0, n, batch)]
    return np.concatenate(parts)


def matched_labels(G: Any, ref: Reference) -> np.ndarray | None:
    """For a conditional model evaluated on labelled data with its class names: the class of each reference
    real, so generated samples follow the data's class balance (None otherwise: seed s makes class s mod K)."""
    classes = list(getattr(G, "classes", []) or [])
    y = ref.dataset.arrays.get("y")
    names = list(ref.dataset.label_names)
    if not classes or y is None or any(name not in classes for name in names):
        return None
    return np.asarray([classes.index(names[int(v)]) for v in y[ref.real_idx]], dtype=np.int64)


def _as_generator(G: Any) -> Any:
    if isinstance(G, str | Path):
        from ganvas.api import load

        return load(G)
    return G


def training_dataset(G: Any) -> ArrayDataset:
    """The data a checkpoint was trained on, at the resolution it generates."""
    cfg, spec = G.meta["config"], G.meta["model"]["spec"]
    return load_dataset(cfg["data"], int(spec["shape"][-1]), fit=cfg.get("fit", "crop"),
                        exclude=cfg.get("exclude") or None)


@dataclass
class Evaluation:
    """A finished evaluation: the metrics.json content and what the report shows."""

    metrics: dict[str, Any]
    details: dict[str, Any]
    reference: Reference
    fake_images: np.ndarray
    fake_features: np.ndarray
    generator: Any = None       # the loaded model evaluated: sections that ask it more (D's maps, directions) use it


def evaluate_run(G: Any, data: str | ArrayDataset | None = None, n: int | None = None, features: str = "auto",
                 seed: int = 0, truncation: float | None = None, metrics: tuple[str, ...] = ALL,
                 progress: bool | None = None, extractor_options: dict | None = None) -> Evaluation:
    """Evaluate a run folder, checkpoint or loaded `ganvas.api.Generator` against its data (or `data`)."""
    G = _as_generator(G)
    trained_on = G.meta.get("dataset", {}).get("fingerprint")
    if data is None:
        dataset = training_dataset(G)
    elif isinstance(data, ArrayDataset):
        dataset = data
    else:
        dataset = load_dataset(data, int(G.meta["model"]["spec"]["shape"][-1]),
                               fit=G.meta["config"].get("fit", "crop"))
    same = dataset.fingerprint == trained_on
    holdout = float(G.meta["config"].get("holdout", 0.0)) if same else 0.0
    ref = Reference.build(dataset, features, n, holdout, seed, is_training_data=same, progress=progress,
                          extractor_options=extractor_options)
    labels = matched_labels(G, ref)
    fake_images = generate(G, ref.n, seed, truncation, labels=labels)
    values, details, fake = ref.evaluate(fake_images, metrics, progress=bool(progress))
    meta = G.meta
    result = {
        "format": FORMAT, "format_version": 1,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generator": {"checkpoint": str(getattr(G, "path", "")), "model": meta["model"]["name"],
                      "step": meta.get("progress", {}).get("step"), "kimg": meta.get("progress", {}).get("kimg"),
                      "seeds": [seed, seed + ref.n - 1], "truncation": truncation},
        "data": ref.describe(),
        "extractor": ref.extractor.identity(),
        "n": ref.n,
        "metrics": values,
    }
    if labels is not None:
        result["generator"]["classes"] = "those of the reference reals, one generated sample per real"
        if G.domain.name == "image":
            from ganvas.eval.control import class_grid, control_report

            result["control"] = control_report(G, dataset, seed=seed, progress=progress)
            details["class_grid"] = G.domain.to_array(class_grid(G, 8, seed))
    warnings = []
    if not same:
        warnings.append(f"'{dataset.name}' is not the data this model was trained on "
                        f"({meta.get('dataset', {}).get('name')}): memorization figures are against it")
    if getattr(G, "classes", None) and labels is None:
        warnings.append(f"the model's classes ({', '.join(G.classes)}) are not those of '{dataset.name}' "
                        f"({', '.join(dataset.label_names) or 'no labels'}): samples cycle through its classes "
                        "and control is not measured")
    if warnings:
        result["warnings"] = warnings
    return Evaluation(result, details, ref, fake_images, fake, G)


def evaluate_generator(G: Any, dataset: str | ArrayDataset | None = None, n: int | None = None,
                       features: str = "auto", **kwargs: Any) -> dict[str, Any]:
    """Every metric of generator `G` (a ganvas.api.Generator, run or checkpoint folder) as a dict.

    The entry point for other code, e.g. benchmarks: ``evaluate_generator(G, "emoji", 1000, "domain")``.
    Keys are those of metrics.json (``metrics`` holds FD_domain, KD_domain_mean, precision, …).
    """
    return evaluate_run(G, dataset, n, features, **kwargs).metrics


def evaluate_features(real: np.ndarray, fake: np.ndarray, train: np.ndarray | None = None,
                      names: dict[str, str] | None = None, seed: int = 0) -> dict[str, Any]:
    """The metrics on precomputed features, with exactly `FEATURES_JSON_KEYS` (``train`` defaults to ``real``)."""
    sets = FeatureSets(real, fake, train, seed=seed, names=dict(names or {}))
    values, _ = compute(sets, ("fd", "kid", "prdc", "authenticity", "memorization"))
    return {k: values[k] for k in FEATURES_JSON_KEYS}
