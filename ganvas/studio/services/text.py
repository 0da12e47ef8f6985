"""Writing with a text model (a `ganvas.writer.Writer`): texts of seeds under control codes and constraints,
one text again as a file, several as a zip with their provenance.

A seed, the codes, the requests (acrostic, keywords, first line), the temperature and whether the form is
kept name one text: each seed's noise comes from its own generator and the decoder reads it one number per
character, so a text is the same in any batch, in `ganvas sample` and here. Each item's recipe is what
writes it again (its codes as used: a Chinese model's unspecified form is filled in by seed, which names
the same text). Bad requests are the decoder's one-line errors: a code the model was not trained with, an
acrostic longer than the form has verses, a character outside the vocabulary, a temperature out of range.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import provenance as P
from ganvas.publish.publisher import Publisher
from ganvas.studio import outputs as O
from ganvas.studio import schemas as S
from ganvas.studio.models import Loaded
from ganvas.studio.publishing import withheld, zip_files
from ganvas.studio.results import File, Written
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.state import StudioState


@dataclass(frozen=True)
class WriteRecipe:
    """What names one text (see the module docstring); `to_dict` is the API's recipe."""

    seed: int
    codes: dict[str, str]
    acrostic: str | None = None
    keywords: tuple[str, ...] = ()
    first_line: str | None = None
    temperature: float = 0.8
    constrained: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "codes": dict(self.codes), "acrostic": self.acrostic,
                "keywords": list(self.keywords), "first_line": self.first_line, "temperature": self.temperature,
                "constrained": self.constrained}


@dataclass(frozen=True)
class Texts:
    """Texts written in one batch: their recipes and token ids [n, T]."""

    recipes: list[WriteRecipe]
    ids: torch.Tensor


def _requests(body: S.WriteOptionsIn) -> tuple[dict[str, str], str | None, tuple[str, ...], str | None]:
    """The body's codes, acrostic, keywords and first line, blanks dropped (an empty box asks for nothing)."""
    if not 0 < body.temperature <= S.MAX_TEMPERATURE:
        raise GanvasError(f"temperature must be > 0 and at most {S.MAX_TEMPERATURE:g}, got {body.temperature:g}")
    codes = {str(k): str(v) for k, v in body.codes.items() if str(v).strip()}
    acrostic = "".join((body.acrostic or "").split()) or None
    keywords = tuple(w for w in ("".join(k.split()) for k in body.keywords) if w)
    first_line = (body.first_line or "").strip() or None
    return codes, acrostic, keywords, first_line


class TextService:
    def __init__(self, state: StudioState, catalogue: Catalogue) -> None:
        self.state = state
        self.catalogue = catalogue

    def texts(self, item: Loaded, seeds: list[int], body: S.WriteOptionsIn) -> Texts:
        """Texts of `seeds` with the body's codes and requests, written in one batch under the compute lock."""
        W = item.model
        codes, acrostic, keywords, first_line = _requests(body)
        rows = W.seed_codes(seeds, codes)               # unknown fields and values: one-line errors
        with self.state.compute:
            ids = W.seeds_ids(seeds, codes, acrostic, keywords, first_line, body.temperature, body.constrained)
        recipes = [WriteRecipe(s, {k: v for k, v in row.items() if v is not None}, acrostic, keywords, first_line,
                               body.temperature, body.constrained) for s, row in zip(seeds, rows, strict=True)]
        return Texts(recipes, ids)

    def write(self, model: str, body: S.WriteIn) -> list[Written]:
        """Texts of `seeds` (or `count` seeds from `start`), each with its picture and recipe."""
        item = self.catalogue.writer(model)
        seeds = list(body.seeds) if body.seeds else list(range(body.start, body.start + body.count))
        if seeds[-1] > S.MAX_SEED:
            raise GanvasError(f"start + count must stay within 0..{S.MAX_SEED}")
        made = self.texts(item, seeds, body)
        domain = item.model.domain
        out = []
        for i, (r, text) in enumerate(zip(made.recipes, domain.texts(made.ids), strict=True)):
            picture = domain.encode(made.ids[i:i + 1], "png")
            out.append(Written(r.seed, dict(r.codes), text, O.data_url(picture), r.to_dict()))
        return out

    def record(self, item: Loaded, recipe: WriteRecipe, files: list[str] | None = None) -> dict[str, Any]:
        """The provenance record of one text: the model, checkpoint and dataset, and its recipe."""
        return P.provenance(item.model, recipe.to_dict(), None, item.entry.name,
                            self.catalogue.checkpoint_name(item), files)

    def files(self, item: Loaded, made: Texts, i: int, formats: tuple[str, ...], record: dict[str, Any]
              ) -> dict[str, bytes]:
        """Text i as a file per format: txt (the text), png (the picture), json (the text, its codes and the
        record), as the domain encodes them (the Publisher signs them)."""
        domain = item.model.domain
        x = made.ids[i:i + 1]
        r = made.recipes[i]
        out = {}
        for fmt in formats:
            if fmt == "json":
                out[fmt] = domain.encode(x, fmt, text={"codes": json.dumps(r.codes, ensure_ascii=False),
                                                       "provenance": json.dumps(record, ensure_ascii=False)})
            else:
                out[fmt] = domain.encode(x, fmt)
        return out

    def publisher(self, item: Loaded) -> Publisher:
        return self.state.publishing.publisher(item.model, item.entry.name, self.catalogue.checkpoint_name(item))

    def judged(self, pub: Publisher, made: Texts, records: list[dict[str, Any]]) -> None:
        """The memorization guard's verdicts (copied lines) into `records`; strict mode refuses the download."""
        verdicts = pub.check(made.ids)
        self.state.publishing.keep(pub)
        notes = [d.note for d in (pub.judge(r, v) for r, v in zip(records, verdicts, strict=True)) if d.withheld]
        withheld(pub, pub.name or "", notes)

    def export(self, model: str, body: S.WriteRecipeIn, fmt: str) -> File:
        """One text as a file (txt, png or json), named by its seed; a png carries its signed manifest inside,
        a txt or json file has no room for one (downloads put it beside them: NAME.ganvas.json)."""
        item = self.catalogue.writer(model)
        if fmt not in item.model.domain.formats:
            raise GanvasError(f"texts are files of {', '.join(item.model.domain.formats)}, not {fmt}")
        made = self.texts(item, [body.seed], body)
        name = f"seed{body.seed}{O.SUFFIX[fmt]}"
        record = self.record(item, made.recipes[0], [name])
        pub = self.publisher(item)
        self.judged(pub, made, [record])
        data = pub.publish(self.files(item, made, 0, (fmt,), record)[fmt], fmt, record).data
        return File(data, O.MEDIA[fmt], name)

    def download(self, model: str, req: S.WriteDownloadIn) -> File:
        """A zip: per text its .txt, .png and .json and provenance.json (a folder each when there are several).

        Items may differ in everything but the model; texts asking for the same things are written together."""
        item = self.catalogue.writer(model)
        names = req.names or []
        made: list[tuple[Texts, int]] = []
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(req.items):
            groups.setdefault(r.model_dump_json(exclude={"seed"}), []).append(i)
        for members in groups.values():
            texts = self.texts(item, [req.items[i].seed for i in members], req.items[members[0]])
            made += [(texts, j) for j in range(len(members))]
        order = [i for members in groups.values() for i in members]
        by_item = dict(zip(order, made, strict=True))
        entries, used = [], set()
        formats = tuple(item.model.domain.formats)
        pub = self.publisher(item)
        for i in range(len(req.items)):
            texts, j = by_item[i]
            stem = _stem(names[i] if i < len(names) else "", texts.recipes[j].seed)
            stem = stem if stem not in used else f"{stem}-{i + 1:02d}"
            used.add(stem)
            files = [f"{stem}{O.SUFFIX[f]}" for f in formats]
            record = self.record(item, texts.recipes[j])
            one = Texts(texts.recipes[j:j + 1], texts.ids[j:j + 1])
            self.judged(pub, one, [record])
            data = self.files(item, texts, j, formats, {**record, "files": files})
            published = zip_files(pub, {name: data[f] for name, f in zip(files, formats, strict=True)}, record)
            entries.append(O.BundleEntry(published, record, None, None, stem))
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", model.replace("@", "-step"))      # a header: ASCII only
        return File(O.bundle(entries), O.MEDIA["zip"], f"ganvas-{name}-texts.zip")


def _stem(name: str, seed: int) -> str:
    safe = re.sub(r"[^\w\-]+", "-", name).strip("-")[:60]
    return safe or f"seed{seed}"
