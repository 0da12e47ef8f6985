"""Units of a generator layer: which layers there are, and switching units off or up while drawing.

After Bau et al., "GAN Dissection" (ICLR 2019): a unit is one channel of a layer's feature map; zeroing
the units that agree with a concept removes it from the output, and raising them adds more of it.

A unit edit is part of a recipe (``{"units": [{"layer": "net.5", "units": [3, 17], "mode": "off"}]}``),
so the CLI, the API and the studio draw it the same way and provenance records it. It is applied by a
forward hook on the layer that lives only while one batch is drawn (`intervene`), never left installed:
the same loaded model serves other requests between draws.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from ganvas.api import Generator

MODES = ("off", "up")
DEFAULT_UP = 3.0            # `up` multiplies a unit's activation by this unless an amount is given
MAX_UP = 20.0               # beyond this the outputs saturate anyway
MAX_EDITS = 16              # unit edits in one recipe
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.PReLU, nn.ELU)


@dataclass(frozen=True)
class LayerInfo:
    """One layer of G whose output is a feature map of units (channels)."""

    name: str                               # the module's name in G.named_modules()
    kind: str                               # the module's class, e.g. ReLU
    units: int                              # channels of its output
    height: int                             # its feature map's size for one output
    width: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "units": self.units, "size": [self.height, self.width]}


@dataclass(frozen=True)
class UnitEdit:
    """Switch `units` of `layer` off (zero) or up (× amount) in every output drawn."""

    layer: str                              # G's module (see `layers`)
    units: tuple[int, ...]                  # channel indices
    mode: str = "off"                       # off | up
    amount: float | None = None             # up: the factor (default DEFAULT_UP); off: unused

    def factor(self) -> float:
        return 0.0 if self.mode == "off" else float(DEFAULT_UP if self.amount is None else self.amount)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"layer": self.layer, "units": list(self.units), "mode": self.mode}
        if self.mode == "up":
            out["amount"] = self.factor()
        return out


def _generator_net(G: Generator) -> nn.Module:
    return G.model.G


@torch.no_grad()
def layers(G: Generator) -> list[LayerInfo]:
    """G's modules whose output is a feature map (N×C×H×W, C > 3) computed once per output, in the order they
    finish (an inner convolution before the layer holding it); found by drawing one output with a hook on every
    module (cached on G)."""
    cached = getattr(G, "_unit_layers", None)
    if cached is not None:
        return cached
    from ganvas.explore import latent as L

    named = [(n, m) for n, m in _generator_net(G).named_modules() if n]    # blocks too: a style layer is one
    seen: dict[str, list[tuple[int, ...]]] = {}
    order: list[str] = []

    def hook_for(name: str):
        def hook(_m: Any, _inp: Any, out: Any) -> None:
            t = out[0] if isinstance(out, tuple | list) else out
            if torch.is_tensor(t):
                if name not in seen:
                    order.append(name)
                seen.setdefault(name, []).append(tuple(t.shape))
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in named]
    try:
        L.draw(G, L.seed_codes(G, [0]))
    finally:
        for h in handles:
            h.remove()
    kinds = dict(named)
    found = []
    for name in order:
        shapes = seen[name]
        if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][0] != 1 or shapes[0][1] <= 3:
            continue
        _, c, h, w = shapes[0]
        found.append(LayerInfo(name, type(kinds[name]).__name__, int(c), int(h), int(w)))
    if not found:
        raise GanvasError(f"generator of '{G.name}' has no layer with a feature map of units to dissect")
    G._unit_layers = found
    return found


def default_layer(G: Generator) -> str:
    """The middle one of G's activation layers (Bau et al. find object units in the middle layers); the middle
    feature-map layer when G has no separate activation modules."""
    found = layers(G)
    acts = [info for info in found if isinstance(G.model.layer(info.name), ACTIVATIONS)] or found
    return acts[len(acts) // 2].name


def layer_info(G: Generator, name: str | None) -> LayerInfo:
    """The layer called `name` (default: `default_layer`), or a one-line error listing the ones there are."""
    name = name or default_layer(G)
    for info in layers(G):
        if info.name == name:
            return info
    names = ", ".join(i.name for i in layers(G))
    raise GanvasError(f"generator of '{G.name}' has no layer '{name}' with units; layers with units: {names}")


def check_units(info: LayerInfo, units: Sequence[Any], what: str = "units") -> tuple[int, ...]:
    """Unit indices checked against the layer: whole numbers in 0..units−1, at least one."""
    if isinstance(units, str | bytes) or not isinstance(units, Sequence) or not units:
        raise GanvasError(f"{what} must be a non-empty list of unit numbers of layer '{info.name}' "
                          f"(0-{info.units - 1}), got {units!r}")
    out = []
    for u in units:
        if isinstance(u, bool) or not isinstance(u, int) or not 0 <= u < info.units:
            raise GanvasError(f"unit {u!r} does not exist: layer '{info.name}' has units 0-{info.units - 1}")
        out.append(int(u))
    return tuple(dict.fromkeys(out))


def parse_edit(d: Any, G: Generator | None) -> UnitEdit:
    """A unit edit from JSON-like data (``{layer, units, mode, amount}``), checked against G when given."""
    if not isinstance(d, dict) or "units" not in d:
        raise GanvasError("each unit edit needs 'units' (a list of unit numbers), and may give 'layer', "
                          "'mode' (off | up) and 'amount'")
    extra = sorted(set(d) - {"layer", "units", "mode", "amount"})
    if extra:
        raise GanvasError(f"unknown unit edit field(s) {', '.join(extra)}; known: amount, layer, mode, units")
    mode = d.get("mode") or "off"
    if mode not in MODES:
        raise GanvasError(f"unit edit mode must be one of {', '.join(MODES)}, got {mode!r}")
    amount = d.get("amount")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not math.isfinite(amount) \
                or not 0 <= amount <= MAX_UP:
            raise GanvasError(f"unit edit amount must be a factor in [0, {MAX_UP:g}], got {amount!r}")
        amount = float(amount)
    layer = d.get("layer")
    if layer is not None and not isinstance(layer, str):
        raise GanvasError(f"unit edit 'layer' must be a layer name, got {layer!r}")
    if G is None:
        if layer is None:
            raise GanvasError("a unit edit without a model needs its 'layer'")
        units = d["units"]
        if not isinstance(units, list | tuple) or not all(isinstance(u, int) and not isinstance(u, bool)
                                                          for u in units):
            raise GanvasError(f"units must be a list of unit numbers, got {units!r}")
        return UnitEdit(layer, tuple(units), mode, amount if mode == "up" else None)
    info = layer_info(G, layer)
    return UnitEdit(info.name, check_units(info, d["units"]), mode, amount if mode == "up" else None)


def parse_edits(values: Any, G: Generator | None) -> list[UnitEdit]:
    if values is None:
        return []
    if not isinstance(values, list | tuple):
        raise GanvasError("a recipe's 'units' must be a list of unit edits {layer, units, mode, amount}")
    if len(values) > MAX_EDITS:
        raise GanvasError(f"a recipe takes at most {MAX_EDITS} unit edits, got {len(values)}")
    return [parse_edit(v, G) for v in values]


@contextlib.contextmanager
def intervene(G: Generator, edits: Sequence[UnitEdit]) -> Iterator[None]:
    """While inside, every output `G` draws has `edits` applied at their layers; the hooks go on exit.

    Callers that share `G` between threads hold its lock around the whole block (the studio's compute lock).
    """
    if not edits:
        yield
        return
    by_layer: dict[str, list[UnitEdit]] = {}
    for e in edits:
        by_layer.setdefault(e.layer, []).append(e)
    handles = []

    def hook_for(group: list[UnitEdit]):
        def hook(_m: Any, _inp: Any, out: Any) -> Any:
            t = out[0] if isinstance(out, tuple | list) else out
            scale = torch.ones(t.shape[1], dtype=t.dtype, device=t.device)
            for e in group:
                if max(e.units) >= t.shape[1]:
                    raise GanvasError(f"unit {max(e.units)} does not exist: layer '{e.layer}' has units "
                                      f"0-{t.shape[1] - 1}")
                scale[list(e.units)] = e.factor()
            t = t * scale.view(1, -1, *([1] * (t.dim() - 2)))
            return (t, *out[1:]) if isinstance(out, tuple) else t
        return hook

    try:
        for name, group in by_layer.items():
            handles.append(G.model.layer(name).register_forward_hook(hook_for(group)))
        yield
    finally:
        for h in handles:
            h.remove()


def draw(G: Generator, codes: torch.Tensor, edits: Sequence[UnitEdit] = ()) -> torch.Tensor:
    """Outputs of final edit-space codes with `edits` applied (`ganvas.explore.latent.draw` when none)."""
    from ganvas.explore import latent as L

    with intervene(G, edits):
        return L.draw(G, codes)
