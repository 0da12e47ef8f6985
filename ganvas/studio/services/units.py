"""Units of a generator in the studio: its layers with units, and one layer dissected (each concept's top
units), computed between requests and cached in the run folder (ganvas.explore.dissect)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganvas.explore import dissect as DS
from ganvas.explore import units as U
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.state import StudioState

MAX_SAMPLES = 1024          # seeds a client may ask to score units on (the default is 256)


@dataclass(frozen=True)
class UnitsRequest:
    layer: str | None = None                # G's layer; None = the default middle one
    samples: int = DS.DEFAULT_SAMPLES       # seeds scored
    seed: int = 0                           # first seed
    top: int = DS.TOP                       # units listed per concept
    classes: bool = True                    # score against the data's classes (the domain classifier) too


class UnitService:
    def __init__(self, state: StudioState, catalogue: Catalogue) -> None:
        self.state = state
        self.catalogue = catalogue

    def dissect(self, model: str, req: UnitsRequest) -> dict[str, Any]:
        """The model's layers with units and the dissection of one: each concept's top units and scores."""
        item = self.catalogue.generator(model)
        G = item.model
        with self.state.compute:
            layers = U.layers(G)
            default = U.default_layer(G)
            U.layer_info(G, req.layer)
        with item.computing:                            # one computation per model; other requests interleave
            d = DS.get(G, req.layer, req.samples, req.seed, classes=req.classes, lock=lambda: self.state.compute)
        return {"layers": [i.to_dict() for i in layers], "default_layer": default, "dissection": d.to_json(req.top)}
