"""What the studio's services return: typed results, each with the JSON the REST API answers.

`to_json` writes the answer's keys in the order the API has always sent them, and leaves out
what an answer does not have (an item's `edited` without edits, an animation not asked for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    """One output: its picture, its base code and the recipe that makes it again."""

    seed: int | None
    latent: Any                         # the base code, compact nested lists (one w when all layers agree)
    space: str                          # the model's edit space
    truncation: float
    recipe: dict[str, Any]              # as the page sends it back (and provenance records it)
    image: str                          # a data URL
    edited: Any = None                  # with edits: the base code with them folded in (untruncated)

    def to_json(self) -> dict[str, Any]:
        out = {"seed": self.seed, "latent": self.latent, "space": self.space, "truncation": self.truncation,
               "recipe": self.recipe, "image": self.image}
        if self.edited is not None:
            out["edited"] = self.edited
        return out


@dataclass(frozen=True)
class Interpolation:
    items: list[Item]
    strip: str                          # all frames in one picture (a data URL)
    animation: str | None = None        # a looping GIF or WebP (a data URL), when asked for

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"items": [i.to_json() for i in self.items], "strip": self.strip}
        if self.animation is not None:
            out["animation"] = self.animation
        return out


@dataclass(frozen=True)
class Children:
    items: list[Item]
    seed: int                           # the seed that fixed every choice (drawn when not given)
    mode: str                           # uniform | layers

    def to_json(self) -> dict[str, Any]:
        return {"items": [i.to_json() for i in self.items], "seed": self.seed, "mode": self.mode}


@dataclass(frozen=True)
class DirectionsInfo:
    set: dict[str, Any]                 # the direction set used (method, components, samples, seed, layer)
    space: str
    layer: str | None
    num_ws: int | None
    directions: list[dict[str, Any]]    # each one's σ, share of variance, name and largest effects
    names_note: str = ""                # why names or their class probabilities are missing, if they are
    names_pending: bool = False         # names not measured yet: GET …/directions/names measures them

    def to_json(self) -> dict[str, Any]:
        return {"set": self.set, "space": self.space, "layer": self.layer, "num_ws": self.num_ws,
                "directions": self.directions, "names_note": self.names_note, "names_pending": self.names_pending}


@dataclass(frozen=True)
class Projected:
    """A finished projection: the item of the code found, the target as the model saw it, how close."""

    item: Item
    target: str                         # a data URL
    pixel_error: float
    steps: int
    space: str
    features: str
    data_distance: float | None = None  # the target's distance from the training data (1: a typical new item)
    warning: str | None = None          # said when the target is far from what the model learnt

    def to_json(self) -> dict[str, Any]:
        return {**self.item.to_json(), "target": self.target, "pixel_error": self.pixel_error, "steps": self.steps,
                "projection_space": self.space, "features": self.features, "data_distance": self.data_distance,
                "warning": self.warning}


@dataclass(frozen=True)
class Translation:
    items: list[tuple[str, str]]        # (input, output) data URLs
    direction: str
    describe: str
    missing: list[str]                  # characters the font lacks
    strip: str                          # the outputs side by side, with provenance inside (a data URL)

    def to_json(self) -> dict[str, Any]:
        return {"items": [{"input": a, "output": b} for a, b in self.items], "direction": self.direction,
                "describe": self.describe, "missing": self.missing, "strip": self.strip}


@dataclass(frozen=True)
class Sketched:
    """A drawing rendered by a sketch model: the drawing as the model saw it and its output."""

    sketch: str                         # a data URL: the drawing resized to the model's side, grey
    output: str                         # a data URL: a PNG with provenance inside
    describe: str                       # e.g. "sketch → image"
    resolution: int

    def to_json(self) -> dict[str, Any]:
        return {"sketch": self.sketch, "output": self.output, "describe": self.describe,
                "resolution": self.resolution}


@dataclass(frozen=True)
class Written:
    """One text of a text model: what it says, its picture, the codes it was written with, its recipe."""

    seed: int
    codes: dict[str, str]               # the codes used (a Chinese model's unspecified form filled in by seed)
    text: str
    image: str                          # a data URL: the text in calligraphy (PNG)
    recipe: dict[str, Any]              # what writes it again (POST …/write/export, …/write/download)

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "codes": self.codes, "text": self.text, "image": self.image,
                "recipe": self.recipe}


@dataclass(frozen=True)
class File:
    """A file to send: its bytes, media type and, for downloads, the name to save it as."""

    data: bytes
    media_type: str
    filename: str | None = None


@dataclass(frozen=True)
class ModelSummary:
    """What a model list shows, from the checkpoint's JSON only (nothing is loaded)."""

    name: str
    run: str
    step: int
    steps: list[int]
    model: str | None
    kind: str                           # generator | translator | writer (text) | unknown
    style: bool
    domain: str | None
    shape: list[int] | None
    kimg: float | None
    created: str | None
    dataset: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "run": self.run, "step": self.step, "steps": self.steps, "model": self.model,
                "kind": self.kind, "style": self.style, "domain": self.domain, "shape": self.shape,
                "kimg": self.kimg, "created": self.created, "dataset": self.dataset}


@dataclass(frozen=True)
class ModelDetails:
    """One loaded model: its summary plus what its page needs (spaces and formats, directions of translation, or
    a text model's codes)."""

    summary: ModelSummary
    explore: dict[str, Any] | None = None           # generators: space, code shape, default methods
    formats: list[str] | None = None                # generators: what its outputs export as
    layout: dict[str, dict[str, Any]] = field(default_factory=dict)   # domain name → Domain.describe(), if any
    translate: dict[str, Any] | None = None         # translators: directions, text support, resolution
    write: dict[str, Any] | None = None             # text models: language, codes, forms, temperature

    def to_json(self) -> dict[str, Any]:
        out = self.summary.to_json()
        if self.explore is not None:
            out["explore"] = self.explore
        if self.formats is not None:
            out["formats"] = self.formats
        out.update(self.layout)
        if self.translate is not None:
            out["translate"] = self.translate
        if self.write is not None:
            out["write"] = self.write
        return out


@dataclass(frozen=True)
class WhyMap:
    """D's verdict on one output or uploaded picture, and its map drawn over it (ganvas.explore.why)."""

    score: float                        # D's logit: higher = more real-looking to D
    picture: str                        # a data URL: the map over the sample (PNG)
    method: str                         # integrated-gradients | gradient-x-input | patch
    baseline: float | None
    steps: int
    batchnorm: str                      # D's BatchNorm statistics: none | balanced batch | running
    describe: str                       # one sentence for people

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "picture": self.picture, "method": self.method, "baseline": self.baseline,
                "steps": self.steps, "batchnorm": self.batchnorm, "describe": self.describe}
