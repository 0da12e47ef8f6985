"""How far each output dares to go, and whether it is still any good: the creativity report's measures.

ganvas's other figures say how close a model's outputs are to its data. After the Creative Adversarial
Network (Elgammal et al. 2017), these judge each generated sample on three axes:

- **novelty**: its distance to the nearest training item, in the evaluation's features, divided by that
  item's own distance to its nearest other training item (the gap authenticity uses, ganvas.eval.novelty).
  0 is a copy; about 1 is as far from the data as a new real item of the same data typically is (held-out
  reals have a median near 1); well above 1 is farther out than real items go: new, or broken.
- **value** (realism): D's score (the run's own critic, a logit, comparable within a run only), its rank among
  D's scores of the reference reals (the share of reals D scores lower, comparable between runs), and
  membership of the real manifold against the evaluation's reference reals (precision's k = 3 balls and
  density's k = 5 count, ganvas.eval.manifold): a judge every run shares.
- **style ambiguity**: the entropy of the domain classifier's posterior over the data's labels, divided by
  log K: 0 when it is sure which style (label) an output is, 1 when it cannot tell. CAN rewards its generator
  for exactly this while D must still accept the output; the classifier here is ganvas's own `domain`
  extractor, not the run's D, so a CAN run cannot grade its own homework. Without labels (the `random`
  extractor) there is no classifier and no ambiguity.

D is asked in eval mode (BatchNorm's running statistics): in training mode BatchNorm normalises by the batch,
so a sample's score would depend on which samples share its batch (and StyleGAN's minibatch-standard-deviation
layer looks across the batch in any mode: such a D is asked one sample at a time). On a 20-kimg emoji DCGAN, eval-mode
scores separate reals (median logit ≈ 3) from outputs (≈ −2.5) as training-mode ones do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.eval.checks import as_features, at_least
from ganvas.eval.copying import rank_average
from ganvas.eval.manifold import K_DC, K_PR, membership, real_radii
from ganvas.eval.neighbours import kth_neighbour_distance
from ganvas.eval.novelty import nearest_with_gap

GAP_FLOOR = 0.1     # a training item's gap is raised to this share of the median gap (duplicates have gap 0)
# the measures, in the order tables show them: attribute, heading, what it means, higher is …
MEASURES = {
    "novelty": ("novelty", "d(nearest training item) ÷ that item's own nearest-neighbour distance: 0 copy, "
                           "≈1 like a new real item, ≫1 farther out than real items go"),
    "d_logit": ("D's score", "the run's own discriminator, a logit (comparable within one run only)"),
    "d_rank": ("D's rank", "share of the reference reals that D scores lower (0.5: as real as a typical real)"),
    "density": ("density", f"real k={K_DC} neighbourhoods containing it, ÷ {K_DC} (0: outside every one)"),
    "ambiguity": ("style ambiguity", "entropy of the domain classifier's posterior ÷ log K: 0 one label for "
                                     "sure, 1 cannot tell"),
    "d_ambiguity": ("D's style ambiguity", "the same of the run's own D's class posterior (CAN's style head: what "
                                           "CAN's generator is trained to raise)"),
}


def style_ambiguity(posterior: Any, what: str = "posterior") -> np.ndarray:
    """Entropy of each row of class probabilities (N×K, K ≥ 2) divided by log K, in [0, 1]."""
    p = as_features(posterior, what)
    if p.shape[1] < 2:
        raise GanvasError(f"{what}: style ambiguity needs at least 2 classes, got {p.shape[1]}")
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise GanvasError(f"{what}: each row must be probabilities (non-negative, summing to 1)")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return np.clip(h / np.log(p.shape[1]), 0.0, 1.0)


def posterior(extractor: Any, features: np.ndarray) -> np.ndarray | None:
    """The domain classifier's class probabilities for its own features (its head is linear on them), or None
    when the extractor has no classifier (random, inception)."""
    head = getattr(getattr(extractor, "net", None), "head", None)
    if extractor.name != "domain" or head is None:
        return None
    w = head.weight.detach().double().cpu().numpy()
    b = head.bias.detach().double().cpu().numpy()
    logits = features @ w.T + b
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def d_logits(G: Any, images: np.ndarray, batch: int = 64) -> np.ndarray | None:
    """D's score of each uint8 image (None when the model has no trained D); see `d_outputs`."""
    return d_outputs(G, images, batch)[0]


@torch.no_grad()
def d_outputs(G: Any, images: np.ndarray, batch: int = 64) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(D's score of each uint8 image, D's own class posterior N×K from its projection or style head, or None
    where D has none), in eval mode; (None, None) when the model has no trained D.

    A sample's score must not depend on its batch: the first two images are scored alone and together, and
    only a D that gives the same answers (BatchNorm on running statistics) is then asked in batches; one that
    looks across its batch (StyleGAN's minibatch standard deviation) is asked one image at a time. A
    class-conditional D is asked with equal weight on every class (its average judgement); a D that returns
    several outputs is read by its first; a patch D by its mean."""
    model = getattr(G, "model", None)
    D = getattr(model, "D", None)
    if D is None or not len(images):
        return (None, None) if D is None else (np.zeros(0), None)
    was = D.training
    D.eval()
    device = next(D.parameters()).device
    k = int(getattr(model, "num_classes", 0) or 0)
    heads: list[np.ndarray] = []

    def ask(x: np.ndarray, keep: bool = False) -> np.ndarray:
        t = G.domain.to_tensor(x, device)
        y = D(t, torch.full((len(x), k), 1.0 / k, device=device)) if k else D(t)
        if isinstance(y, tuple | list):
            y = y[0]
        scores = model.class_scores() if keep and hasattr(model, "class_scores") else None
        if scores is not None:
            heads.append(torch.softmax(scores.double(), dim=1).cpu().numpy())
        return y.float().reshape(len(x), -1).mean(dim=1).cpu().double().numpy()

    try:
        step = 1
        if len(images) >= 2:
            alone = np.concatenate([ask(images[:1]), ask(images[1:2])])
            step = batch if np.allclose(ask(images[:2]), alone, rtol=1e-4, atol=1e-5) else 1
        logits = np.concatenate([ask(images[i:i + step], keep=True) for i in range(0, len(images), step)])
    finally:
        D.train(was)
    whole = heads and sum(len(h) for h in heads) == len(images)
    return logits, (np.concatenate(heads) if whole else None)


@dataclass
class CreativityScores:
    """Per-sample measures of one set of outputs (arrays of equal length; None where not measurable)."""

    novelty: np.ndarray                     # d(nearest training item) / its gap
    nearest: np.ndarray                     # dataset index of the nearest training item
    distance: np.ndarray                    # the feature distance to it
    inside: np.ndarray                      # bool: inside the real manifold (precision's k=3 balls)
    density: np.ndarray                     # real k=5 neighbourhoods containing it / 5
    d_logit: np.ndarray | None = None       # D's score
    d_rank: np.ndarray | None = None        # share of reference reals D scores lower
    ambiguity: np.ndarray | None = None     # normalised entropy of the domain classifier's posterior
    d_ambiguity: np.ndarray | None = None   # the same of D's own class posterior (CAN's style head), if any
    top_label: list[str] = field(default_factory=list)   # the classifier's most likely label, per sample

    def __len__(self) -> int:
        return len(self.novelty)

    def measure(self, name: str) -> np.ndarray | None:
        if name not in MEASURES:
            raise GanvasError(f"unknown creativity measure '{name}'; known: {', '.join(MEASURES)}")
        return getattr(self, name)

    def subset(self, idx: np.ndarray) -> CreativityScores:
        """The scores of samples `idx` only."""
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return CreativityScores(self.novelty[idx], self.nearest[idx], self.distance[idx], self.inside[idx],
                                self.density[idx], pick(self.d_logit), pick(self.d_rank), pick(self.ambiguity),
                                pick(self.d_ambiguity), [self.top_label[i] for i in idx] if self.top_label else [])

    def available(self) -> list[str]:
        return [m for m in MEASURES if self.measure(m) is not None]

    def row(self, i: int) -> dict[str, Any]:
        """Sample i's measures as JSON-ready numbers (what the studio records with a kept output)."""
        out: dict[str, Any] = {m: round(float(self.measure(m)[i]), 6) for m in self.available()}
        out["inside_real_manifold"] = bool(self.inside[i])
        out["nearest_training_item"] = int(self.nearest[i])
        if self.top_label:
            out["label"] = self.top_label[i]
        return out


class Scorer:
    """The real side of the measures, prepared once (training gaps, reals' radii, D's scores of reals)."""

    def __init__(self, reference: Any, generator: Any = None) -> None:
        ref = reference
        self.reference = ref                                    # ganvas.eval.evaluate.Reference
        self.generator = generator                              # the loaded model whose D values outputs
        self.extractor = ref.extractor
        self.train = ref.features[ref.train_idx]
        at_least(self.train, 2, "training features", "novelty (a training item's nearest other training item)")
        gap = kth_neighbour_distance(self.train, (1,))[1]        # as authenticity's gap
        self.gap = np.maximum(gap, GAP_FLOOR * float(np.median(gap)))
        self.real = ref.features[ref.real_idx]
        at_least(self.real, max(K_PR, K_DC) + 1, "reference real features", "manifold membership")
        self.radii = real_radii(self.real)
        reals = d_outputs(generator, ref.dataset.arrays["x"][ref.real_idx])[0] if generator is not None else None
        self.real_logits = None if reals is None else np.sort(reals)
        names = list(ref.extractor.source.get("labels") or []) or list(ref.dataset.label_names)
        self.labels = names

    @property
    def features_note(self) -> str:
        """Which features distances are measured in, for people (random features are named as such)."""
        ex = self.extractor
        if ex.name == "domain":
            return "the domain extractor's features (a classifier of the data's labels)"
        return (f"the '{ex.name}' extractor's features" +
                (" (an untrained network: the data has no labels, so there is no classifier and no "
                 "style ambiguity)" if ex.name == "random" else ""))

    def d_outputs(self, images: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """D's scores and own class posterior of uint8 images ((None, None) without a generator or a D)."""
        return (None, None) if self.generator is None else d_outputs(self.generator, images)

    def score_images(self, images: np.ndarray, what: str = "generated samples") -> CreativityScores:
        return self.score_features(self.extractor(images, what=what), *self.d_outputs(images), what=what)

    def score_features(self, features: np.ndarray, logits: np.ndarray | None = None,
                       d_posterior: np.ndarray | None = None, what: str = "generated features") -> CreativityScores:
        """The measures of samples from their features, D's scores and D's own class posterior (both optional)."""
        f = as_features(features, what)
        if f.shape[1] != self.train.shape[1]:
            raise GanvasError(f"{what}: {f.shape[1]} columns, but the training features have {self.train.shape[1]}"
                              " (they must come from the same extractor)")
        _, d, idx = nearest_with_gap(self.train, f, self.gap)
        inside, density = membership(self.real, f, radii=self.radii, what_fake=what)
        rank = None
        if logits is not None and self.real_logits is not None:
            rank = np.searchsorted(self.real_logits, logits, side="left") / len(self.real_logits)
        post = posterior(self.extractor, f)
        top = [self.labels[j] if j < len(self.labels) else str(j) for j in post.argmax(axis=1)] if post is not None \
            else []
        own = None if d_posterior is None or d_posterior.shape[1] < 2 else style_ambiguity(d_posterior, "D's posterior")
        return CreativityScores(d / self.gap[idx], self.reference.train_idx[idx], d, inside, density, logits, rank,
                                None if post is None else style_ambiguity(post, what), own, top)


def summary(scores: CreativityScores) -> dict[str, Any]:
    """Median and quartiles of every measure and of the raw feature distance to the nearest training item, the
    share inside the real manifold, and N."""
    out: dict[str, Any] = {"n": len(scores), "inside_real_manifold": float(np.mean(scores.inside))}
    for m in [*scores.available(), "distance"]:
        q1, med, q3 = np.percentile(getattr(scores, m), [25, 50, 75])
        out[m] = {"median": float(med), "q1": float(q1), "q3": float(q3)}
    return out


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting ½: the Mann–Whitney U over m·n."""
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = rank_average(np.concatenate([pos, neg]))
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def keep_predictors(kept: CreativityScores, reference: CreativityScores) -> list[dict[str, Any]]:
    """Each measure's AUC for telling kept outputs from the reference outputs (0.5: it says nothing about what a
    person keeps; near 1: they keep high ones; near 0: low ones), strongest first."""
    rows = []
    for m in kept.available():
        if reference.measure(m) is None:
            continue
        a = auc(kept.measure(m), reference.measure(m))
        rows.append({"measure": m, "auc": a, "n_kept": len(kept), "n_reference": len(reference)})
    rows.append({"measure": "inside", "auc": auc(kept.inside, reference.inside), "n_kept": len(kept),
                 "n_reference": len(reference)})
    rows.sort(key=lambda r: -abs(r["auc"] - 0.5) if not np.isnan(r["auc"]) else 0.0)
    return rows


def predictor_sentence(rows: list[dict[str, Any]]) -> str:
    """One plain sentence on what the keeps say (or that they say little)."""
    if not rows or np.isnan(rows[0]["auc"]):
        return "No keeps recorded."
    best = rows[0]
    name = MEASURES.get(best["measure"], ("being inside the real manifold",))[0]
    n = best["n_kept"]
    if abs(best["auc"] - 0.5) < 0.1:
        return (f"None of the measures tells the {n} kept outputs from the others (every AUC within 0.1 of 0.5): "
                "what this person keeps is not what they measure.")
    way = "higher" if best["auc"] > 0.5 else "lower"
    few = " With so few keeps this is a hint, not a finding." if n < 20 else ""
    return (f"{name[0].upper()}{name[1:]} predicts best what was kept: kept outputs score {way} than the "
            f"model's other outputs (AUC {best['auc']:.2f} over {n} keeps).{few}")
