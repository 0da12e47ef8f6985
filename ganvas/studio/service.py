"""What the studio does, without HTTP: find a model, make outputs from recipes, keep them fast.

Every model computation runs under one compute lock: on a small CPU, two forward passes at once
only slow each other down (and fight over cores), while queued requests each finish quickly.
Projections take the lock one step at a time (ganvas.studio.jobs), so they never block a slider
for longer than a step.
"""

from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import breeding, ganspace, interpolation
from ganvas.explore import latent as L
from ganvas.explore import provenance as P
from ganvas.explore.recipe import DirectionSet, Recipe
from ganvas.studio import outputs as O
from ganvas.studio.jobs import PREVIEW_EVERY, Job, Jobs
from ganvas.studio.models import Loaded, ModelCache
from ganvas.studio.runs import Entry, RunIndex

STUDIO_DIR = ".studio"                  # the studio's own folder inside the runs folder (scratch files)
MAX_PROJECTION_STEPS = 500
SEED_ITEMS = 512                        # seed outputs kept per model (about 5 kB each for a 64×64 image)
# Direction sets kept per checkpoint, in memory and as files in RUN/explore/step-N/ (least recently used
# dropped): any client may ask for other methods, sizes, sample counts and seeds, and each is a file.
DIRECTION_SETS = 8
# Activation directions hold samples × layer width numbers (float64) for their PCA; a client choosing a wide
# layer of a big model could ask for tens of gigabytes. 10⁸ numbers (800 MB) allow the default layers.
MAX_ACTIVATION_VALUES = 100_000_000


class Studio:
    def __init__(self, runs: str | Path, max_models: int = 4, device: str = "cpu", max_projections: int = 1,
                 max_upload_bytes: int = 8 * 1024 * 1024, max_upload_pixels: int = 16_000_000) -> None:
        self.index = RunIndex(runs)                         # the models: every checkpoint under `runs`
        self.cache = ModelCache(max_models, device)         # loaded models, least recently used dropped
        self.jobs = Jobs(max_projections)                   # projections running in the background
        self.max_upload_bytes = max_upload_bytes            # request bodies and uploads
        self.max_upload_pixels = max_upload_pixels          # decoded upload size
        self.compute = threading.Lock()                     # one model computation at a time
        self.tmp_dir = self._scratch()                      # FluidSynth's scratch files (inside the runs folder)
        self.audio = O.AudioCache()                         # rendered WAVs, so a replay or download is instant

    def _scratch(self) -> Path | None:
        path = self.index.root / STUDIO_DIR / "tmp"
        try:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True, exist_ok=True)
            return path
        except OSError:                                     # a read-only runs folder: built-in synthesizer only
            return None

    # --- models -----------------------------------------------------------------------------------

    def summary(self, e: Entry) -> dict[str, Any]:
        """What a model list shows, from its checkpoint.json only (nothing is loaded)."""
        from ganvas.nets import MODELS

        m = e.meta.get("model", {})
        ds = e.meta.get("dataset", {}) or {}
        try:
            cls = MODELS.get(m.get("name", ""))
            kind = "translator" if cls.data_layout != "single" else "generator"
            style = cls.edit_space == "w"
        except GanvasError:
            kind, style = "unknown", False
        spec = m.get("spec", {})
        return {"name": e.name, "run": e.run, "step": e.step, "steps": e.steps, "model": m.get("name"),
                "kind": kind, "style": style, "domain": spec.get("domain"), "shape": spec.get("shape"),
                "kimg": e.meta.get("progress", {}).get("kimg"), "created": e.meta.get("created"),
                "dataset": {k: ds.get(k) for k in ("name", "licence", "fingerprint", "count")}}

    def models(self) -> list[dict[str, Any]]:
        return [self.summary(e) for e in self.index.models()]

    def load(self, name: str) -> Loaded:
        entry = self.index.get(name)
        with self.compute:
            return self.cache.get(entry)

    def generator(self, name: str) -> Loaded:
        item = self.load(name)
        if item.kind != "generator":
            raise GanvasError(f"model '{name}' is a {item.model.name} translation model: it translates pictures "
                              f"(POST /api/models/{name}/translate) rather than generating from codes")
        return item

    def details(self, name: str) -> dict[str, Any]:
        item = self.load(name)
        out = self.summary(item.entry)
        G = item.model
        if item.kind == "generator":
            from ganvas.explore import describe

            out["explore"] = describe(G)
            out["formats"] = list(G.domain.formats)
            if G.domain.name == "music":
                out["music"] = {"tracks": [t.name for t in G.domain.tracks], "tempo": G.domain.tempo}
        else:
            out["translate"] = {"directions": [{"name": d, "describe": G.describe(d)} for d in G.directions],
                                "text": any(G.side(s).get("font") for s in "AB"), "resolution": G.resolution}
        return out

    def checkpoint_name(self, item: Loaded) -> str:
        return item.entry.checkpoint.relative_to(self.index.root).as_posix()

    # --- directions ---------------------------------------------------------------------------------

    def directions(self, item: Loaded, ds: DirectionSet) -> ganspace.Directions:
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
                                         lock=lambda: self.compute,    # batches interleave with requests
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
        with self.compute:
            code = torch.zeros(1, *G.model.latent_shape, device=G.device)
            if G.model.edit_space == "w":                   # GANSpace reads w of one layer
                code = G.model.to_edit_space(code)[:, 0]
            width = ganspace._activations(G, code, layer, 1).shape[1]
        if samples * width > MAX_ACTIVATION_VALUES:
            raise GanvasError(f"layer '{layer}' has {width} values per sample: {samples} samples would hold "
                              f"{samples * width:,} numbers, more than the studio's {MAX_ACTIVATION_VALUES:,}; "
                              f"ask for at most {MAX_ACTIVATION_VALUES // width} samples or an earlier layer")

    # --- outputs ------------------------------------------------------------------------------------

    def recipe(self, item: Loaded, body: dict[str, Any]) -> Recipe:
        return Recipe.from_dict(_clean(body), item.model)

    def render(self, item: Loaded, recipes: list[Recipe]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(base codes, final codes, outputs) of recipes, drawn in one call to the model."""
        G = item.model
        dirs = [self.directions(item, r.directions) if r.edits else None for r in recipes]
        with self.compute:
            bases = torch.cat([r.base(G) for r in recipes])
            finals = torch.cat([r.final(G, bases[i:i + 1], dirs[i]) for i, r in enumerate(recipes)])
            outs = L.draw(G, finals)
        for r, d in zip(recipes, dirs, strict=True):
            r._resolved = d                                 # the directions used, for the items' recipes
        return bases, finals, outs

    def items(self, item: Loaded, recipes: list[Recipe], bases: torch.Tensor, outs: torch.Tensor
              ) -> list[dict[str, Any]]:
        """JSON items: the picture as a data URL, the base code, the recipe that makes it.

        An edited output also carries `edited`, its base code with the edits folded in (untruncated):
        what the page breeds and interpolates from, so a child starts from what the person saw.
        """
        G = item.model
        space = L.edit_space(G)
        pics = O.pictures(G, outs)
        result = []
        for i, r in enumerate(recipes):
            code = L.compact(G, bases[i])
            dirs = getattr(r, "_resolved", None)
            rd = r.to_dict(G, dirs, latent=False)
            if r.seed is None:
                rd = {"latent": code, **rd, "space": space}
            out = {"seed": r.seed, "latent": code, "space": space, "truncation": rd["truncation"], "recipe": rd,
                   "image": O.data_url(O.png(pics[i]))}
            if r.edits and dirs is not None:
                out["edited"] = L.compact(G, dirs.apply(bases[i:i + 1], r.edits)[0])
            result.append(out)
        return result

    def seeds(self, name: str, seeds: list[int], truncation: float | None, cutoff: int | None) -> list[dict]:
        """Items of seeds; each seed's item is kept (bounded), so going back a page costs nothing."""
        item = self.generator(name)
        keys = [(L.check_seed(s), truncation, cutoff) for s in seeds]
        with item.lock:
            found = {k: item.seed_items[k] for k in keys if k in item.seed_items}
        todo = [k for k in dict.fromkeys(keys) if k not in found]
        if todo:
            recipes = [Recipe(seed=s, truncation=truncation, truncation_cutoff=cutoff) for s, _, _ in todo]
            bases, _, outs = self.render(item, recipes)
            for k, it in zip(todo, self.items(item, recipes, bases, outs), strict=True):
                found[k] = it
            with item.lock:
                for k in todo:
                    item.seed_items[k] = found[k]
                while len(item.seed_items) > SEED_ITEMS:
                    item.seed_items.popitem(last=False)
        return [found[k] for k in keys]

    def render_one(self, name: str, body: dict[str, Any], fmt: str = "json") -> Any:
        item = self.generator(name)
        recipe = self.recipe(item, body)
        bases, finals, outs = self.render(item, [recipe])
        if fmt == "png":
            return O.png(O.pictures(item.model, outs)[0])
        return self.items(item, [recipe], bases, outs)[0]

    def interpolate(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        item = self.generator(name)
        G = item.model
        space = body.get("space") or L.edit_space(G)
        L.check_space(G, space)
        ends = []
        with self.compute:
            for key in ("a", "b"):
                end = body[key]
                ends.append(self._end(G, end, space, key))
        frames = interpolation.path(ends[0], ends[1], int(body.get("steps", 8)), space, body.get("method"))
        with self.compute:
            frames = L.to_space(G, frames, space, L.edit_space(G))
        recipes = [Recipe(latent=L.compact(G, f), space=L.edit_space(G), truncation=body.get("truncation"),
                          truncation_cutoff=body.get("truncation_cutoff"))
                   for f in frames]
        edits = Recipe.from_dict({"seed": 0, "edits": body.get("edits") or [],
                                  "directions": body.get("directions")}, G)
        for r in recipes:
            r.edits, r.directions = edits.edits, edits.directions
        bases, _, outs = self.render(item, recipes)
        out = {"items": self.items(item, recipes, bases, outs),
               "strip": O.data_url(O.png(G.domain.preview(outs, nrow=len(recipes))))}
        if body.get("animation"):
            if G.domain.name != "image":
                raise GanvasError(f"animations are made of images; '{name}' makes {G.domain.name}")
            data = interpolation.animation_bytes(O.pictures(G, outs), body["animation"], float(body.get("fps", 12)))
            out["animation"] = O.data_url(data, body["animation"])
        return out

    def _end(self, G: Any, end: dict[str, Any], space: str, what: str) -> torch.Tensor:
        """A seed or a code as a [1, …] code in `space`."""
        if (end.get("seed") is None) == (end.get("latent") is None):
            raise GanvasError(f"{what} needs exactly one of 'seed' or 'latent'")
        if end.get("seed") is not None:
            return L.seed_codes(G, [end["seed"]], space)
        given = end.get("space") or L.edit_space(G)
        code = L.from_values(G, end["latent"], given, f"{what}'s latent")
        if given != space:
            if (given, space) != ("z", "w"):
                raise GanvasError(f"{what} is a w code; interpolating in z needs seeds or z codes at both ends")
            code = L.to_space(G, code, "z", "w")
        return code

    def breed(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        item = self.generator(name)
        G = item.model
        seed = body.get("seed")
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        with self.compute:
            parents = torch.cat([self._end(G, p, L.edit_space(G), f"parent {i + 1}")
                                 for i, p in enumerate(body["parents"])])
            children = breeding.breed(G, parents, int(body.get("count", 8)), float(body.get("mutation", 0.3)),
                                      body.get("mode"), seed)
        recipes = [Recipe(latent=L.compact(G, c), space=L.edit_space(G), truncation=body.get("truncation"),
                          truncation_cutoff=body.get("truncation_cutoff")) for c in children]
        bases, _, outs = self.render(item, recipes)
        return {"items": self.items(item, recipes, bases, outs), "seed": seed,
                "mode": body.get("mode") or breeding.default_mode(G)}

    # --- provenance and downloads -------------------------------------------------------------------

    def record(self, item: Loaded, recipe: Recipe, base: torch.Tensor, final: torch.Tensor,
               dirs: ganspace.Directions | None = None) -> dict[str, Any]:
        G = item.model
        rd = recipe.to_dict(G, dirs, latent=recipe.seed is None)
        if recipe.seed is None:
            rd["latent"] = L.compact(G, base[0])
            rd["space"] = L.edit_space(G)
        rec = P.provenance(G, rd, final, item.entry.name, self.checkpoint_name(item))
        rec["latent"]["space"] = L.edit_space(G)
        return rec

    def provenance(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        item = self.generator(name)
        recipe = self.recipe(item, body)
        bases, finals, _ = self.render(item, [recipe])
        dirs = self.directions(item, recipe.directions) if recipe.edits else None
        return self.record(item, recipe, bases, finals, dirs)

    def export(self, name: str, body: dict[str, Any], fmt: str) -> bytes:
        item = self.generator(name)
        G = item.model
        if fmt not in G.domain.formats:
            raise GanvasError(f"'{name}' makes {G.domain.name}; its outputs export as {', '.join(G.domain.formats)}, "
                              f"not {fmt}")
        recipe = self.recipe(item, body)
        bases, finals, outs = self.render(item, [recipe])
        dirs = self.directions(item, recipe.directions) if recipe.edits else None
        record = self.record(item, recipe, bases, finals, dirs) if fmt == "png" else None
        return O.export(G, outs, fmt, record, self.tmp_dir, self.audio)

    def download(self, name: str, body: dict[str, Any]) -> bytes:
        item = self.generator(name)
        recipes = [self.recipe(item, r) for r in body["items"]]
        names = body.get("names") or []
        bases, finals, outs = self.render(item, recipes)
        entries, used = [], set()
        for i, r in enumerate(recipes):
            dirs = self.directions(item, r.directions) if r.edits else None
            stem = _stem(names[i] if i < len(names) else "", i, r)
            stem = stem if stem not in used else f"{stem}-{i + 1:02d}"
            used.add(stem)
            entries.append({"output": outs[i:i + 1], "record": self.record(item, r, bases[i:i + 1], finals[i:i + 1],
                                                                           dirs),
                            "base": bases[i:i + 1], "final": finals[i:i + 1], "stem": stem})
        return O.bundle(entries, item.model, self.tmp_dir, self.audio)

    # --- projection -----------------------------------------------------------------------------------

    def project(self, name: str, image: Any, steps: int, space: str | None, features: str, seed: int) -> Job:
        from ganvas.explore import projection

        item = self.generator(name)
        G = item.model
        if not 1 <= steps <= MAX_PROJECTION_STEPS:
            raise GanvasError(f"projection steps must be in 1..{MAX_PROJECTION_STEPS}, got {steps}")
        if features == "domain":
            raise GanvasError("the studio projects with features 'random' or 'none' ('domain' trains a network: "
                              "use `ganvas explore project --features domain`)")
        space = space or projection.default_space(G)
        projection.check(G, steps, space, features)
        with self.compute:
            target = projection.prepare_target(G, image)

        def work(job: Job) -> dict[str, Any]:
            def progress(step: int, loss: float, current: Any) -> None:
                job.step, job.loss = step, loss
                if step % PREVIEW_EVERY == 0 or step == steps:
                    job.preview = O.data_url(O.png(O.pictures(G, current())[0]))

            p = projection.project(G, target, steps, space, features, seed=seed, callback=progress,
                                   should_stop=job.cancel.is_set, step_lock=lambda: self.compute)
            recipe = Recipe(latent=L.compact(G, p.code[0]), space=L.edit_space(G))
            with self.compute:
                out = L.draw(G, p.code)
            result = self.items(item, [recipe], p.code, out)[0]
            result.update(target=O.data_url(O.png(O.pictures(G, p.target)[0])), pixel_error=round(p.pixel_error, 5),
                          steps=p.steps, projection_space=p.space, features=p.features)
            return result

        return self.jobs.start(name, steps, work)

    # --- translation ----------------------------------------------------------------------------------

    def translate(self, name: str, image: Any = None, text: str | None = None, direction: str = "AtoB",
                  font: str | None = None) -> dict[str, Any]:
        import numpy as np

        item = self.load(name)
        if item.kind != "translator":
            raise GanvasError(f"model '{name}' generates from codes; translation needs a pix2pix or cyclegan model")
        T = item.model
        with self.compute:
            T.generator(direction)
            if text is not None:
                from ganvas.data.cjk_fonts import FONTS

                if font is not None and font not in FONTS:    # font files are never read from a request
                    raise GanvasError(f"font must be one of the cjk-fonts names {', '.join(FONTS)}, got {font!r}")
                arrays, missing, blank = T.render_text(text, font, direction)
                x = T.domain.to_tensor(arrays, T.device)
            else:
                x, missing, blank = T.prepare([image]), [], [False]
            y = T.translate(x, direction)
            y[torch.as_tensor(blank, device=y.device)] = 1.0      # blank glyphs stay white
        pics_in, pics_out = T.domain.to_pil(x), T.domain.to_pil(y)
        items = [{"input": O.data_url(O.png(a)), "output": O.data_url(O.png(b))} for a, b in zip(pics_in, pics_out,
                                                                                                   strict=True)]
        strip = np.concatenate([np.asarray(p.convert("RGB")) for p in pics_out], axis=1)
        from PIL import Image

        record = P.provenance(T, {"translate": direction, "describe": T.describe(direction),
                                  **({"text": text, "font": font} if text is not None else {"input": "upload"})},
                              None, item.entry.name, self.checkpoint_name(item))
        return {"items": items, "direction": direction, "describe": T.describe(direction), "missing": missing,
                "strip": O.data_url(O.png(Image.fromarray(strip), record))}


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    """A request body as a recipe dict: fields left out or null dropped."""
    return {k: v for k, v in body.items() if v is not None and not (k == "edits" and not v)}


def _stem(name: str, i: int, r: Recipe) -> str:
    import re

    safe = re.sub(r"[^\w\-]+", "-", name).strip("-")[:60]
    return safe or (f"seed{r.seed}" if r.seed is not None and not r.edits else f"item-{i + 1:02d}")

