"""Class conditioning, one mechanism for every model family: labels in G's code, a projection in D.

A conditional model's code is ``[z | c]``: the noise z as the unconditional model draws it, then
c, the class weights (K numbers; a one-hot row asks for one class, ``0.5, 0.5`` for a blend of two).
Because the class travels inside the code, everything built on the generator contract (seeds,
truncation, interpolation, breeding, GANSpace, projection, the studio) works unchanged: interpolating
two codes of different classes blends their classes, and a seed keeps its z whatever class it is
asked for.

- G: generators with BatchNorm (dcgan, fastgan) make every BatchNorm a `ClassNorm`, whose scale and
  shift follow c (conditional batch normalisation); others turn c into a learned embedding
  (`LabelEmbedding`, c @ E: a blend of class embeddings) fed where their latent goes (every bar's code
  for musegan, the mapping network for stylegan, as StyleGAN2-ADA does).
- D: `Projection` adds ⟨E_D c, φ(x)⟩ to D's logit, φ(x) being the features its last linear layer
  reads (Miyato and Koyama 2018, "cGANs with projection discriminator"): D judges whether x is a
  real member of class c, not only whether it is real.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LabelEmbedding(nn.Module):
    """Class weights N×K → embeddings N×E: a one-hot row picks a learned row, a blend mixes them."""

    def __init__(self,
                 num_classes: int,      # K: the classes of the training data
                 dim: int,              # E: length of each class's embedding
                 normalize: bool = False,  # scale embeddings to unit second moment (StyleGAN's mapping input)
                 ) -> None:
        super().__init__()
        self.num_classes, self.dim, self.normalize = num_classes, dim, normalize
        self.weight = nn.Parameter(torch.randn(num_classes, dim))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        e = c.to(self.weight.dtype) @ self.weight
        if self.normalize:
            e = e * (e.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        return e


class Projection(nn.Module):
    """⟨E_D c, φ⟩ for features φ (N×F, or N×F×H×W maps, averaged over space first, as Miyato and Koyama pool
    them) and class weights c N×K: the projection discriminator's class term.

    Pooled, one weight per channel and class: a class term on every position of D's last maps lets D
    learn a template per class within minutes and G collapse onto it (one output per class, whatever z:
    measured on emoji). Initial weights of unit variance over the features: D judges the class from the
    start (with weights of 0.02 a ten-minute run learnt the classes too weakly: control 23% on emoji).
    """

    def __init__(self,
                 num_classes: int,      # K: the classes of the training data
                 features: int,         # F: channels of the features D's last layer reads
                 ) -> None:
        super().__init__()
        self.embed = nn.Parameter(torch.randn(num_classes, features) / math.sqrt(features))
        self.class_scores: torch.Tensor | None = None   # N×K scores of the last forward (see `forward`)

    def forward(self, features: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The class term for class weights `c`. The scores of every class (⟨E_D k, φ⟩ for each k) are kept in
        `class_scores`: the projection is a K-way classifier's last layer, which an auxiliary classification
        loss (config `class_loss`, and the creative adversarial network's style head) trains and reads."""
        if features.dim() > 2:
            features = features.mean(dim=tuple(range(2, features.dim())))
        scores = features @ self.embed.to(features.dtype).t()
        self.class_scores = scores
        if c is None:               # a style head (config `can`): D classifies, its verdict stays unconditional
            return scores.new_zeros(scores.shape[0])
        return (c.to(scores.dtype) * scores).sum(dim=1)


def split_code(latent: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, c) of flat codes ``[z | c]`` N×(Z+K)."""
    return latent[:, : latent.shape[1] - num_classes], latent[:, latent.shape[1] - num_classes:]


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Integer labels N → class weights N×K (float32)."""
    return torch.nn.functional.one_hot(labels.long(), num_classes).float()


def class_weights(classes: tuple[str, ...] | list[str], label: str | dict[str, float]) -> torch.Tensor:
    """Class weights 1×K for a request: a class name (``"Flags"``), or a blend of classes that sums to 1,
    as text (``"Flags:0.5,Smileys & Emotion:0.5"``) or a mapping. Names match exactly, else ignoring case.

    A blend mixes the classes' embeddings (in G and nowhere else): halfway between two classes.
    """
    from ganvas.errors import GanvasError

    names = list(classes)
    listed = ", ".join(names)
    if isinstance(label, str):
        parts = [p for p in label.split(",")] if ":" in label else [label]
        pairs: list[tuple[str, str | float]] = []
        for part in parts:
            name, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
            pairs.append((name.strip(), weight.strip()))
    elif isinstance(label, dict):
        pairs = list(label.items())
    else:
        raise GanvasError(f"a class must be a name or a blend such as 'A:0.5,B:0.5', got {label!r}; classes: {listed}")
    c = torch.zeros(1, len(names))
    lower = {n.lower(): i for i, n in enumerate(names)}
    for name, weight in pairs:
        i = names.index(name) if name in names else lower.get(str(name).lower())
        if i is None:
            raise GanvasError(f"unknown class {name!r}; this model's classes are: {listed}")
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise GanvasError(f"class weight of {name!r} must be a number, got {weight!r}") from None
        if not math.isfinite(w) or w < 0:
            raise GanvasError(f"class weight of {name!r} must be a number >= 0, got {weight!r}")
        c[0, i] += w
    total = float(c.sum())
    if abs(total - 1) > 1e-3:
        raise GanvasError(f"class weights must sum to 1 (a blend such as 'A:0.5,B:0.5'), got {total:g}")
    return c / total


class ClassNorm(nn.Module):
    """A BatchNorm whose scale and shift also follow the class: y = BN(x)·(1 + c·Γ) + c·B (conditional batch
    normalisation, as in Miyato and Koyama's and BigGAN's generators).

    Why not only a class embedding joined to z: in a G with BatchNorm, the batch statistics of the first
    layer are then dominated by the differences between classes, z's share of each channel's variance
    shrinks to almost nothing after normalising, and G makes one picture per class whatever z is
    (measured on emoji: output std over z 0.006). Here BatchNorm sees only what z made, and the class
    moves it afterwards. Γ and B start at zero: a fresh model is the unconditional one.
    """

    def __init__(self,
                 norm: nn.Module,       # the BatchNorm it conditions (kept, with its own affine and statistics)
                 num_classes: int,      # K: the classes
                 ) -> None:
        super().__init__()
        self.norm = norm
        self.gain = nn.Parameter(torch.zeros(num_classes, norm.num_features))
        self.shift = nn.Parameter(torch.zeros(num_classes, norm.num_features))
        self.c: torch.Tensor | None = None      # the class weights of the batch, set by `set_class`

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x)
        if self.c is None:
            raise RuntimeError("ClassNorm called without a class: set_class(G, c) first")
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        c = self.c.to(x.dtype)
        return y * (1 + (c @ self.gain.to(x.dtype)).view(shape)) + (c @ self.shift.to(x.dtype)).view(shape)


def condition_norms(net: nn.Module, num_classes: int) -> None:
    """Every BatchNorm of `net` made a `ClassNorm` (in place)."""
    for name, child in list(net.named_children()):
        if isinstance(child, nn.BatchNorm1d | nn.BatchNorm2d):
            setattr(net, name, ClassNorm(child, num_classes))
        else:
            condition_norms(child, num_classes)


def set_class(net: nn.Module, c: torch.Tensor) -> None:
    """Hand the class weights of a batch to every `ClassNorm` of `net` before it runs."""
    for m in net.modules():
        if isinstance(m, ClassNorm):
            m.c = c
