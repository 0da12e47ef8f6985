"""The models a studio serves: listed from their checkpoints' JSON, loaded on demand, described."""

from __future__ import annotations

from typing import Any

from ganvas.errors import GanvasError
from ganvas.studio.models import Loaded
from ganvas.studio.results import ModelDetails, ModelSummary
from ganvas.studio.runs import Entry
from ganvas.studio.state import StudioState


class Catalogue:
    def __init__(self, state: StudioState) -> None:
        self.state = state

    def summary(self, e: Entry) -> ModelSummary:
        """What a model list shows, from its checkpoint.json only (nothing is loaded)."""
        from ganvas.nets import MODELS

        m = e.meta.get("model", {})
        ds = e.meta.get("dataset", {}) or {}
        try:
            cls = MODELS.get(m.get("name", ""))
            kind = ("translator" if cls.data_layout != "single" else "writer" if cls.domain == "text"
                    else "generator")
            style = cls.edit_space == "w"
        except GanvasError:
            kind, style = "unknown", False
        spec = m.get("spec", {})
        return ModelSummary(e.name, e.run, e.step, e.steps, m.get("name"), kind, style, spec.get("domain"),
                            spec.get("shape"), e.meta.get("progress", {}).get("kimg"), e.meta.get("created"),
                            {k: ds.get(k) for k in ("name", "licence", "fingerprint", "count")})

    def models(self) -> list[ModelSummary]:
        return [self.summary(e) for e in self.state.index.models()]

    def load(self, name: str) -> Loaded:
        entry = self.state.index.get(name)
        with self.state.compute:
            return self.state.cache.get(entry)

    def generator(self, name: str) -> Loaded:
        """A model that generates from codes, or a one-line error saying what it is instead."""
        item = self.load(name)
        if item.kind == "writer":
            raise GanvasError(f"model '{name}' is a {item.model.name} text model: it writes texts "
                              f"(POST /api/models/{name}/write) rather than drawing from latent codes")
        if item.kind != "generator":
            raise GanvasError(f"model '{name}' is a {item.model.name} translation model: it translates pictures "
                              f"(POST /api/models/{name}/translate) rather than generating from codes")
        return item

    def translator(self, name: str) -> Loaded:
        item = self.load(name)
        if item.kind == "writer":
            raise GanvasError(f"model '{name}' writes texts; translation needs a pix2pix or cyclegan model")
        if item.kind != "translator":
            raise GanvasError(f"model '{name}' generates from codes; translation needs a pix2pix or cyclegan model")
        return item

    def writer(self, name: str) -> Loaded:
        """A text model, or a one-line error saying what the model makes instead."""
        item = self.load(name)
        if item.kind != "writer":
            makes = "translates pictures" if item.kind == "translator" else f"makes {item.model.domain.name}"
            raise GanvasError(f"model '{name}' {makes}; writing needs a text model (ctrl, e.g. the tang-poems-ctrl "
                              "preset)")
        return item

    def details(self, name: str) -> ModelDetails:
        item = self.load(name)
        summary = self.summary(item.entry)
        G = item.model
        if item.kind == "writer":
            return ModelDetails(summary, formats=list(G.domain.formats), layout={"text": G.domain.describe()},
                                write=write_details(G))
        if item.kind != "generator":
            return ModelDetails(summary, translate={
                "directions": [{"name": d, "describe": G.describe(d)} for d in G.directions],
                "text": any(G.side(s).get("font") for s in "AB"), "resolution": G.resolution,
                # a model from line drawings (a sketch set's card says how they were drawn): the Draw tab
                "sketch": "AtoB" in G.directions and bool(G.side("A").get("lines"))})
        from ganvas.explore import describe

        layout = G.domain.describe()
        return ModelDetails(summary, explore=describe(G), formats=list(G.domain.formats),
                            layout={G.domain.name: layout} if layout else {})

    def checkpoint_name(self, item: Loaded) -> str:
        """The checkpoint's path inside the runs folder (what provenance records: no server paths)."""
        return item.entry.checkpoint.relative_to(self.state.index.root).as_posix()


def write_details(W: Any) -> dict[str, Any]:
    """What the Write tab builds its form from: language, codes (field → values), the verse forms a Chinese
    model keeps (verses × characters: an acrostic has at most one character per verse), the default
    temperature, and whether acrostics, keywords and first lines apply."""
    from ganvas.studio.schemas import MAX_TEMPERATURE, MAX_WRITE
    from ganvas.text.forms import FORMS
    from ganvas.writer import DEFAULT_TEMPERATURE

    verse = W.language == "zh" and "form" in W.codes
    return {"language": W.language, "codes": W.codes, "characters": len(W.model.vocab.chars),
            "forms": {f: {"verses": n, "characters": k} for f, (n, k) in FORMS.items()} if verse else {},
            "seed_form": verse,                  # an unspecified form: seed s writes form s mod 4
            "acrostic": verse, "keywords": verse, "first_line": True,
            "temperature": DEFAULT_TEMPERATURE, "max_temperature": MAX_TEMPERATURE, "max_count": MAX_WRITE}
