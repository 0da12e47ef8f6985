"""The training configuration: every default, what it means, and which values it allows.

A run is fully described by a `TrainConfig`. Values come, in rising priority, from these defaults,
a preset (a commented TOML file in ``ganvas/presets``), then the command line. The whole config is
stored in every checkpoint, so a run can be resumed or reproduced from its folder alone.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ganvas.errors import GanvasError, unknown_name
from ganvas.registry import AUGMENTS, EXTRACTORS, LOSSES, Choices


def option(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field whose help text documents the allowed values.

    ``choices`` may be a tuple or a registry (`ganvas.registry.Choices`): then the allowed values are
    read from the registry when checked, and ``{choices}`` in `help` lists them, so a newly
    registered loss or augmentation is valid and documented with no edit here.
    """
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    # What to train on what.
    model: str = option("dcgan", "registered model name; `ganvas models` lists them")
    data: str = option("emoji", "built-in dataset name (`ganvas data list`) or a folder of images or MIDI files")
    resolution: int = option(0, "image side in pixels; 0 = the model's default. dcgan: 32, 64 or 128", min=0)
    model_args: dict = option({}, "options of the model (see its Options class), e.g. {ngf = 32}")
    data_args: dict = option({}, "options of a folder reader, e.g. for MIDI folders {bars = 4, hop = 1, low = 24, "
                                 "high = 107, tracks = \"auto\"} (see ganvas/data/midi_folder.py)")
    fit: str = option("crop", "how a non-square folder image is squared: crop (centre) | pad (white)",
                      choices=("crop", "pad"))
    tileable: bool = option(False, "image models: G pads circularly, so every output tiles seamlessly (textures, "
                                   "game tiles), and D sees reals and fakes shifted circularly by random amounts")
    conditional: bool = option(False, "condition G and D on the data's labels (classes): sample by class name "
                                      "(`ganvas sample RUN --class NAME`); needs labelled data")
    class_loss: float = option(0.0, "conditional runs: weight of an auxiliary classification loss (AC-GAN, Odena et "
                                    "al. 2017) read from the projection D's class scores: D learns the reals' classes, "
                                    "G is pushed to make the class asked for; 0 = off (projection alone)", min=0)
    can: float = option(0.0, "creative adversarial network (Elgammal et al. 2017), unconditional image runs on "
                             "labelled data: D also learns the data's classes (styles) and G is rewarded, with this "
                             "weight, for outputs whose style D cannot place (style ambiguity); 0 = off", min=0)
    min_class_count: int = option(0, "conditional runs: classes with fewer examples are merged into one class "
                                     "'other' (0 = keep every class)", min=0)
    exclude: str = option("", "a text file of items to leave out of the data (training set and held-out split): one "
                              "per line, a content hash sha256:<hex> of the item's stored array or source file, or "
                              "its path, file name or key; # comments; '' = none (ganvas/data/exclude.py)")
    holdout: float = option(0.0, "share of the data kept out of training for evaluation (held-out FD, "
                                 "data-copying C_T); 0 to 0.5", min=0)
    # How long.
    kimg: float = option(0.0, "stop after this many thousand real images shown to D; 0 = no limit", min=0)
    minutes: float = option(0.0, "stop after this many minutes of training; 0 = no limit", min=0)
    # The adversarial game.
    loss: str = option("ns", "{choices} (ns = non-saturating; ganvas/objectives/losses.py)",
                       choices=Choices(LOSSES))
    gp_weight: float = option(10.0, "gradient-penalty weight λ for wgan-gp (Gulrajani et al. 2017)", min=0)
    r1_gamma: float = option(0.0, "R1 penalty γ on real images (Mescheder et al. 2018); 0 = off", min=0)
    r2_gamma: float = option(0.0, "R2 penalty γ on generated images, zero-centred like R1 (R3GAN, Huang et al. 2024; "
                                  "pairs with loss = rpgan); 0 = off", min=0)
    r1_every: int = option(1, "apply R1 and R2 every N D steps, scaled by N (lazy regularisation); >= 1", min=1)
    n_critic: int = option(1, "D steps per G step; >= 1 (5 is usual for wgan-gp)", min=1)
    batch_size: int = option(64, "images per D or G step, over all processes of a torchrun run (each of N "
                                 "takes batch_size / N); >= 1", min=1)
    lr_g: float = option(2e-4, "Adam learning rate of G; > 0", min=0, exclusive=True)
    lr_d: float = option(2e-4, "Adam learning rate of D; > 0", min=0, exclusive=True)
    betas_g: list = option([0.5, 0.999], "Adam (β1, β2) of G, each in [0, 1)")
    betas_d: list = option([0.5, 0.999], "Adam (β1, β2) of D, each in [0, 1)")
    # Augmenting every image D sees (reals and fakes), for small datasets; image models only.
    augment: str = option("none", "{choices}; diffaugment (Zhao et al. 2020): every transform, always; ada (Karras "
                                  "et al. 2020): each transform with probability p, adapted to D's overfitting",
                          choices=Choices(AUGMENTS))
    augment_policy: str = option("", "comma-separated transform groups; '' = the method's default. diffaugment: "
                                     "color, translation, cutout (default all); ada: blit, geom, color, cutout "
                                     "(default blit,geom,color)")
    augment_p: float = option(0.0, "ada: initial probability p of each transform, in [0, 1]", min=0, max=1)
    ada_target: float = option(0.6, "ada: target of r_t = E[sign(D(real))]; p rises while r_t is above it, "
                                    "in [0, 1); 0 = p stays at augment_p", min=0, max=1, exclusive_max=True)
    ada_kimg: float = option(500.0, "ada: adjustment speed, thousands of real images for p to move by 1 "
                                    "(500 in the paper); > 0", min=0, exclusive=True)
    ada_interval: int = option(4, "ada: adjust p every N D steps; >= 1", min=1)
    # Averaging G for sampling.
    ema_kimg: float = option(5.0, "half-life of G's weight average in kimg; 0 = no averaging", min=0)
    ema_rampup: float = option(0.05, "early half-life cap as a fraction of images seen; 0 = none", min=0)
    # Bookkeeping.
    seed: int = option(0, "seed of every random choice in the run; >= 0", min=0)
    checkpoint_every: int = option(500, "steps between checkpoints (one is always written at the end)", min=1)
    keep_checkpoints: int = option(3, "how many recent checkpoints to keep; >= 1", min=1)
    sample_every: int = option(200, "steps between sample grids (samples/ and TensorBoard)", min=1)
    sample_count: int = option(64, "images in each sample grid; >= 1", min=1)
    log_every: int = option(20, "steps between log rows (metrics.jsonl and TensorBoard)", min=1)
    # Evaluation during training (ganvas.eval; `ganvas evaluate` for a full report).
    eval_every: int = option(0, "steps between evaluations (eval/* in the logs, checkpoints/best); 0 = never", min=0)
    eval_features: str = option("auto", "extractor: {choices}; auto = domain if the data has labels, else random",
                                choices=Choices(EXTRACTORS, first=("auto",)))
    eval_n: int = option(1000, "generated samples per evaluation (at most the held-out or training images); >= 6",
                         min=6)
    eval_metric: str = option("fd", "what picks checkpoints/best: fd | kid (lower is better) | precision | recall | "
                                    "density | coverage | authenticity (higher)",
                              choices=("fd", "kid", "precision", "recall", "density", "coverage", "authenticity"))
    # Speed.
    threads: int = option(0, "CPU threads for torch; 0 = OMP_NUM_THREADS where set, else one per core", min=0)
    channels_last: bool = option(True, "NHWC memory layout for image models (faster convolutions on CPU)")
    device: str = option("cpu", "cpu | cuda | auto (cuda when torch sees a GPU); under torchrun each process takes "
                                "the GPU of its local rank", choices=("cpu", "cuda", "auto"))
    precision: str = option("fp32", "fp32 | auto (CUDA: bf16 autocast where supported, else fp16 with loss "
                                    "scaling; CPU: fp32) | bf16 | fp16 (forced, on any device)",
                            choices=("fp32", "auto", "bf16", "fp16"))
    compile: bool = option(False, "torch.compile G and D (dynamic=False); the first steps of each batch shape are "
                                  "slow while compiling; works on CPU, failed for dcgan on CUDA with torch 2.11 "
                                  "(docs/scaling.md)")

    def validate(self) -> TrainConfig:
        """Check every field against its documented range; the first violation is a one-line error."""
        check_fields(self, "config field")
        for name in ("betas_g", "betas_d"):
            betas = getattr(self, name)
            if len(betas) != 2 or not all(isinstance(b, int | float) and 0 <= b < 1 for b in betas):
                raise GanvasError(f"config field '{name}' must be two numbers in [0, 1), got {betas!r}")
        if self.holdout > 0.5:
            raise GanvasError(f"config field 'holdout' must be a share in [0, 0.5], got {self.holdout!r}")
        if self.can and self.conditional:
            raise GanvasError("config field 'can' pushes G away from every class, 'conditional' asks it for one: "
                              "set one of them (can > 0 with conditional = false, or can = 0)")
        for name in ("model_args", "data_args"):
            if not isinstance(getattr(self, name), dict):
                raise GanvasError(f"config field '{name}' must be a table, got {getattr(self, name)!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        """Build a config from a mapping, refusing unknown keys so typos are not silently ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in names:
                raise unknown_name(f"field in {source}", key, sorted(names))
        cfg = cls(**{k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()})
        for f in dataclasses.fields(cls):  # TOML gives ints where floats are meant: normalise
            if f.type == "float" and isinstance(getattr(cfg, f.name), int) and not isinstance(
                getattr(cfg, f.name), bool
            ):
                setattr(cfg, f.name, float(getattr(cfg, f.name)))
        return cfg

    def with_overrides(self, overrides: dict[str, Any], source: str = "command line") -> TrainConfig:
        """A copy with `overrides` applied; ``model_args.x`` keys set one model option."""
        values = self.to_dict()
        for key, value in overrides.items():
            if key.startswith(("model_args.", "data_args.")):
                table, _, name = key.partition(".")
                values[table] = {**values[table], name: value}
            else:
                values[key] = value
        return TrainConfig.from_dict(values, source)

    @staticmethod
    def help_text() -> str:
        """One line per field: name, default and allowed values (the `ganvas train --help` epilogue)."""
        rows = [f"{f.name} = {f.default if f.default is not dataclasses.MISSING else f.default_factory()!r}"
                f"  # {field_help(f)}" for f in dataclasses.fields(TrainConfig)]
        return "\n".join(rows)


def field_help(f: dataclasses.Field) -> str:
    """A field's help text with ``{choices}`` filled in from its (registry) choices."""
    text = f.metadata.get("help", "")
    if "{choices}" in text:
        text = text.replace("{choices}", " | ".join(f.metadata["choices"]))
    return text


def check_fields(obj: Any, what: str) -> None:
    """Validate a dataclass against its fields' types and ``min``/``max``/``choices`` metadata.

    `what` names the fields in messages, e.g. "config field" or "dcgan option".
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if kind in ("int", "float") and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise GanvasError(f"{what} '{f.name}' must be a number, got {value!r}")
        if kind == "int" and not float(value).is_integer():
            raise GanvasError(f"{what} '{f.name}' must be a whole number, got {value!r}")
        if kind == "bool" and not isinstance(value, bool):
            raise GanvasError(f"{what} '{f.name}' must be true or false, got {value!r}")
        if kind == "str" and not isinstance(value, str):
            raise GanvasError(f"{what} '{f.name}' must be text, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise GanvasError(f"{what} '{f.name}' must be finite, got {value!r}")
        if "min" in meta and (value < meta["min"] or (meta.get("exclusive") and value == meta["min"])):
            op = ">" if meta.get("exclusive") else ">="
            raise GanvasError(f"{what} '{f.name}' must be {op} {meta['min']}, got {value!r}")
        if "max" in meta and (value > meta["max"] or (meta.get("exclusive_max") and value == meta["max"])):
            op = "<" if meta.get("exclusive_max") else "<="
            raise GanvasError(f"{what} '{f.name}' must be {op} {meta['max']}, got {value!r}")
        if "choices" in meta and value not in meta["choices"]:
            raise unknown_name(f"value for {what} '{f.name}'", str(value), [str(c) for c in meta["choices"]])


def parse_value(text: str) -> Any:
    """Parse a command-line value as a TOML literal (numbers, booleans, lists), else keep the string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise GanvasError(f"--set expects KEY=VALUE (e.g. loss=hinge or model_args.ngf=32), got {text!r}")
    return key.strip(), parse_value(value.strip())


# --- presets -------------------------------------------------------------------------------------


def preset_names() -> list[str]:
    folder = resources.files("ganvas") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> dict[str, Any]:
    """The values of a built-in preset, or of a TOML file given by path."""
    path = Path(name)
    if name.endswith(".toml") and path.is_file():
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        if name not in preset_names():
            raise unknown_name("preset", name, preset_names())
        text = (resources.files("ganvas") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
        source = f"preset {name}"
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GanvasError(f"{source} is not valid TOML: {exc}") from None
    TrainConfig.from_dict(values, source).validate()
    return values
