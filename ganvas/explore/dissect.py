"""Units, dissected: which units of a generator layer agree with which concept, and what switching them does.

After Bau et al., "GAN Dissection: Visualizing and Understanding Generative Adversarial Networks" (ICLR
2019). Draw many seeds, keep one layer's activations (a unit = a channel), and score every unit against
each concept:

- ``foreground`` (a mask): the pixels that differ from the background, estimated per output from its
  border. A unit's map is upsampled to the output's size and thresholded at the unit's own top quantile
  over all samples and positions (``quantile``, 0.99 as in the paper); its score is the IoU of those
  pixels with the mask, pooled over all samples.
- each class of the data's ``domain`` classifier (`ganvas.eval.domain_net`, trained once per labelled
  dataset): the correlation, over samples, of the unit's mean activation with the class's probability.
  Masks of a class would need a segmenter of that class; a classifier is what a labelled set gives.

Units are ranked per concept. Whether a ranking means anything is measured, not assumed (`effect`):
switch the concept's top-k units off on held-out seeds and read every concept again, beside k random
units of the same layer switched off (the control). Results are cached per checkpoint beside the run
(``RUN/explore/step-N/units-….json``, written atomically; a cache whose weights changed is recomputed).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.explore import latent as L
from ganvas.explore import units as U
from ganvas.explore.ganspace import _stamp, cache_dir

if TYPE_CHECKING:
    from PIL import Image

    from ganvas.api import Generator
    from ganvas.eval.domain_net import DomainRecipe

FORMAT = "ganvas-units"
FORMAT_VERSION = 1
FOREGROUND = "foreground"
DEFAULT_SAMPLES = 256       # seeds drawn to score units (seconds for a small model on one CPU core)
MAX_SAMPLES = 4096
QUANTILE = 0.99             # a unit is "on" where it is above its own 99th percentile (Bau et al.: top 0.5–1 %)
FG_DIFF = 0.25              # a pixel is foreground when a channel differs from the border's median by this ([-1, 1])
EFFECT_SEED = 1_000_000     # held-out seeds of `effect`: never among the seeds the units were ranked on
EFFECT_SAMPLES = 64
TOP = 8                     # units per concept shown and switched by default
REPORT_CONCEPTS = 6         # concepts whose switching the report measures (each costs 3 × 64 outputs)


@dataclass
class Concept:
    """One concept and every unit's agreement with it."""

    name: str                               # foreground, or a class name
    kind: str                               # mask | class
    measure: str                            # iou | correlation
    scores: list[float]                     # one per unit

    def top(self, k: int = TOP) -> list[int]:
        """The k units that agree most (highest score first; ties by unit number)."""
        order = sorted(range(len(self.scores)), key=lambda u: (-self.scores[u], u))
        return order[:max(0, k)]


@dataclass
class Dissection:
    """Units of one layer of one checkpoint scored against concepts."""

    layer: str                              # G's module
    units: int                              # its channels
    size: list[int]                         # its feature map [h, w]
    samples: int                            # seeds seed … seed+samples−1 were drawn
    seed: int
    quantile: float                         # the per-unit threshold's quantile
    thresholds: list[float]                 # each unit's threshold
    concepts: dict[str, Concept]            # by name, foreground first, then the classes in label order
    classifier: dict[str, Any] | None = None   # the domain classifier's labels, accuracy and weights hash
    info: dict[str, Any] = field(default_factory=dict)   # checkpoint, seconds, why classes are missing

    def concept(self, name: str) -> Concept:
        if name not in self.concepts:
            raise GanvasError(f"no concept '{name}' in this dissection; concepts: {', '.join(self.concepts)}")
        return self.concepts[name]

    def top(self, name: str, k: int = TOP) -> list[int]:
        return self.concept(name).top(k)

    def to_json(self, k: int | None = None) -> dict[str, Any]:
        """The JSON form; `k`: each concept's top k units (with scores) instead of every unit's score."""
        d = asdict(self)
        d["concepts"] = []
        for c in self.concepts.values():
            entry: dict[str, Any] = {"name": c.name, "kind": c.kind, "measure": c.measure}
            if k is None:
                entry["scores"] = c.scores
            else:
                entry["top"] = [{"unit": u, "score": round(c.scores[u], 4)} for u in c.top(k)]
            d["concepts"].append(entry)
        if k is not None:
            d.pop("thresholds")
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Dissection:
        concepts = {c["name"]: Concept(c["name"], c["kind"], c["measure"], [float(s) for s in c["scores"]])
                    for c in d["concepts"]}
        return cls(d["layer"], int(d["units"]), list(d["size"]), int(d["samples"]), int(d["seed"]),
                   float(d["quantile"]), [float(t) for t in d["thresholds"]], concepts, d.get("classifier"),
                   d.get("info") or {})


# --- what a picture shows ---------------------------------------------------------------------------


def foreground(x: torch.Tensor, diff: float = FG_DIFF) -> torch.Tensor:
    """Boolean [n, H, W]: pixels of outputs x ([n, C, H, W] in [-1, 1]) unlike their border's median colour."""
    border = torch.cat([x[:, :, 0], x[:, :, -1], x[:, :, 1:-1, 0], x[:, :, 1:-1, -1]], dim=2)
    bg = border.median(dim=2).values
    return (x - bg[:, :, None, None]).abs().amax(1) > diff


class Judge:
    """What each concept amounts to in outputs: the foreground's share of the picture, each class's mean
    probability under the domain classifier. Loads (or trains, once) the classifier of G's training data."""

    def __init__(self, G: Generator, classes: bool = True, classifier: DomainRecipe | None = None,
                 train: bool = True) -> None:
        self.net = None
        self.meta: dict[str, Any] | None = None
        self.skipped: str | None = None
        if classes:
            self._load(G, classifier, train)

    def _load(self, G: Generator, recipe: DomainRecipe | None, train: bool) -> None:
        from ganvas.eval.domain_net import is_trained, load_or_train
        from ganvas.eval.evaluate import training_dataset

        try:
            dataset = training_dataset(G)
            if dataset.arrays.get("y") is None:
                self.skipped = f"'{dataset.name}' has no labels"
                return
            if not train and not is_trained(dataset, recipe):
                self.skipped = (f"the domain classifier of '{dataset.name}' is not trained yet (`ganvas explore "
                                "dissect` or `ganvas evaluate --features domain` trains it once)")
                return
            self.net, self.meta, _ = load_or_train(dataset, recipe, progress=False)
        except GanvasError as exc:
            self.skipped = str(exc)

    @property
    def labels(self) -> list[str]:
        return list(self.meta["labels"]) if self.meta else []

    def describe(self) -> dict[str, Any] | None:
        if not self.meta:
            return None
        return {"labels": self.labels, "val_accuracy": self.meta["training"]["val_accuracy"],
                "recipe": self.meta["recipe"], "weights_file_sha256": self.meta["weights_file_sha256"]}

    @torch.inference_mode()
    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities [n, K] of outputs x in [-1, 1]."""
        from ganvas.eval.features import resize_for

        images = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        return self.net(resize_for(images, int(self.meta["input_size"]))).softmax(1)

    def measure(self, x: torch.Tensor) -> dict[str, float]:
        """Each concept's value in outputs x: foreground share, then each class's mean probability."""
        out = {FOREGROUND: float(foreground(x.float().cpu()).float().mean())}
        if self.net is not None:
            p = self.probabilities(x).mean(0)
            out.update({name: float(p[i]) for i, name in enumerate(self.labels)})
        return out


# --- scoring units ----------------------------------------------------------------------------------


def _check_image(G: Generator) -> None:
    if G.model.spec.domain != "image":
        raise GanvasError(f"unit dissection scores units against pictures; '{G.name}' makes {G.model.spec.domain}")


def _seed_codes(G: Generator, seeds: Sequence[int]) -> torch.Tensor:
    return L.seed_codes(G, list(seeds))


@torch.no_grad()
def activations(G: Generator, codes: torch.Tensor, layer: str, batch: int = 64, edits: Sequence[U.UnitEdit] = (),
                lock: Callable[[], contextlib.AbstractContextManager] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(activations [n, C, h, w] of `layer`, outputs [n, …]) of final codes, drawn `batch` at a time."""
    module = G.model.layer(layer)
    store: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []

    def hook(_m: Any, _inp: Any, out: Any) -> None:
        t = out[0] if isinstance(out, tuple | list) else out
        store.append(t.detach().float().cpu().clone())

    lock = lock or contextlib.nullcontext
    for i in range(0, codes.shape[0], batch):
        with lock():                                # the hooks only live while this thread holds the model
            handle = module.register_forward_hook(hook)
            try:
                outs.append(U.draw(G, codes[i:i + batch], edits).float().cpu())
            finally:
                handle.remove()
    acts = torch.cat(store) if store else torch.empty(0)
    if acts.shape[0] != codes.shape[0]:
        raise GanvasError(f"layer '{layer}' of '{G.name}' does not run once per output; pick another layer "
                          f"(ganvas explore dissect RUN --list-layers)")
    return acts, torch.cat(outs)


def _thresholds(acts: torch.Tensor, quantile: float) -> torch.Tensor:
    """Each unit's `quantile` over all samples and positions ([C])."""
    flat = acts.transpose(0, 1).reshape(acts.shape[1], -1)
    k = min(flat.shape[1], max(1, int(round(quantile * flat.shape[1]))))
    return flat.kthvalue(k, dim=1).values


def _iou(acts: torch.Tensor, thresholds: torch.Tensor, mask: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """IoU per unit of its thresholded, upsampled maps with `mask` [n, H, W], pooled over samples ([C])."""
    inter = torch.zeros(acts.shape[1], dtype=torch.float64)
    union = torch.zeros(acts.shape[1], dtype=torch.float64)
    for i in range(0, acts.shape[0], batch):
        up = F.interpolate(acts[i:i + batch], size=mask.shape[1:], mode="bilinear", align_corners=False)
        on = up > thresholds[None, :, None, None]
        m = mask[i:i + batch, None]
        inter += (on & m).sum((0, 2, 3)).double()
        union += (on | m).sum((0, 2, 3)).double()
    return inter / union.clamp_min(1)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each column of a [n, C] with each column of b [n, K] ([C, K]; 0 where constant)."""
    a = a.double() - a.double().mean(0)
    b = b.double() - b.double().mean(0)
    den = a.norm(dim=0)[:, None] * b.norm(dim=0)[None, :]
    return torch.where(den > 1e-12, (a.T @ b) / den.clamp_min(1e-12), torch.zeros_like(den))


def compute(G: Generator, layer: str | None = None, samples: int | None = None, seed: int = 0,
            quantile: float = QUANTILE, classes: bool = True, classifier: DomainRecipe | None = None,
            batch: int = 64, lock: Callable[[], contextlib.AbstractContextManager] | None = None,
            judge: Judge | None = None) -> Dissection:
    """Score every unit of `layer` (default: `units.default_layer`) against each concept (module docstring)."""
    t0 = time.perf_counter()
    _check_image(G)
    info = U.layer_info(G, layer)
    samples = samples or DEFAULT_SAMPLES
    if not 8 <= samples <= MAX_SAMPLES:
        raise GanvasError(f"dissection samples must be in 8..{MAX_SAMPLES}, got {samples}")
    if not 0.5 <= quantile < 1:
        raise GanvasError(f"dissection quantile must be in [0.5, 1), got {quantile}")
    L.check_seed(seed)
    codes = _seed_codes(G, range(seed, seed + samples))
    acts, outs = activations(G, codes, info.name, batch, lock=lock)
    thresholds = _thresholds(acts, quantile)
    mask = foreground(outs)
    concepts = {FOREGROUND: Concept(FOREGROUND, "mask", "iou", _iou(acts, thresholds, mask).tolist())}
    judge = judge or Judge(G, classes, classifier)
    if judge.net is not None:
        probs = torch.cat([judge.probabilities(outs[i:i + 256]) for i in range(0, len(outs), 256)])
        r = _correlation(acts.mean((2, 3)), probs)
        for k, name in enumerate(judge.labels):
            if name in concepts:                    # a class called 'foreground' would hide the mask
                name = f"class:{name}"
            concepts[name] = Concept(name, "class", "correlation", r[:, k].tolist())
    extra = {"classes_skipped": judge.skipped} if judge.skipped else {}
    return Dissection(info.name, info.units, [info.height, info.width], samples, seed, float(quantile),
                      thresholds.tolist(), concepts, judge.describe(),
                      {"checkpoint": str(G.path), "seconds": round(time.perf_counter() - t0, 2), **extra})


# --- the cache ----------------------------------------------------------------------------------------


def cache_path(G: Generator, layer: str, samples: int, seed: int, quantile: float, classes: bool,
               classifier: DomainRecipe | None) -> Path:
    if not classes:
        tag = "none"
    else:
        from ganvas.eval.domain_net import DomainRecipe

        tag = (classifier or DomainRecipe()).key()
    return cache_dir(G) / f"units-{layer.replace('.', '_')}-n{samples}-s{seed}-q{quantile:g}-c{tag}.json"


def load(path: Path, stamp: dict[str, Any]) -> Dissection | None:
    """A cached dissection, or None when missing, unreadable or made from other weights."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        if d.get("format") != FORMAT or d.get("stamp") != stamp:
            return None
        return Dissection.from_json(d)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def get(G: Generator, layer: str | None = None, samples: int | None = None, seed: int = 0,
        quantile: float = QUANTILE, classes: bool = True, classifier: DomainRecipe | None = None,
        cache: bool = True, lock: Callable[[], contextlib.AbstractContextManager] | None = None,
        train: bool = True) -> Dissection:
    """The dissection of `G`'s `layer`, from the run folder's cache when made before, else computed (and cached).

    `train` False: a classifier not trained yet is not trained now (the classes are left out, and not cached)."""
    from ganvas.files import write_json

    _check_image(G)
    info = U.layer_info(G, layer)
    samples = samples or DEFAULT_SAMPLES
    path = cache_path(G, info.name, samples, seed, quantile, classes, classifier)
    stamp = _stamp(G)
    if cache and (found := load(path, stamp)) is not None:
        return found
    judge = Judge(G, classes, classifier, train)
    d = compute(G, info.name, samples, seed, quantile, classes, classifier, lock=lock, judge=judge)
    if cache and not (classes and judge.net is None and not train):
        try:
            write_json(path, {**d.to_json(), "stamp": stamp})
        except OSError as exc:              # a read-only run folder: keep it in memory only
            from ganvas.console import info as say

            say(f"could not cache the dissection in {path.parent}: {exc.strerror or exc}")
    return d


# --- what switching units does ------------------------------------------------------------------------


@dataclass
class Effect:
    """Every concept's value on held-out seeds: as drawn, with a concept's top units switched, and with as many
    random units of the layer switched (the control)."""

    concept: str
    mode: str                               # off | up
    units: list[int]                        # the concept's top units
    random_units: list[int]                 # the control's units (none of the top ones)
    samples: int
    seed: int
    before: dict[str, float]
    after: dict[str, float]
    control: dict[str, float]

    def change(self, name: str | None = None) -> float:
        """The concept's (or `name`'s) value after minus before."""
        name = name or self.concept
        return self.after[name] - self.before[name]

    def control_change(self, name: str | None = None) -> float:
        name = name or self.concept
        return self.control[name] - self.before[name]

    def others(self) -> dict[str, float]:
        """The change of every other concept."""
        return {n: self.change(n) for n in self.before if n != self.concept}

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change(), "control_change": self.control_change(),
                "others_change": self.others()}


def random_units(d: Dissection, k: int, exclude: Sequence[int], seed: int = 0) -> list[int]:
    """k units of the layer drawn at random (seeded) from those not in `exclude`."""
    pool = [u for u in range(d.units) if u not in set(exclude)]
    gen = torch.Generator().manual_seed(seed)
    return sorted(pool[i] for i in torch.randperm(len(pool), generator=gen)[:k].tolist())


def effect(G: Generator, d: Dissection, concept: str, k: int = TOP, mode: str = "off", amount: float | None = None,
           samples: int = EFFECT_SAMPLES, seed: int = EFFECT_SEED, judge: Judge | None = None,
           classifier: DomainRecipe | None = None) -> Effect:
    """Switch `concept`'s top-k units (and, as a control, k random other units) on `samples` held-out seeds,
    and measure every concept before and after (`Judge.measure`)."""
    if mode not in U.MODES:
        raise GanvasError(f"unit edit mode must be one of {', '.join(U.MODES)}, got {mode!r}")
    if not 1 <= k <= d.units:
        raise GanvasError(f"k must be in 1..{d.units} (the units of layer '{d.layer}'), got {k}")
    if not 1 <= samples <= MAX_SAMPLES:
        raise GanvasError(f"effect samples must be in 1..{MAX_SAMPLES}, got {samples}")
    judge = judge or Judge(G, d.classifier is not None, classifier or _recipe_of(d))
    top = d.top(concept, k)
    rnd = random_units(d, k, top, seed)
    codes = _seed_codes(G, range(seed, seed + samples))
    results = []
    for chosen in (None, top, rnd):
        edits = [] if chosen is None else [U.UnitEdit(d.layer, tuple(chosen), mode, amount)]
        results.append(judge.measure(torch.cat([U.draw(G, codes[i:i + 64], edits).float().cpu()
                                                for i in range(0, samples, 64)])))
    return Effect(concept, mode, top, rnd, samples, seed, *results)


def before_after(G: Generator, d: Dissection, concept: str, k: int = TOP, mode: str = "off",
                 amount: float | None = None, count: int = 8, seed: int = EFFECT_SEED) -> torch.Tensor:
    """Outputs of `count` held-out seeds: as drawn (row 1), with the concept's top-k units switched (row 2),
    and with k random units switched (row 3)."""
    top = d.top(concept, k)
    codes = _seed_codes(G, range(seed, seed + count))
    rows = [U.draw(G, codes)]
    for chosen in (top, random_units(d, k, top, seed)):
        rows.append(U.draw(G, codes, [U.UnitEdit(d.layer, tuple(chosen), mode, amount)]))
    return torch.cat(rows)


def picture(G: Generator, d: Dissection, concept: str, k: int = TOP, mode: str = "off",
            amount: float | None = None, count: int = 8, seed: int = EFFECT_SEED) -> Image.Image:
    """The before/after grid `ganvas explore dissect` writes: drawn; top units switched; random units switched."""
    return G.domain.preview(before_after(G, d, concept, k, mode, amount, count, seed), nrow=count)


def table(d: Dissection, k: int = TOP) -> str:
    """Each concept's top units and scores as plain text."""
    lines = [f"layer {d.layer}: {d.units} units of {d.size[0]}×{d.size[1]}, {d.samples} seeds from {d.seed}, "
             f"threshold quantile {d.quantile:g}"]
    for c in d.concepts.values():
        cells = "  ".join(f"{u}:{c.scores[u]:+.2f}" for u in c.top(k))
        lines.append(f"  {c.name:<14} {c.measure:<11} {cells}")
    return "\n".join(lines)


def effect_table(e: Effect) -> str:
    """One effect as plain text: each concept before, after, and after the random control."""
    head = f"{e.concept}: {e.mode} top units {e.units} vs random {e.random_units} on {e.samples} held-out seeds"
    rows = [f"  {n:<14} {e.before[n]:.3f} → {e.after[n]:.3f} ({e.change(n):+.3f})   random: {e.control[n]:.3f} "
            f"({e.control_change(n):+.3f})" for n in e.before]
    return "\n".join([head, *rows])


def effects(G: Generator, d: Dissection, k: int = TOP, samples: int = EFFECT_SAMPLES,
            judge: Judge | None = None) -> dict[str, Effect]:
    """`effect` of switching off each concept's top-k units."""
    judge = judge or Judge(G, d.classifier is not None, _recipe_of(d))
    return {name: effect(G, d, name, k, samples=samples, judge=judge) for name in d.concepts}


def _recipe_of(d: Dissection) -> DomainRecipe | None:
    if not d.classifier:
        return None
    from ganvas.eval.domain_net import DomainRecipe

    return DomainRecipe(**d.classifier["recipe"])



# --- the evaluation report ------------------------------------------------------------------------------


def sections(ev: Any) -> list:
    """The report's `image.units` part: each concept's top units, and what switching them off does beside
    random units (registered in REPORT_SECTIONS)."""
    from PIL import Image as PILImage

    from ganvas.api import Generator
    from ganvas.eval.report import Section, esc, png_data_uri

    G = getattr(ev, "generator", None)
    if not isinstance(G, Generator) or G.model.spec.domain != "image":
        return []
    d = get(G, train=False)
    judge = Judge(G, d.classifier is not None, _recipe_of(d))
    measured = list(d.concepts)[:REPORT_CONCEPTS]
    found = {name: effect(G, d, name, TOP, samples=EFFECT_SAMPLES, judge=judge) for name in measured}
    head = "".join(f"<th>{esc(n)}</th>" for n in d.concepts)
    rows = []
    for name, e in found.items():
        cells = []
        for n in d.concepts:
            style = " style='font-weight:bold'" if n == name else ""
            cells.append(f"<td{style}>{e.change(n):+.3f}<br><span class='small'>random "
                         f"{e.control_change(n):+.3f}</span></td>")
        units = ", ".join(str(u) for u in e.units)
        rows.append(f"<tr><td>{esc(name)} <span class='small'>({esc(d.concepts[name].measure)}; units {units})"
                    f"</span></td>{''.join(cells)}</tr>")
    before = "".join(f"<td>{v:.3f}</td>" for v in next(iter(found.values())).before.values())
    tops = "".join(f"<tr><td>{esc(c.name)}</td><td>{esc(c.measure)}</td><td>"
                   + ", ".join(f"{u} ({c.scores[u]:+.2f})" for u in c.top(TOP)) + "</td></tr>"
                   for c in d.concepts.values())
    names = list(d.concepts)
    shown = names[1] if len(names) > 1 else names[0]
    pic = picture(G, d, shown, TOP)
    scale = max(1, 512 // max(pic.size))
    pic = pic.resize((pic.width * scale, pic.height * scale), PILImage.Resampling.NEAREST)
    skipped = f"<p class='small'>No class concepts: {esc(d.info['classes_skipped'])}.</p>" \
        if d.info.get("classes_skipped") else ""
    more = len(d.concepts) - len(measured)
    if more > 0:
        skipped += (f"<p class='small'>The effect of the other {more} concepts' units: <code>ganvas explore dissect "
                    "RUN --concept NAME</code>.</p>")
    body = (f"<p>Layer <code>{esc(d.layer)}</code> of G ({d.units} units of {d.size[0]}×{d.size[1]}), scored on "
            f"seeds {d.seed}–{d.seed + d.samples - 1}: the foreground by the IoU of each unit's map above its own "
            f"{d.quantile:g} quantile with the pixels unlike the border; each class by the correlation of the "
            f"unit's mean activation with the domain classifier's probability of the class.</p>{skipped}"
            f"<table><tr><th>concept</th><th>measure</th><th>top units (score)</th></tr>{tops}</table>"
            f"<p>Switching each concept's top {TOP} units off on {EFFECT_SAMPLES} held-out seeds (from "
            f"{EFFECT_SEED}); each cell is the change of the column's concept (foreground: share of the picture; "
            f"class: mean probability), and below it the change when {TOP} random other units are switched off "
            f"instead. As drawn:</p><table><tr><th></th>{head}</tr><tr><td>before</td>{before}</tr>"
            f"{''.join(rows)}</table>"
            f"<p>{esc(shown)}: as drawn (top row), its top {TOP} units off (middle), {TOP} random units off "
            f"(bottom).</p><img class='px' src='{png_data_uri(pic)}'>")
    return [Section("Units, dissected", body)]
