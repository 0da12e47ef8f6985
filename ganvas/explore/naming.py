"""Names for GANSpace directions: what moving along each one measurably changes, in plain words.

After Härkönen et al. (GANSpace, 2020), whose directions come with names people gave them ("zoom",
"hair colour"); here ganvas measures instead of looking. For each direction, `seeds` outputs are
rendered at −a, 0 and +a σ (one batch per chunk, the same seeds for every direction: deterministic),
their attributes measured (`ganvas.explore.attributes`: brightness, saturation, hue, foreground size
and place for images; pitch, note density and mode for music; the domain classifier's class
probabilities for labelled images), and each attribute's *effect* is its mean change per σ divided by
its spread over the unmoved samples, so "0.5" means "one σ of this direction moves this attribute by
half of its usual variety", comparable across attributes. The name is made of the largest effects,
read as the slider moves right: "bigger, further right", "circle → square, darker", "hue ↻".

Names are cached beside their directions (``RUN/explore/step-N/names-….json``, written atomically,
stamped with the checkpoint's weights file and recomputed when it changes), like the directions.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.explore import attributes as A
from ganvas.explore import ganspace
from ganvas.explore import latent as L

if TYPE_CHECKING:
    from ganvas.api import Generator

FORMAT = "ganvas-direction-names"
FORMAT_VERSION = 2
SEEDS = 64                  # outputs moved per direction
SPREAD_SEEDS = 256          # unmoved outputs the spreads are measured on (a steadier yardstick than the moved few)
AMOUNT = 1.0                # moved to −a and +a σ (1: near the centre, where a slider starts and moves are linear)
MIN_EFFECT = 0.15           # an effect below this (spreads per σ) is not named
RELATIVE = 0.5              # nor one below this share of the direction's largest
PHRASES = 3                 # at most this many phrases in a name
BATCH = 256                 # outputs per forward pass
MAX_SEEDS = 512

WORDS = {                   # (the word when the attribute grows as the slider moves right, when it shrinks)
    "brightness": ("brighter", "darker"),
    "saturation": ("more vivid", "greyer"),
    "hue": ("hue ↻", "hue ↺"),
    "size": ("bigger", "smaller"),
    "x": ("further right", "further left"),
    "y": ("further down", "further up"),
    "pitch": ("higher", "lower"),
    "density": ("busier", "sparser"),
    "mode": ("more major", "more minor"),
}
# hues a direction can pull every output towards (radians), with their words
HUE_TARGETS = {"redder": 0.0, "yellower": np.pi / 3, "greener": 2 * np.pi / 3, "more cyan": np.pi,
               "bluer": 4 * np.pi / 3, "more purple": 5 * np.pi / 3}


@dataclass
class Named:
    """One direction's name and the measured effects it was made from."""

    index: int
    name: str
    effects: dict[str, float]               # attribute → mean change per σ / spread, largest |effect| first
    words: dict[str, str] = field(default_factory=dict)   # attribute → its word in this direction ("bigger")

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return list(self.effects.items())[:k]

    def in_name(self) -> list[str]:
        """The attributes its name speaks of (the rule of `name_of`: at least MIN_EFFECT and RELATIVE of the
        largest), largest first."""
        top = max((abs(e) for e in self.effects.values()), default=0.0)
        if top < MIN_EFFECT:
            return []
        return [a for a, e in self.effects.items() if abs(e) >= max(MIN_EFFECT, RELATIVE * top)]


@dataclass
class Naming:
    """Names of every direction of one set, with how they were measured."""

    directions: list[Named]
    spreads: dict[str, float]               # each attribute's spread over the unmoved samples
    seeds: int
    amount: float
    seed: int
    classifier: str | None                  # the domain classifier's weights hash, or None (no class effects)
    note: str = ""                          # why class probabilities are missing, when they are

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "seeds": self.seeds, "amount": self.amount,
                "seed": self.seed, "classifier": self.classifier, "note": self.note, "spreads": self.spreads,
                "directions": [asdict(n) for n in self.directions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Naming:
        return cls([Named(int(n["index"]), str(n["name"]), {k: float(v) for k, v in n["effects"].items()},
                          dict(n.get("words", {}))) for n in data["directions"]],
                   {k: float(v) for k, v in data["spreads"].items()}, int(data["seeds"]), float(data["amount"]),
                   int(data["seed"]), data.get("classifier"), str(data.get("note", "")))

    def __getitem__(self, index: int) -> Named:
        return self.directions[index]


# --- measuring ----------------------------------------------------------------------------------------


def _render(G: Generator, codes: torch.Tensor, lock: Callable[[], contextlib.AbstractContextManager]) -> np.ndarray:
    parts = []
    for i in range(0, codes.shape[0], BATCH):
        with lock():
            parts.append(G.domain.to_array(L.draw(G, codes[i:i + BATCH])))
    return np.concatenate(parts)


def _hue_effect(before: np.ndarray, after: np.ndarray, minus: np.ndarray, amount: float, spread: float
                ) -> tuple[float, str]:
    """(effect, word) of hue: a turn all outputs share ("hue ↻"), or a pull of each towards one colour."""
    turns = (A.difference("hue", after, before) + A.difference("hue", before, minus)) / (2 * amount)
    rotation = float(turns.mean()) / spread
    best_word, best = "", 0.0
    for word, target in HUE_TARGETS.items():
        # the turn of each output measured towards `target` (+ when it comes closer)
        towards = np.sign(A.difference("hue", np.full_like(minus, target), minus)) * turns
        pull = float(towards.mean()) / spread
        if pull > best:
            best_word, best = word, pull
    if best > 1.5 * abs(rotation):          # outputs turn different ways, all towards one colour
        return best, best_word
    return rotation, WORDS["hue"][0 if rotation >= 0 else 1]


def effects(values: dict[str, np.ndarray], m: int, n: int, k: int, amount: float
            ) -> tuple[list[dict[str, float]], list[dict[str, str]], dict[str, float]]:
    """Effects per direction from attribute arrays laid out [base m (the first n moved) | dir0 −a n | dir0 +a n |
    dir1 −a …]; spreads over all m unmoved outputs."""
    spreads = {name: A.spread(name, v[:m]) for name, v in values.items()}
    out, words = [], []
    for j in range(k):
        lo, hi = slice(m + 2 * j * n, m + (2 * j + 1) * n), slice(m + (2 * j + 1) * n, m + (2 * j + 2) * n)
        eff, wd = {}, {}
        for name, v in values.items():
            if name == "hue":
                e, word = _hue_effect(v[:n], v[hi], v[lo], amount, spreads[name])
            else:
                e = float((v[hi] - v[lo]).mean()) / (2 * amount) / spreads[name]
                word = WORDS[name][0 if e >= 0 else 1] if name in WORDS else ""
            eff[name], wd[name] = round(e, 4), word
        order = sorted(eff, key=lambda a: (-abs(eff[a]), a))
        out.append({a: eff[a] for a in order})
        words.append({a: wd[a] for a in order if wd[a]})
    return out, words, {k_: round(v, 6) for k_, v in spreads.items()}


def name_of(effects_: dict[str, float], words: dict[str, str]) -> str:
    """A direction's name from its effects: the largest ones, in words; class probabilities as "A → B"."""
    if not effects_:
        return "no measured change"
    top = max(abs(e) for e in effects_.values())
    if top < MIN_EFFECT:
        return "little measured change"
    keep = [a for a, e in effects_.items() if abs(e) >= max(MIN_EFFECT, RELATIVE * top)]
    phrases: list[str] = []
    classes_done = False
    for a in keep:
        if a.startswith("p("):
            if classes_done:
                continue
            classes_done = True
            cls = {c: e for c, e in effects_.items() if c.startswith("p(") and abs(e) >= MIN_EFFECT}
            up = max(cls, key=lambda c: cls[c]) if any(e > 0 for e in cls.values()) else None
            down = min(cls, key=lambda c: cls[c]) if any(e < 0 for e in cls.values()) else None
            if up and down:
                phrases.append(f"{down[2:-1]} → {up[2:-1]}")
            else:
                phrases.append(f"more {up[2:-1]}" if up else f"less {down[2:-1]}")   # type: ignore[index]
        else:
            phrases.append(words.get(a, a))
        if len(phrases) == PHRASES:
            break
    return ", ".join(phrases)


def compute(G: Generator, d: ganspace.Directions, seeds: int = SEEDS, amount: float = AMOUNT, seed: int = 0,
            classes: A.ClassProbabilities | None = None, truncation: float | None = None,
            lock: Callable[[], contextlib.AbstractContextManager] | None = None, note: str = "") -> Naming:
    """Names of every direction of `d` (see the module docstring): seconds on a CPU for a small model."""
    check(seeds, amount)
    lock = lock or contextlib.nullcontext
    m = max(seeds, SPREAD_SEEDS)
    with lock():
        base = L.truncate(G, L.seed_codes(G, list(range(seed, seed + m))), truncation)
    k = len(d)
    moved = [base]
    for j in range(k):
        for a in (-amount, amount):
            moved.append(d.apply(base[:seeds], [ganspace.Edit(j, a)]))
    outputs = _render(G, torch.cat(moved), lock)
    values = A.measure(G.domain, outputs, classes if classes is not None and classes.available else None)
    eff, words, spreads = effects(values, m, seeds, k, amount)
    named = [Named(j, name_of(eff[j], words[j]), eff[j], words[j]) for j in range(k)]
    key = classes.key if classes is not None and classes.available else None
    return Naming(named, spreads, seeds, amount, seed, key, note)


def check(seeds: int, amount: float) -> None:
    if not (isinstance(seeds, int) and 4 <= seeds <= MAX_SEEDS):
        raise GanvasError(f"naming directions needs 4..{MAX_SEEDS} seeds, got {seeds!r}")
    if not (isinstance(amount, int | float) and 0 < amount <= ganspace.MAX_AMOUNT):
        raise GanvasError(f"naming directions moves outputs by an amount in (0, {ganspace.MAX_AMOUNT:g}] σ, "
                          f"got {amount!r}")


# --- the domain classifier ---------------------------------------------------------------------------------


def classes_for(G: Generator, train: bool = True, recipe: Any = None, dataset: Any = None
                ) -> tuple[A.ClassProbabilities | None, str]:
    """(the class-probability attribute of `G`'s labelled training data or None, why it is None).

    `train` False uses the classifier only if it was trained before; `dataset`: the data, if already loaded.
    """
    if G.domain.name != "image":
        return None, ""
    if dataset is None:
        from ganvas.data.dataset import is_built, is_builtin, split_spec
        from ganvas.eval.evaluate import training_dataset

        name = str(G.meta.get("config", {}).get("data", ""))
        if not train and is_builtin(name) and not is_built(split_spec(name)[0]):
            return None, f"class probabilities not measured: the dataset '{name}' is not built here"
        try:
            dataset = training_dataset(G)
        except GanvasError as exc:
            return None, f"class probabilities not measured: the training data is not at hand ({exc})"
    y = dataset.arrays.get("y")
    if y is None or len(np.unique(y)) < 2:
        return None, f"class probabilities not measured: '{dataset.name}' has no labels"
    cp = A.ClassProbabilities(dataset, recipe, train=train)
    if not cp.available:
        return None, (f"class probabilities not measured: the domain classifier of '{dataset.name}' is not "
                      "trained yet (`ganvas explore directions RUN --describe` trains it once)")
    return cp, ""


# --- the cache ----------------------------------------------------------------------------------------------


def cache_path(G: Generator, d: ganspace.Directions, seeds: int, amount: float, seed: int,
               classifier: str | None) -> Path:
    stem = ganspace.cache_path(G, d.method, len(d), d.n_samples, d.seed, d.layer).stem
    return ganspace.cache_dir(G) / f"names-{stem}-n{seeds}-a{amount:g}-s{seed}-c{classifier or 'none'}.json"


def _load(path: Path, stamp: dict[str, Any], k: int) -> Naming | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (data.get("format"), data.get("format_version")) != (FORMAT, FORMAT_VERSION) or \
                data.get("stamp") != stamp or len(data["directions"]) != k:
            return None
        return Naming.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):   # missing, half-written elsewhere, corrupt: recompute
        return None


def cached(G: Generator, d: ganspace.Directions, seeds: int = SEEDS, amount: float = AMOUNT, seed: int = 0,
           classes: A.ClassProbabilities | None = None) -> Naming | None:
    """The names of `d` if the run folder's cache has them for this checkpoint, else None (nothing is measured)."""
    key = classes.key if classes is not None and classes.available else None
    return _load(cache_path(G, d, seeds, amount, seed, key), ganspace._stamp(G), len(d))


def get(G: Generator, d: ganspace.Directions, seeds: int = SEEDS, amount: float = AMOUNT, seed: int = 0,
        classes: A.ClassProbabilities | None = None, cache: bool = True, note: str = "",
        lock: Callable[[], contextlib.AbstractContextManager] | None = None) -> Naming:
    """Names of `d`'s directions, from the run folder's cache when measured before, else measured (and cached)."""
    from ganvas.files import write_json

    check(seeds, amount)
    key = classes.key if classes is not None and classes.available else None
    path = cache_path(G, d, seeds, amount, seed, key)
    stamp = ganspace._stamp(G)
    if cache and (found := _load(path, stamp, len(d))) is not None:
        found.note = found.note or note
        return found
    naming = compute(G, d, seeds, amount, seed, classes, lock=lock, note=note)
    if cache:
        try:
            write_json(path, {**naming.to_json(), "stamp": stamp})
            sweep_orphans(path.parent)
        except OSError as exc:              # a read-only run folder: keep them in memory only
            from ganvas.console import info

            info(f"could not cache direction names in {path.parent}: {exc.strerror or exc}")
    return naming


def sweep_orphans(folder: Path) -> list[Path]:
    """Delete names whose direction set is gone from the cache (evicted): they would never be read again."""
    gone = []
    for p in folder.glob("names-directions-*.json"):
        stem = p.name[len("names-"):].rsplit("-n", 1)[0]
        if not (folder / f"{stem}.safetensors").exists():
            with contextlib.suppress(OSError):
                p.unlink()
                gone.append(p)
    return gone


def describe(naming: Naming, k: int = 3) -> list[dict[str, Any]]:
    """Each direction's name and its `k` largest effects, for tables and the REST API."""
    return [{"index": n.index, "name": n.name, "effects": dict(n.top(k))} for n in naming.directions]
