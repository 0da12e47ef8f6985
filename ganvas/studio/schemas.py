"""Request bodies of the REST API (they make the OpenAPI schema at /openapi.json).

Types and ranges are checked here (a 422 names the field); meaning is checked by ganvas.explore
(a 400 names the value: a latent of the wrong length, NaN, a direction that does not exist).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ganvas.explore.latent import MAX_SEED

MAX_SAMPLES = 10_000    # codes sampled for a direction set: the default of w and z; more cost minutes and memory
MAX_WRITE = 32          # texts written in one request (each is decoded a character at a time)
MAX_TEMPERATURE = 5.0   # beyond this a character model's sampling is noise

Seed = Field(None, ge=0, le=MAX_SEED, description="a seed: output i of `ganvas sample --seed S` is seed S+i")
Latent = list[float] | list[list[float]]
Label = Field(None, min_length=1, max_length=2000, description="conditional models: a class name or a "
                                 "blend summing to 1 such as 'A:0.5,B:0.5' (default: seed s makes class s mod K)")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EditIn(Strict):
    index: int = Field(ge=0, lt=64, description="direction number (0 = the largest variance)")
    amount: float = Field(allow_inf_nan=False, description="how far along it, in standard deviations σ (−20 … 20)")
    layers: str | list[int] | None = Field(None, description="style layers it applies to, e.g. '0-3', '4-', "
                                                              "[0, 1]; default all (style models only)")


class UnitEditIn(Strict):
    layer: str | None = Field(None, max_length=200, description="G's layer (default: the middle one GET …/units "
                                                               "dissects)")
    units: list[int] = Field(min_length=1, max_length=4096, description="unit (channel) numbers of the layer")
    mode: Literal["off", "up"] = Field("off", description="off: zeroed; up: multiplied by `amount`")
    amount: float | None = Field(None, ge=0, le=20, allow_inf_nan=False, description="up: the factor (default 3)")


class DirectionSetIn(Strict):
    method: Literal["w", "z", "activations"] | None = Field(None, description="default: w for style models, "
                                                                              "activations otherwise")
    components: int = Field(16, ge=1, le=64, description="directions computed")
    samples: int | None = Field(None, ge=32, le=MAX_SAMPLES, description="codes sampled (default 10000; 2000 "
                                                                         "for activations)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the sampled codes")
    layer: str | None = Field(None, max_length=200, description="G's layer for activations (a module name)")


class RecipeIn(Strict):
    """One output: a seed or a base code, then truncation, then edits along directions."""

    seed: int | None = Seed
    label: str | None = Label
    latent: Latent | None = Field(None, description="a base code instead of a seed: z_dim numbers (z), or w_dim "
                                                    "or num_ws × w_dim numbers (w)")
    space: Literal["z", "w"] | None = Field(None, description="the space of `latent` (default the model's edit "
                                                              "space: w for style models, z otherwise)")
    truncation: float | None = Field(None, ge=0, le=1, allow_inf_nan=False,
                                     description="ψ: 1 = none, 0 = the average output")
    truncation_cutoff: int | None = Field(None, ge=1, description="style models: truncate the first N layers only")
    edits: list[EditIn] = Field(default_factory=list, max_length=64)
    directions: DirectionSetIn | None = Field(None, description="the directions `edits` refer to (default set)")
    units: list[UnitEditIn] = Field(default_factory=list, max_length=16,
                                    description="units of G's layers switched off or up while drawing")


class EndIn(Strict):
    """One end of an interpolation or one parent: a seed or a base code."""

    seed: int | None = Seed
    label: str | None = Label
    latent: Latent | None = None
    space: Literal["z", "w"] | None = None


class SeedsIn(Strict):
    seeds: list[int] | None = Field(None, min_length=1, max_length=64, description="these seeds …")
    start: int = Field(0, ge=0, le=MAX_SEED, description="… or `count` seeds from this one")
    count: int = Field(16, ge=1, le=64)
    label: str | None = Label
    truncation: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    truncation_cutoff: int | None = Field(None, ge=1)


class InterpolateIn(Strict):
    a: EndIn
    b: EndIn
    steps: int = Field(8, ge=2, le=32, description="frames, both ends included")
    space: Literal["z", "w"] | None = Field(None, description="default the edit space; z needs seeds at both ends")
    method: Literal["slerp", "lerp"] | None = Field(None, description="default slerp in z, lerp in w")
    truncation: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    truncation_cutoff: int | None = Field(None, ge=1)
    edits: list[EditIn] = Field(default_factory=list, max_length=64, description="applied to every frame")
    directions: DirectionSetIn | None = None
    animation: Literal["gif", "webp"] | None = Field(None, description="also return the frames as an animation")
    fps: float = Field(12, gt=0, le=60, allow_inf_nan=False)


class BreedIn(Strict):
    parents: list[EndIn] = Field(min_length=1, max_length=16)
    count: int = Field(8, ge=1, le=32, description="children")
    mutation: float = Field(0.3, ge=0, le=4, allow_inf_nan=False,
                            description="Gaussian mutation, as a share of the codes' spread")
    mode: Literal["uniform", "layers"] | None = Field(None, description="crossover: uniform mask, or per style "
                                                                        "layer (default for style models)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="fixes every random choice (default: random)")
    truncation: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    truncation_cutoff: int | None = Field(None, ge=1)


class DownloadIn(Strict):
    items: list[RecipeIn] = Field(min_length=1, max_length=64)
    names: list[str] | None = Field(None, description="file stems, one per item (default item-01 …)")


class TextIn(Strict):
    text: str = Field(min_length=1, max_length=64, description="a line to draw in the model's input font")
    direction: Literal["AtoB", "BtoA"] = "AtoB"
    font: str | None = Field(None, max_length=40, description="a cjk-fonts font name (kai, ming, zenhei, sans, "
                                                              "serif); default the font the model learned from")


class WriteOptionsIn(Strict):
    """What a text model is asked for (every text of a request the same); meaning is checked by the
    model's vocabulary and the constrained decoder (ganvas.text.decode): a 400 names the value."""

    codes: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=64)]] = Field(
        default_factory=dict, max_length=16,
        description="control codes, field → value (GET /api/models/{m}: write.codes); a field left out or '' is "
                    "unspecified (a Chinese model's form: seed s writes form s mod 4)")
    acrostic: str | None = Field(None, max_length=16, description="the first character of each verse (藏头诗)")
    keywords: list[Annotated[str, Field(max_length=16)]] = Field(default_factory=list, max_length=8,
                                                                 description="words the text must hold")
    first_line: str | None = Field(None, max_length=64, description="the first verse (or couplet), continued")
    temperature: float = Field(0.8, allow_inf_nan=False, description=f"sampling temperature, > 0 and at most "
                                                                     f"{MAX_TEMPERATURE:g} (lower: safer, higher: "
                                                                     "wilder; out of range: 400)")
    constrained: bool = Field(True, description="keep the form (verses, rhyme, tones) and the requests above; "
                                                "false samples freely")


class WriteIn(WriteOptionsIn):
    """Texts of seeds: a seed, its codes, the requests and the temperature name one text."""

    seeds: list[Annotated[int, Field(ge=0, le=MAX_SEED)]] | None = Field(None, min_length=1, max_length=MAX_WRITE,
                                                                          description="these seeds …")
    start: int = Field(0, ge=0, le=MAX_SEED, description="… or `count` seeds from this one")
    count: int = Field(4, ge=1, le=MAX_WRITE)


class WriteRecipeIn(WriteOptionsIn):
    """One text again (an item's `recipe`, as the write answer gives it)."""

    seed: int = Field(ge=0, le=MAX_SEED)


class WriteDownloadIn(Strict):
    items: list[WriteRecipeIn] = Field(min_length=1, max_length=64)
    names: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=64,
                                                                      description="file stems, one per item "
                                                                                  "(default seedS)")


class ErrorOut(BaseModel):
    """Every error: one line saying what was wrong and what was expected."""

    error: str = Field(description="one line, naming the value or field and what was expected")
    status: int = Field(description="the HTTP status again")
    details: list[dict[str, Any]] | None = Field(None, description="422 only: every problem pydantic found")


ERRORS = {
    400: "a value ganvas cannot use (the message names it and what was expected)",
    401: "the studio needs its token (?token=, 'Authorization: token …' or the page's cookie)",
    403: "a Host header the studio does not answer to, or a change sent from another origin",
    404: "no such model, job or path",
    413: "the body or the uploaded image is larger than the limit",
    415: "the upload is not a PNG, JPEG, WebP, GIF or BMP image",
    422: "a body, path or query of the wrong shape (the message names the field)",
    429: "as many projections as allowed are already running",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the one error body."""
    return {code: {"model": ErrorOut, "description": ERRORS[code]} for code in codes}
