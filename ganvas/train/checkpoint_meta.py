"""Checking a checkpoint's JSON before anything uses it, and rebuilding its model within bounds.

A checkpoint folder may have been copied, truncated or edited by hand: every field that loading or
resuming reads is checked for its type and range first, so a damaged file is a one-line error naming
the file and the field, not a traceback from deep inside torch. The model's options are numbers a file
can set to anything; the model is built with a cap on the tensors it creates (checked before each is
allocated) and on its layers, so an option of 10**12 is refused instead of asking for petabytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode

from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from ganvas.nets.base import DataSpec, GanModel

MAX_MODEL_VALUES = 2**31     # tensor values a model may create (8 GiB in float32); ganvas's largest
                             # models hold well under 10**8. A checkpoint's model may create at most
SLACK_VALUES = 10**7         # twice the values its weights file holds, plus this
MAX_MODEL_LAYERS = 4096      # modules: a layer-count option of 10**12 stops here, not after hours


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(lo: int) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and v >= lo


def _is_number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v) and v >= 0


def _is_text(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _is_shape(v: Any) -> bool:
    return isinstance(v, list) and 1 <= len(v) <= 5 and all(type(d) is int and d >= 1 for d in v)


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


def _is_list_of_objects(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(g, dict) for g in v)


# (field, what it must be, test, required): parents before their children
FORMAT_VERSION_FIELD = ("format_version", "a whole number >= 1", _is_int(1), True)
LOADING = [
    ("model", "an object", _is_object, True),
    ("model.name", "a model name", _is_text, True),
    ("model.options", "an object of model options", _is_object, True),
    ("model.spec", "an object", _is_object, True),
    ("model.spec.domain", "a domain name", _is_text, True),
    ("model.spec.shape", "a list of 1 to 5 whole numbers >= 1", _is_shape, True),
    ("model.spec.num_classes", "a whole number >= 0", _is_int(0), False),
    ("model.spec.domain_args", "an object or null", lambda v: v is None or isinstance(v, dict), False),
    ("model.spec.classes", "a list of class names", lambda v: isinstance(v, list) and all(isinstance(n, str) and n
                                                                                       for n in v), False),
    ("model.tileable", "true or false", lambda v: isinstance(v, bool), False),
    ("model.conditional", "true or false", lambda v: isinstance(v, bool), False),
    ("progress", "an object", _is_object, True),
    ("progress.step", "a whole number >= 0", _is_int(0), True),
    ("progress.nimg", "a whole number >= 0", _is_int(0), True),
    ("config", "an object", _is_object, True),
]
RESUMING = [
    ("progress.elapsed_s", "a number >= 0", _is_number, True),
    ("dataset", "an object", _is_object, True),
    ("dataset.fingerprint", "text", _is_text, True),
    ("sampler", "an object", _is_object, True),
    ("samplers", "an object", _is_object, False),
    ("rng", "an object", _is_object, True),
    ("rng.torch", "text (base64)", _is_text, True),
    ("rng.latent", "text (base64)", _is_text, True),
    ("objective", "an object", _is_object, False),
    ("optimizers", "an object", _is_object, True),
    ("optimizers.G", "a list of objects", _is_list_of_objects, True),
    ("optimizers.D", "a list of objects", _is_list_of_objects, True),
    ("evaluation", "an object or null", lambda v: v is None or isinstance(v, dict), False),
    ("precision", "an object or null", lambda v: v is None or isinstance(v, dict), False),
]


def check_fields(meta: Any, file: Path, fields: list[tuple[str, str, Callable[[Any], bool], bool]]) -> None:
    """Refuse the first field of `fields` that is missing (when required) or not what it must be."""
    if not isinstance(meta, dict):
        raise GanvasError(f"checkpoint file '{file}' must hold a JSON object, got {type(meta).__name__} "
                          f"{_short(meta)}")
    for name, expected, test, required in fields:
        node: Any = meta
        for part in name.split("."):
            if not isinstance(node, dict) or part not in node:
                if required:
                    raise GanvasError(f"checkpoint file '{file}' lacks field '{name}' ({expected})")
                break
            node = node[part]
        else:
            if not test(node):
                raise GanvasError(f"checkpoint file '{file}' field '{name}' must be {expected}, got {_short(node)}")


# --- building the model within bounds ------------------------------------------------------------


class _TooLarge(Exception):
    pass


_FACTORIES = {"empty", "zeros", "ones", "full", "rand", "randn", "empty_strided"}   # size comes first


def _numel(size: Any) -> int:
    dims = size if isinstance(size, tuple | list | torch.Size) else (size,)
    total = 1
    for d in dims:
        total *= int(d) if type(d) is int else 1        # a size torch will refuse anyway (8.0) counts as 1
    return total


class _Budget(TorchFunctionMode):
    """Refuse, before it is allocated, any tensor that takes the values created so far over the limit;
    count the layers (modules) registered. Only this thread's model building is watched."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.values = 0
        self.layers = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _FACTORIES and getattr(func, "__module__", "") == "torch":
            if kwargs.get("size") is not None:
                size = kwargs["size"]
            elif args and isinstance(args[0], tuple | list | torch.Size):
                size = args[0]
            else:                           # torch.empty(3, 4)
                size = args
            self.values += _numel(size)
            if self.values > self.limit:
                raise _TooLarge(f"{self.values:.2g} values or more, {self.limit:.2g} allowed")
        return func(*args, **kwargs)


_watching = threading.local()


def _count_module(module: torch.nn.Module, name: str, value: Any) -> None:
    budget = getattr(_watching, "budget", None)
    if budget is not None:
        budget.layers += 1
        if budget.layers > MAX_MODEL_LAYERS:
            raise _TooLarge(f"over {MAX_MODEL_LAYERS} layers allowed")


@contextlib.contextmanager
def _bounded(limit: int) -> Iterator[_Budget]:
    from torch.nn.modules import module as nn_module

    budget = _Budget(limit)
    _watching.budget = budget
    hook = nn_module.register_module_module_registration_hook(_count_module)
    try:
        with budget:
            yield budget
    finally:
        hook.remove()
        _watching.budget = None


def _suspect(model_cls: type, spec: DataSpec, options: dict[str, Any], prefix: str = "model.options") -> str:
    """The field most likely to blame for a model that cannot be built: an option of the wrong type, else
    the option furthest above its default, else the data shape."""
    defaults = {f.name: f.default for f in dataclasses.fields(model_cls.Options)}
    for key, value in options.items():      # a float where the model counts (channels, layers)
        if type(defaults.get(key)) is int and type(value) is not int:
            return f"field '{prefix}.{key}' ({_short(value)}, a whole number expected)"
    ratios = [(v / max(abs(defaults[k]), 1), k) for k, v in options.items()
              if type(v) in (int, float) and type(defaults.get(k)) in (int, float) and v > defaults[k]]
    if ratios:
        key = max(ratios)[1]
        return f"field '{prefix}.{key}' ({_short(options[key])})"
    return f"field 'model.spec.shape' ({list(spec.shape)})"


def build_bounded(model_cls: type, spec: DataSpec, options: dict[str, Any], limit: int = MAX_MODEL_VALUES,
                  prefix: str = "model.options", tileable: bool = False, conditional: bool = False) -> GanModel:
    """Build the model, refusing (before allocating them) options that make it create over `limit`
    values, and turning any failure of building it from these options into a one-line error naming the
    likely field (`prefix`: where the options sit in checkpoint.json)."""
    try:
        with _bounded(limit):
            return model_cls.build(spec, options, tileable=tileable, conditional=conditional)
    except GanvasError:
        raise
    except _TooLarge as exc:
        raise GanvasError(f"it asks for a model too large to build ({exc}): "
                          f"{_suspect(model_cls, spec, options, prefix)} is damaged or was edited") from None
    except Exception as exc:        # e.g. an option of 8.0 where a layer needs an int, or a size that overflows
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise GanvasError(f"its model cannot be built ({reason}): check "
                          f"{_suspect(model_cls, spec, options, prefix)}") from None


def build_saved(model_cls: type, spec: DataSpec, options: dict[str, Any], ckpt_dir: Path,
                tileable: bool = False, conditional: bool = False) -> GanModel:
    """The model a run resuming from `ckpt_dir` trains, its options from the checkpoint's config: at
    most about as large as the saved weights (nets.safetensors holds G, D and G's average, >= 2 bytes each)."""
    nets = ckpt_dir / "nets.safetensors"
    stored = nets.stat().st_size // 2 if nets.is_file() else MAX_MODEL_VALUES
    try:
        return build_bounded(model_cls, spec, options, min(MAX_MODEL_VALUES, 2 * stored + SLACK_VALUES),
                             "config.model_args", tileable, conditional)
    except GanvasError as exc:
        raise GanvasError(f"checkpoint '{ckpt_dir / 'checkpoint.json'}' cannot be resumed from: {exc}") from None


def rebuild(meta: dict[str, Any], ckpt_dir: Path, stored: int | None = None) -> tuple[type, GanModel]:
    """The model class and a freshly built model (random weights) that a checkpoint's weights fit; the
    fields loading reads are checked first. `stored`: how many values the checkpoint's weights hold
    (the model they fit cannot need many more)."""
    from ganvas.nets import MODELS
    from ganvas.nets.base import DataSpec

    file = ckpt_dir / "checkpoint.json"
    check_fields(meta, file, LOADING)
    desc = meta["model"]
    try:
        model_cls = MODELS.get(desc["name"])
        spec = DataSpec.from_dict(desc["spec"])
        limit = MAX_MODEL_VALUES if stored is None else min(MAX_MODEL_VALUES, 2 * stored + SLACK_VALUES)
        model = build_bounded(model_cls, spec, desc["options"], limit, tileable=desc.get("tileable", False),
                              conditional=desc.get("conditional", False))
    except GanvasError as exc:      # e.g. options of an older or newer ganvas
        raise GanvasError(f"checkpoint '{file}' cannot be rebuilt from its field 'model': {exc}") from None
    return model_cls, model
