"""A recipe: everything that makes one output, small enough to keep, send and write down.

    {"seed": 42, "truncation": 0.7, "edits": [{"index": 0, "amount": 1.5, "layers": "0-3"}]}
    {"latent": [...], "space": "w", "truncation": 1.0, "edits": []}
    {"seed": 7, "units": [{"layer": "net.5", "units": [3, 17], "mode": "off"}]}

The output is drawn as base code → truncation → edits → generator (see ganvas.explore.latent), with
the recipe's unit edits (ganvas.explore.units: units of a layer switched off or up) applied inside the
generator while it draws, so
the studio, the REST API, ``ganvas explore render`` and a downloaded ``provenance.json`` all make
the same output from the same recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import ganspace as D
from ganvas.explore import latent as L
from ganvas.explore import units as U

if TYPE_CHECKING:
    from ganvas.api import Generator

DEFAULT_COMPONENTS = 16


@dataclass
class DirectionSet:
    """Which directions the edits of a recipe refer to (they are recomputed identically from this)."""

    method: str | None = None               # w | z | activations; None = the model's default
    components: int = DEFAULT_COMPONENTS    # how many were computed
    samples: int | None = None              # codes sampled; None = the method's default
    seed: int = 0                           # seed of the sampled codes
    layer: str | None = None                # G's layer for `activations`; None = the model's default

    def get(self, G: Generator, cache: bool = True, lock: Any = None) -> D.Directions:
        return D.get(G, self.method, self.components, self.samples, self.seed, self.layer, cache, lock)

    def to_dict(self, d: D.Directions | None = None) -> dict[str, Any]:
        if d is not None:
            return {"method": d.method, "components": len(d), "samples": d.n_samples, "seed": d.seed,
                    "layer": d.layer}
        return {"method": self.method, "components": self.components, "samples": self.samples,
                "seed": self.seed, "layer": self.layer}


@dataclass
class Recipe:
    seed: int | None = None                 # the output of this seed (of class `label`) …
    latent: Any = None                      # … or of this base code (nested lists)
    space: str | None = None                # the space of `latent`: z or w (default: the model's edit space)
    truncation: float | None = None         # ψ in [0, 1]; None = 1 (none)
    truncation_cutoff: int | None = None    # style models: truncate the first N style layers only
    edits: list[D.Edit] = field(default_factory=list)   # moves along directions, in σ
    directions: DirectionSet = field(default_factory=DirectionSet)   # the directions edits refer to
    label: str | None = None                # conditional models, with a seed: a class name or blend "A:0.5,B:0.5"
    units: list[U.UnitEdit] = field(default_factory=list)   # units of G's layers switched off or up while drawing

    @classmethod
    def from_dict(cls, d: dict[str, Any], G: Generator | None = None) -> Recipe:
        """A recipe from JSON-like data; one-line errors for anything missing, extra or out of range."""
        if not isinstance(d, dict):
            raise GanvasError("a recipe must be an object with 'seed' or 'latent'")
        known = {"seed", "label", "latent", "space", "truncation", "truncation_cutoff", "edits", "directions",
                 "units"}
        extra = sorted(set(d) - known)
        if extra:
            raise GanvasError(f"unknown recipe field(s) {', '.join(extra)}; known: {', '.join(sorted(known))}")
        if (d.get("seed") is None) == (d.get("latent") is None):
            raise GanvasError("a recipe needs exactly one of 'seed' or 'latent'")
        if d.get("label") is not None and d.get("seed") is None:
            raise GanvasError("a recipe's 'label' (class) goes with a 'seed': a latent already holds its class")
        try:
            return cls._parse(d, G)
        except (TypeError, ValueError) as exc:
            raise GanvasError(f"recipe has a value of the wrong type: {exc}") from None

    @classmethod
    def _parse(cls, d: dict[str, Any], G: Generator | None) -> Recipe:
        seed = L.check_seed(d["seed"]) if d.get("seed") is not None else None
        edits = []
        for e in d.get("edits") or []:
            if not isinstance(e, dict) or "index" not in e or "amount" not in e:
                raise GanvasError("each edit needs 'index' (a direction) and 'amount' (in σ)")
            edits.append(D.Edit(int(e["index"]), float(e["amount"]), _layers(e.get("layers"), G)))
        ds = d.get("directions") or {}
        directions = DirectionSet(ds.get("method"), int(ds.get("components") or DEFAULT_COMPONENTS),
                                  ds.get("samples"), int(ds.get("seed") or 0), ds.get("layer"))
        psi = d.get("truncation")
        cutoff = d.get("truncation_cutoff")
        label = d.get("label")
        if label is not None and not isinstance(label, str):
            raise GanvasError(f"a recipe's 'label' must be a class name or a blend 'A:0.5,B:0.5', got {label!r}")
        return cls(seed, d.get("latent"), d.get("space"), None if psi is None else float(psi),
                   None if cutoff is None else int(cutoff), edits, directions, label, U.parse_edits(d.get("units"), G))

    def to_dict(self, G: Generator | None = None, directions: D.Directions | None = None,
                latent: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.seed is not None:
            out["seed"] = self.seed
            if self.label is not None:
                out["label"] = self.label
        elif latent:
            out["latent"] = self.latent
        if G is not None or self.space:
            out["space"] = self.space or L.edit_space(G)
        out["truncation"] = 1.0 if self.truncation is None else self.truncation
        if self.truncation_cutoff is not None:
            out["truncation_cutoff"] = self.truncation_cutoff
        out["edits"] = [{"index": e.index, "amount": e.amount, **({"layers": e.layers} if e.layers else {})}
                        for e in self.edits]
        if self.edits:
            out["directions"] = self.directions.to_dict(directions)
        if self.units:
            out["units"] = [u.to_dict() for u in self.units]
        return out

    def base(self, G: Generator) -> torch.Tensor:
        """The base code [1, …] in the edit space."""
        if self.seed is not None:
            return L.seed_codes(G, [self.seed], label=self.label)
        space = self.space or L.edit_space(G)
        code = L.from_values(G, self.latent, space)
        return L.to_space(G, code, space, L.edit_space(G))

    def final(self, G: Generator, base: torch.Tensor | None = None,
              directions: D.Directions | None = None) -> torch.Tensor:
        """The code that is drawn: the base code truncated, then moved by the edits."""
        base = self.base(G) if base is None else base
        code = L.truncate(G, base, self.truncation, self.truncation_cutoff)
        if self.edits:
            directions = directions or self.directions.get(G)
            code = directions.apply(code, self.edits)
        return code

    def draw(self, G: Generator, finals: torch.Tensor) -> torch.Tensor:
        """Outputs of final codes (`final`) with this recipe's unit edits applied while G draws them."""
        return U.draw(G, finals, self.units)


def _layers(value: Any, G: Generator | None) -> list[int] | None:
    """Style layers of an edit: None/'all' = all, '0-3', '4-', [0, 1, 2] (checked against G)."""
    if value is None or value == "all":
        return None
    from ganvas.style import parse_layers

    if G is None or not L.is_style(G):
        raise GanvasError("edit 'layers' need a style-based model (its w codes have style layers)")
    if isinstance(value, str | list | tuple):
        return parse_layers(value if isinstance(value, str) else [int(v) for v in value], L.style_layers(G))
    raise GanvasError(f"edit 'layers' must be a range such as '0-3' or a list of layer numbers, got {value!r}")
