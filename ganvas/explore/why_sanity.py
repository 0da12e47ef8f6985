"""Are D's maps about D? The checks a map must pass before anyone reads it (ganvas.explore.why makes the maps).

- `sanity_check`: Adebayo et al. (2018), model randomisation. The maps are recomputed with D's weights
  re-initialised (all at once, and cascading from the top layer down); their Spearman rank correlation with
  the trained D's maps (of |map|) must be low, else the map shows the picture, not D.
- `deletion`: greying the cells a map ranks most "towards real" must move D's score more than greying as
  many random cells: the map points at what the score rests on.
- `edges`: the picture's edge strength, to show a map is not an edge detector in disguise.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ganvas.explore.why import (
    STEPS,
    Judge,
    Maps,
    baseline_value,
    check_samples,
    default_method,
    explain,
    judge_for,
    judge_scores,
)

if TYPE_CHECKING:
    from ganvas.loaded import LoadedModel

CASCADE_POINTS = 8          # depths the cascading test stops at (every layer of a D with no more)
SANITY_BOUND = 0.5          # median Spearman ρ of |map| below which maps pass the randomisation test (trained
                            # DCGANs measured 0.08–0.25; Ds of a few dozen steps 0.52 and 0.96: docs/why-fake.md)


def deletion(model: LoadedModel, maps: Maps, fraction: float = 0.05, seed: int = 0,
             condition: torch.Tensor | None = None, context: torch.Tensor | None = None,
             direction: str = "AtoB") -> tuple[np.ndarray, np.ndarray]:
    """How much D's score drops when the `fraction` of cells the map ranks most "towards real" are set to the
    baseline, against as many cells drawn at random (from `seed`): (drops of the map's cells, random drops),
    one per sample. A map that explains D finds the cells D's verdict rests on (a faithfulness check in the
    spirit of Samek et al.'s pixel flipping; cheap: two forward passes)."""
    x = maps.samples
    flat = x.flatten(2).clone()                           # N × channels × cells
    cells = flat.shape[2]
    k = max(1, int(round(fraction * cells)))
    rng = np.random.default_rng(seed)
    top, rnd = flat.clone(), flat.clone()
    base = baseline_value(model)
    for i in range(x.shape[0]):
        order = np.argsort(-maps.maps[i].ravel(), kind="stable")[:k]
        top[i][:, torch.as_tensor(order, device=x.device)] = base
        rnd[i][:, torch.as_tensor(rng.choice(cells, k, replace=False), device=x.device)] = base
    def scores(y: torch.Tensor) -> np.ndarray:
        return judge_scores(model, y, condition, context=context, direction=direction)

    before = scores(x)
    return before - scores(top.view_as(x)), before - scores(rnd.view_as(x))


# --- the model-randomisation sanity check --------------------------------------------------------------


def layers_in_order(net: nn.Module, example: Callable[[], Any]) -> list[str]:
    """Names of D's modules that hold weights of their own, in the order a forward pass calls them
    (`example` runs one): the order the cascading test randomises them in, from the top (last) down."""
    order: list[str] = []
    handles = []
    for name, mod in net.named_modules():
        if any(True for _ in mod.parameters(recurse=False)):
            handles.append(mod.register_forward_hook(lambda m, i, o, name=name: order.append(name)
                                                     if name not in order else None))
    try:
        with torch.no_grad():
            example()
    finally:
        for h in handles:
            h.remove()
    return order


def randomised(judge: Judge, seed: int, model: Any, modules: Sequence[str] | None = None) -> Judge:
    """`judge` with D's weights re-initialised as the model initialises a new D (from `seed`): every layer, or
    only the layers named in `modules` (the cascading test). Buffers (BatchNorm statistics) of those layers
    are reset too."""
    return dataclasses.replace(judge, net=randomised_net(judge.net, model, seed, modules))


def randomised_net(net: nn.Module, model: Any, seed: int, modules: Sequence[str] | None = None) -> nn.Module:
    """A copy of D whose weights (all, or those of `modules`) are the model's own initialisation, drawn from
    `seed`: a fresh model of the same class and options is built and its D's tensors copied in."""
    fresh_model = _fresh_model(model, seed)
    fresh = next(getattr(fresh_model, n) for n in model.discriminator_names
                 if type(getattr(fresh_model, n)) is type(net) and _same_shapes(getattr(fresh_model, n), net))
    out = copy.deepcopy(net)
    wanted = None if modules is None else set(modules)
    fresh_mods = dict(fresh.named_modules())
    with torch.no_grad():
        for name, mod in out.named_modules():
            if wanted is not None and name not in wanted:
                continue
            src = fresh_mods[name]
            for pname, p in mod.named_parameters(recurse=False):
                p.copy_(getattr(src, pname).to(p.device, p.dtype))
            for bname, buf in mod.named_buffers(recurse=False):
                if buf.is_floating_point():
                    buf.copy_(getattr(src, bname).to(buf.device, buf.dtype))
    return out.eval().requires_grad_(False)


def _same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


def _fresh_model(model: Any, seed: int) -> Any:
    """A new model of `model`'s class, options, tileability and classes, initialised from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return type(model).build(model.spec, dataclasses.asdict(model.options), tileable=model.tileable,
                                 conditional=bool(model.num_classes))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps (ties get their average rank); 0 when either is constant,
    which shares no ordering with anything."""
    from scipy.stats import rankdata

    ra, rb = rankdata(np.ravel(a)), rankdata(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return 0.0 if den == 0 else float((ra * rb).sum() / den)


def edges(x: torch.Tensor) -> np.ndarray:
    """Sobel gradient magnitude of each sample, summed over channels (N × H × W): what an edge detector sees."""
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
    c = x.shape[1]
    kx, ky = k.expand(c, 1, 3, 3), k.t().expand(c, 1, 3, 3)
    p = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = torch.nn.functional.conv2d(p, kx, groups=c)
    gy = torch.nn.functional.conv2d(p, ky, groups=c)
    return (gx.square() + gy.square()).sqrt().sum(1).detach().cpu().numpy()


@dataclass
class SanityCheck:
    """The model-randomisation test: trained maps against maps of D re-initialised."""

    method: str
    rho: np.ndarray                         # per sample: Spearman of |map| trained vs all layers randomised
    rho_edges_trained: np.ndarray           # per sample: Spearman of |trained map| and the sample's edge strength
    rho_edges_random: np.ndarray            # … of |randomised map| and the edge strength (both empty for music)
    cascade: list[tuple[str, float]]        # (top layer randomised down to this one, median ρ) from the top down
    trained: Maps
    random: Maps
    seed: int

    @property
    def median(self) -> float:
        return float(np.median(self.rho))

    @property
    def passed(self) -> bool:
        """The maps changed substantially when D was randomised: median ρ below SANITY_BOUND."""
        return self.median < SANITY_BOUND

    def to_json(self) -> dict[str, Any]:
        return {"test": "model randomisation (Adebayo et al. 2018): Spearman rank correlation of |map|, trained D "
                        "against D re-initialised (all layers at once; cascade: from the top layer down)",
                "method": self.method, "seed": self.seed, "n": int(len(self.rho)),
                "median_rho": round(self.median, 4), "bound": SANITY_BOUND, "passed": self.passed,
                "rho": [round(float(r), 4) for r in self.rho],
                **({"median_rho_edges_trained": round(float(np.median(self.rho_edges_trained)), 4),
                    "median_rho_edges_random": round(float(np.median(self.rho_edges_random)), 4)}
                   if len(self.rho_edges_trained) else {}),
                "cascade": [{"randomised_down_to": name, "median_rho": round(r, 4)} for name, r in self.cascade]}


def sanity_check(model: LoadedModel, x: torch.Tensor, method: str | None = None, *,
                 condition: torch.Tensor | None = None, context: torch.Tensor | None = None,
                 direction: str = "AtoB", steps: int = STEPS, seed: int = 0, cascade: bool = True) -> SanityCheck:
    """Adebayo et al.'s model-randomisation test of the maps of samples `x`.

    D's weights are re-initialised all at once (the model's own initialisation, from `seed`) and the maps
    recomputed; per sample, the Spearman rank correlation of |map| between trained and randomised D is
    returned (low: the map depends on what D learnt). With `cascade`, layers are also randomised one more
    at a time from the top (the last one a forward pass calls) down, and the median ρ is kept after each (a
    deep D is cut at CASCADE_POINTS evenly spaced depths).
    Also the rank correlation of each map with the sample's edge strength (Sobel): an edge detector would
    score high there whatever D learnt."""
    method = method or default_method(model)
    x = check_samples(model, x)
    judge = judge_for(model, x.shape[0], condition, context, direction)
    trained = explain(model, x, method, steps=steps, judge=judge)
    rand_judge = randomised(judge, seed, model.model)
    random = explain(model, x, method, steps=steps, judge=rand_judge)
    rho = np.array([spearman(np.abs(a), np.abs(b)) for a, b in zip(trained.maps, random.maps, strict=True)])
    edges_trained = edges_random = np.zeros(0)                  # pictures only: a piano-roll has no edges to find
    if model.domain.name == "image":
        e = edges(x)
        edges_trained = np.array([spearman(np.abs(a), b) for a, b in zip(trained.maps, e, strict=True)])
        edges_random = np.array([spearman(np.abs(a), b) for a, b in zip(random.maps, e, strict=True)])
    steps_cascade: list[tuple[str, float]] = []
    if cascade:
        order = layers_in_order(judge.net, lambda: judge.score(x[:1], torch.zeros(1, dtype=torch.long,
                                                                                   device=x.device)))
        for k in sorted({round(v) for v in np.linspace(1, len(order), min(len(order), CASCADE_POINTS))}):
            j = randomised(judge, seed, model.model, order[len(order) - k:])
            r = explain(model, x, method, steps=steps, judge=j)
            steps_cascade.append((order[len(order) - k], float(np.median(
                [spearman(np.abs(a), np.abs(b)) for a, b in zip(trained.maps, r.maps, strict=True)]))))
    return SanityCheck(method, rho, edges_trained, edges_random, steps_cascade, trained, random, seed)
