"""Measured control: does a conditional model make the class it is asked for, and how well, class by class?

- *Control accuracy*: samples of each requested class, classified by the dataset's own domain
  classifier (`ganvas.eval.domain_net`, the network behind the FD_domain features); the share
  classified as the class asked for, averaged over classes. It is read beside the classifier's own
  accuracy on its held-out real images of the same classes, averaged the same way (per class, then
  over classes: a small class counts as much as a large one on both sides), the most one can expect
  of it: a ratio of 1 means the model's classes are as recognisable as real ones.
- *Per-class quality*: FD_domain and precision/recall between each class's samples and that class's
  real images (in the same domain features), so a class that comes out broken or copied shows.
- A class × sample grid (one row per class, the same seeds in every column).

Classes with few real images give noisy per-class figures; each row says how many it compared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.eval.domain_net import DomainRecipe, build_extractor, load_or_train, validation_split
from ganvas.eval.features import resize_for
from ganvas.eval.suite import FeatureSets, compute, labelled

MIN_PER_CLASS = 6               # density/coverage need at least this many samples on each side


@torch.inference_mode()
def classify(net: torch.nn.Module, images: np.ndarray, size: int) -> np.ndarray:
    """The domain classifier's predicted labels of uint8 N×H×W×3 images."""
    out = []
    for i in range(0, len(images), 256):
        x = torch.from_numpy(np.ascontiguousarray(images[i:i + 256])).permute(0, 3, 1, 2)
        out.append(net(resize_for(x, size)).argmax(1).numpy())
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


def class_samples(G: Any, name: str, n: int, seed: int) -> np.ndarray:
    """`n` outputs of class `name` (seeds seed … seed+n−1) as the domain stores them (uint8)."""
    return G.domain.to_array(torch.cat([G.sample(min(64, n - i), seed=seed + i, label=name)
                                        for i in range(0, n, 64)]))


def control_report(G: Any, dataset: Any, n_per_class: int = 100, seed: int = 0,
                   progress: bool | None = None) -> dict[str, Any]:
    """Control accuracy and per-class quality of conditional generator `G` on its image `dataset`."""
    if not G.classes:
        raise GanvasError("control accuracy needs a conditional model (trained with --conditional)")
    if n_per_class < MIN_PER_CLASS:
        raise GanvasError(f"control needs at least {MIN_PER_CLASS} samples per class, got {n_per_class}")
    net, meta, _ = load_or_train(dataset, progress=progress)
    extractor = build_extractor(dataset, progress=progress)
    known = list(meta["labels"])
    real_names = list(dataset.label_names)
    real_y = np.asarray(dataset.arrays["y"])
    real_feats_all = None
    rows, unchecked = [], []
    held = validation_split(len(real_y), DomainRecipe(**meta["recipe"]))[0]
    held_pred = classify(net, dataset.arrays["x"][held], int(meta["input_size"]))
    for name in G.classes:
        if name not in known or name not in real_names:      # e.g. 'other', made by merging rare classes
            unchecked.append(name)
            continue
        fake = class_samples(G, name, n_per_class, seed)
        acc = float((classify(net, fake, int(meta["input_size"])) == known.index(name)).mean())
        row: dict[str, Any] = {"class": name, "control_accuracy": acc, "n_generated": len(fake)}
        idx = np.flatnonzero(real_y == real_names.index(name))
        row["n_real"] = int(len(idx))
        mine = real_y[held] == real_names.index(name)
        row["n_heldout_real"] = int(mine.sum())
        if mine.any():
            row["real_accuracy"] = float((held_pred[mine] == known.index(name)).mean())
        if len(idx) >= MIN_PER_CLASS:
            if real_feats_all is None:
                real_feats_all = extractor(dataset.arrays["x"], progress=bool(progress), what="real images")
            real = real_feats_all[idx]
            sets = FeatureSets(real, extractor(fake, what=f"samples of {name}"), real, seed=seed)
            values, _ = compute(sets, ("fd", "prdc"))
            values = labelled(values, extractor.fd_name, extractor.kd_name)
            row.update({k: float(values[k]) for k in (extractor.fd_name, "precision", "recall") if k in values})
        rows.append(row)
    if not rows:
        raise GanvasError(f"none of the model's classes ({', '.join(G.classes)}) is a label of "
                          f"'{dataset.name}' ({', '.join(real_names)}): evaluate against the data it was trained on")
    compared = [r for r in rows if "real_accuracy" in r]
    mean_acc = float(np.mean([r["control_accuracy"] for r in compared]))
    held_out = float(np.mean([r["real_accuracy"] for r in compared]))
    return {
        "control_accuracy": mean_acc,
        "classifier_heldout_accuracy": held_out,
        "classifier_heldout_accuracy_overall": float(meta["training"]["val_accuracy"]),
        "control_ratio": mean_acc / held_out if held_out > 0 else float("nan"),
        "chance": 1.0 / len(known),
        "n_per_class": n_per_class,
        "classes": rows,
        "unchecked_classes": unchecked,
        "classifier": {"labels": known, "weights_file_sha256": meta["weights_file_sha256"]},
    }


def class_grid(G: Any, n: int = 8, seed: int = 0) -> torch.Tensor:
    """Outputs for a class × sample grid: a row per class (`G.classes`), seeds seed … seed+n−1 in each."""
    return torch.cat([G.sample(n, seed=seed, label=name) for name in G.classes])
