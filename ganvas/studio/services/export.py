"""Outputs as files a person keeps: one file in a format of the model's domain, a zip of several with
their provenance and codes, or the provenance record alone.

The bytes of a file come from the domain (`Domain.encode`), then leave through the studio's Publisher
(watermark, signed manifest, C2PA, the memorization guard: ganvas.studio.publishing). A domain's
encoding of an output depends only on the output, so it is kept (bounded) and a replay or a download
does not render it again (FluidSynth takes seconds).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import latent as L
from ganvas.explore import provenance as P
from ganvas.explore.recipe import Recipe
from ganvas.publish.publisher import Publisher
from ganvas.studio import outputs as O
from ganvas.studio import schemas as S
from ganvas.studio.models import Loaded
from ganvas.studio.publishing import withheld
from ganvas.studio.results import File
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.generation import Drawn, GenerationService, recipe_of
from ganvas.studio.state import StudioState


class ExportService:
    def __init__(self, state: StudioState, catalogue: Catalogue, generation: GenerationService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.generation = generation

    def record(self, item: Loaded, drawn: Drawn, i: int) -> dict[str, Any]:
        """The provenance record of output `i` (its code in the edit space, a seed's as its seed)."""
        G = item.model
        recipe = drawn.recipes[i]
        rd = recipe.to_dict(G, drawn.directions[i], latent=recipe.seed is None)
        if recipe.seed is None:
            rd["latent"] = L.compact(G, drawn.bases[i])
            rd["space"] = L.edit_space(G)
        rec = P.provenance(G, rd, drawn.finals[i:i + 1], item.entry.name, self.catalogue.checkpoint_name(item))
        rec["latent"]["space"] = L.edit_space(G)
        return rec

    def publisher(self, item: Loaded) -> Publisher:
        return self.state.publishing.publisher(item.model, item.entry.name, self.catalogue.checkpoint_name(item))

    def guarded(self, item: Loaded, pub: Publisher, drawn: Drawn) -> list[dict[str, Any]]:
        """The records of the drawn outputs, with the memorization guard's verdicts in them; a download with a
        near-copy is refused in strict mode."""
        records = [self.record(item, drawn, i) for i in range(len(drawn.recipes))]
        verdicts = pub.check(drawn.outputs)
        self.state.publishing.keep(pub)
        notes = [d.note for d in (pub.judge(r, v) for r, v in zip(records, verdicts, strict=True)) if d.withheld]
        withheld(pub, item.entry.name, notes)
        return records

    def encode(self, item: Loaded, x: torch.Tensor, fmt: str, record: dict[str, Any],
               pub: Publisher | None = None) -> bytes:
        """One output ([1, …]) as a `fmt` file: watermarked, with its signed manifest inside (`pub`), or as the
        domain encodes it (with `record` in a PNG's text) when no publisher is given."""
        raw = self.raw(item, x, fmt, None if pub is not None else record)
        return raw if pub is None else pub.publish(raw, fmt, record).data

    def raw(self, item: Loaded, x: torch.Tensor, fmt: str, record: dict[str, Any] | None) -> bytes:
        domain = item.model.domain
        if fmt in domain.text_formats:
            return domain.encode(x, fmt, text=None if record is None else P.png_text(record),
                                 scratch=self.state.scratch)
        content = domain.to_array(x)
        key = hashlib.sha256(json.dumps([str(item.entry.checkpoint), fmt, list(content.shape), str(content.dtype)])
                             .encode() + content.tobytes()).hexdigest()
        if (hit := self.state.encoded.get(key)) is not None:
            return hit
        data = domain.encode(x, fmt, scratch=self.state.scratch)
        self.state.encoded.put(key, data)
        return data

    def provenance(self, model: str, body: S.RecipeIn) -> dict[str, Any]:
        item = self.catalogue.generator(model)
        return self.record(item, self.generation.draw(item, [recipe_of(item.model, body)]), 0)

    def export(self, model: str, body: S.RecipeIn, fmt: str) -> File:
        item = self.catalogue.generator(model)
        domain = item.model.domain
        if fmt not in domain.formats:
            raise GanvasError(f"'{model}' makes {domain.name}; its outputs export as {', '.join(domain.formats)}, "
                              f"not {fmt}")
        drawn = self.generation.draw(item, [recipe_of(item.model, body)])
        pub = self.publisher(item)
        return File(self.encode(item, drawn.outputs, fmt, self.guarded(item, pub, drawn)[0], pub), O.MEDIA[fmt])

    def render_png(self, model: str, body: S.RecipeIn) -> File:
        """The picture alone, for clients that want no JSON: published as a download is."""
        return self.export(model, body, "png")

    def download(self, model: str, req: S.DownloadIn) -> File:
        """A zip: per item a file in each of the domain's formats, provenance.json and latent.safetensors."""
        item = self.catalogue.generator(model)
        names = req.names or []
        drawn = self.generation.draw(item, [recipe_of(item.model, r) for r in req.items])
        entries, used = [], set()
        pub = self.publisher(item)
        records = self.guarded(item, pub, drawn)
        for i, r in enumerate(drawn.recipes):
            stem = _stem(names[i] if i < len(names) else "", i, r)
            stem = stem if stem not in used else f"{stem}-{i + 1:02d}"
            used.add(stem)
            record = records[i]
            x = drawn.outputs[i:i + 1]
            files = {f"{stem}{O.SUFFIX[fmt]}": self.encode(item, x, fmt, record, pub)
                     for fmt in item.model.domain.formats}
            entries.append(O.BundleEntry(files, record, drawn.bases[i:i + 1], drawn.finals[i:i + 1], stem))
        name = model.replace("/", "_").replace("@", "-step")
        return File(O.bundle(entries), O.MEDIA["zip"], f"ganvas-{name}.zip")


def _stem(name: str, i: int, r: Recipe) -> str:
    safe = re.sub(r"[^\w\-]+", "-", name).strip("-")[:60]
    return safe or (f"seed{r.seed}" if r.seed is not None and not r.edits else f"item-{i + 1:02d}")
