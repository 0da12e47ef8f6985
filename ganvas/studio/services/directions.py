"""GANSpace directions in the studio: kept per model (a few sets, least recently used dropped), computed
between requests, refused before they would fill memory; their table and their picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import ganspace, naming
from ganvas.explore.recipe import DirectionSet
from ganvas.studio import outputs as O
from ganvas.studio.models import Loaded
from ganvas.studio.results import DirectionsInfo, File
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.state import StudioState

# Direction sets kept per checkpoint, in memory and as files in RUN/explore/step-N/ (least recently used
# dropped): any client may ask for other methods, sizes, sample counts and seeds, and each is a file.
DIRECTION_SETS = 8
# Activation directions hold samples × layer width numbers (float64) for their PCA; a client choosing a wide
# layer of a big model could ask for tens of gigabytes. 10⁸ numbers (800 MB) allow the default layers.
MAX_ACTIVATION_VALUES = 100_000_000


@dataclass(frozen=True)
class GridRequest:
    """A picture of directions: `count` of them, each a row of `steps` moves of one seed from −span·σ to +span·σ."""

    directions: DirectionSet
    count: int = 8
    steps: int = 7
    span: float = 2.0
    seed: int = 0
    truncation: float | None = None
    layers: str | None = None           # style layers the moves apply to (default all)


class DirectionService:
    def __init__(self, state: StudioState, catalogue: Catalogue) -> None:
        self.state = state
        self.catalogue = catalogue

    def get(self, item: Loaded, ds: DirectionSet) -> ganspace.Directions:
        """A direction set of the model: from memory, the run folder's cache, or computed (and cached)."""
        key = (ds.method, ds.components, ds.samples, ds.seed, ds.layer)
        with item.lock:
            found = item.directions.get(key)
            if found is not None:
                item.directions.move_to_end(key)
        if found is None:
            with item.computing:                            # one computation per model; others wait for it
                with item.lock:
                    found = item.directions.get(key)
                if found is None:
                    self._check_size(item, ds)
                    found = ganspace.get(item.model, ds.method, ds.components, ds.samples, ds.seed, ds.layer,
                                         lock=lambda: self.state.compute,    # batches interleave with requests
                                         keep=DIRECTION_SETS)
                    with item.lock:
                        item.directions[key] = found
                        while len(item.directions) > DIRECTION_SETS:
                            item.directions.popitem(last=False)
        return found

    def _check_size(self, item: Loaded, ds: DirectionSet) -> None:
        """Refuse activation directions whose samples would not fit in memory (one sample shows the width)."""
        G = item.model
        method = ds.method or ganspace.default_method(G)
        if method != "activations":
            return
        layer = ds.layer or ganspace.default_layer(G)
        samples = ds.samples or ganspace.default_samples(method)
        with self.state.compute:
            code = torch.zeros(1, *G.model.latent_shape, device=G.device)
            if G.model.edit_space == "w":                   # GANSpace reads w of one layer
                code = G.model.to_edit_space(code)[:, 0]
            width = ganspace._activations(G, code, layer, 1).shape[1]
        if samples * width > MAX_ACTIVATION_VALUES:
            raise GanvasError(f"layer '{layer}' has {width} values per sample: {samples} samples would hold "
                              f"{samples * width:,} numbers, more than the studio's {MAX_ACTIVATION_VALUES:,}; "
                              f"ask for at most {MAX_ACTIVATION_VALUES // width} samples or an earlier layer")

    def info(self, model: str, ds: DirectionSet) -> DirectionsInfo:
        """The set used and each direction's σ and share of variance (computed once, cached), with each one's name
        and largest effects when they were measured before (else `names_pending`: ask `names`)."""
        item = self.catalogue.generator(model)
        d = self.get(item, ds)
        rows, note, pending = d.describe(), "", False
        try:
            named = self._names(item, ds, d, measure=False)
        except GanvasError as exc:          # a domain ganvas cannot measure: the sliders keep their numbers
            named, note = None, f"directions not named: {exc}"
        if named is not None:
            note = named.note
            for row, n in zip(rows, naming.describe(named), strict=True):
                row.update(name=n["name"], effects=n["effects"])
        else:
            pending = not note
        return DirectionsInfo(ds.to_dict(d), d.space, d.layer,
                              item.model.model.code_shape("w")[0] if d.space == "w" else None, rows, note, pending)

    def names(self, model: str, ds: DirectionSet) -> dict[str, Any]:
        """Each direction's name and largest effects, measured now if never before (seconds; between requests)."""
        item = self.catalogue.generator(model)
        d = self.get(item, ds)
        named = self._names(item, ds, d, measure=True)
        assert named is not None
        return {"set": ds.to_dict(d), "seeds": named.seeds, "amount": named.amount, "names_note": named.note,
                "directions": naming.describe(named)}

    def _names(self, item: Loaded, ds: DirectionSet, d: ganspace.Directions, measure: bool) -> naming.Naming | None:
        """The names of a direction set (ganvas.explore.naming), kept with the model and cached in the run folder;
        None when not measured yet and `measure` is False.

        Class probabilities count only when the data's domain classifier was trained before: a request does
        not wait a minute for its training (`ganvas explore directions RUN --describe` trains it).
        """
        key = (ds.method, ds.components, ds.samples, ds.seed, ds.layer)
        with item.lock:
            found = item.names.get(key)
            classes = item.names.get("classes")
        if found is not None:
            return found
        if classes is None:
            classes = naming.classes_for(item.model, train=False)
            with item.lock:
                item.names["classes"] = classes
        if not measure:
            found = naming.cached(item.model, d, classes=classes[0])
            if found is not None:
                found.note = found.note or classes[1]
        else:
            with item.computing:
                with item.lock:
                    found = item.names.get(key)
                if found is None:
                    found = naming.get(item.model, d, classes=classes[0], note=classes[1],
                                       lock=lambda: self.state.compute)
        if found is not None:
            with item.lock:
                item.names[key] = found
                while len(item.names) > DIRECTION_SETS + 1:         # + the classifier, kept first
                    oldest = next(k for k in item.names if k != "classes")
                    item.names.pop(oldest)
        return found

    def grid(self, model: str, req: GridRequest) -> File:
        from ganvas.explore.recipe import _layers

        item = self.catalogue.generator(model)
        d = self.get(item, req.directions)
        idx = _layers(req.layers, item.model)
        with self.state.compute:
            pic = ganspace.picture(item.model, d, req.count, req.steps, req.span, req.seed, req.truncation, idx)
        return File(O.png(pic), O.MEDIA["png"])
