"""GANSpace: the principal directions of a generator's latent space, as sliders.

After Härkönen et al., "GANSpace: Discovering Interpretable GAN Controls" (NeurIPS 2020). Sample
many codes, find the axes along which the samples vary most, and move a code along them:

- ``w`` (style-based models): PCA of w = mapping(z) over sampled z. The mapping network makes w
  anisotropic, so its first axes carry the largest changes (pose, colour, size).
- ``activations`` (any model): PCA of an early layer's activations y = G₁(code), then the latent
  directions are found by regressing the codes on their PCA coordinates (code ≈ U·x), as the
  paper does for BigGAN, whose z is isotropic. The default for z models.
- ``z``: PCA of z itself. z is drawn isotropic, so its axes are arbitrary; it is here for
  completeness and comparison, not as a default.

Each direction is a unit vector in the edit space with σ, the standard deviation of the samples
along it, so an edit is "move 1.5 σ along direction 3". For style models an edit may touch a range
of style layers only (e.g. 0-3: pose and shape; 4-: colour and texture). Directions are computed
once per checkpoint and cached beside it in the run folder (``RUN/explore/step-N/``, safetensors
plus metadata, written atomically); a cache whose checkpoint changed is recomputed. The studio
keeps a few sets per checkpoint (``keep``), least recently used deleted first.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import latent as L

if TYPE_CHECKING:
    from PIL import Image

    from ganvas.api import Generator

METHODS = ("w", "z", "activations")
FORMAT = "ganvas-directions"
FORMAT_VERSION = 1
MAX_COMPONENTS = 64
MAX_AMOUNT = 20.0           # |edit| in σ; beyond this the outputs are noise anyway


@dataclass
class Edit:
    """Move `amount` σ along direction `index`, on `layers` (style layers; None = all)."""

    index: int                              # which direction (0 = the one of largest variance)
    amount: float                           # how far, in standard deviations of the samples
    layers: list[int] | None = None         # style layers it applies to (w codes only)


@dataclass
class Directions:
    """Principal directions of one checkpoint's latent space, with the spread of samples along each."""

    method: str                             # w | z | activations
    space: str                              # the latent space the vectors live in: z or w
    vectors: torch.Tensor                   # [k, dim] unit vectors (dim = z_dim or w_dim)
    sigma: torch.Tensor                     # [k] standard deviation of the samples along each vector
    explained: torch.Tensor                 # [k] share of the analysed variance each component explains
    layer: str | None = None                # G's module analysed by `activations`
    n_samples: int = 0                      # codes sampled
    seed: int = 0                           # seed of the sampled codes
    info: dict[str, Any] = field(default_factory=dict)   # checkpoint, step, how long it took

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def describe(self) -> list[dict[str, Any]]:
        return [{"index": i, "sigma": round(float(self.sigma[i]), 6),
                 "explained": round(float(self.explained[i]), 6)} for i in range(len(self))]

    def offset(self, edits: Sequence[Edit], shape: tuple[int, ...], num_ws: int | None) -> torch.Tensor:
        """The sum of `edits` as one offset of a code of `shape` (z: [dim]; w: [num_ws, w_dim])."""
        out = torch.zeros(shape, device=self.vectors.device)
        for e in edits:
            if not 0 <= e.index < len(self):
                raise GanvasError(f"direction {e.index} does not exist: this model has directions 0-{len(self) - 1}")
            if not (abs(e.amount) <= MAX_AMOUNT):
                raise GanvasError(f"edit amount must be a finite number of σ in [-{MAX_AMOUNT:g}, {MAX_AMOUNT:g}], "
                                  f"got {e.amount}")
            step = self.vectors[e.index] * (self.sigma[e.index] * float(e.amount))
            if self.space == "w":
                layers = list(range(num_ws)) if e.layers is None else e.layers
                out[layers] += step
            else:
                if e.layers is not None:
                    raise GanvasError("this model's directions live in z, which has no style layers: "
                                      "leave 'layers' out")
                out += step
        return out

    def apply(self, codes: torch.Tensor, edits: Sequence[Edit]) -> torch.Tensor:
        """`codes` (edit space, [n, …]) moved by `edits`."""
        if not edits:
            return codes
        num_ws = codes.shape[1] if self.space == "w" else None
        return codes + self.offset(edits, tuple(codes.shape[1:]), num_ws).to(codes.device)


# --- computing --------------------------------------------------------------------------------------


def default_method(G: Generator) -> str:
    return "w" if L.is_style(G) else "activations"


def check_method(G: Generator, method: str) -> None:
    if method not in METHODS:
        raise GanvasError(f"directions method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "w":
        L.check_space(G, "w")


def default_samples(method: str) -> int:
    return 2000 if method == "activations" else 10000


def _module(G: Generator, name: str) -> torch.nn.Module:
    return G.model.layer(name)


def default_layer(G: Generator) -> str:
    """The early layer `activations` analyses: the one the model declares (`GanModel.ganspace_layer`)."""
    return G.model.ganspace_layer


def _pca(x: torch.Tensor, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean, components [k, d], explained variance share [k]) of rows of `x` (float64)."""
    mean = x.mean(0)
    xc = x - mean
    total = xc.square().sum() / max(1, x.shape[0] - 1)
    k = min(k, min(x.shape) - 1) if min(x.shape) > 1 else 1
    if x.shape[1] <= 2048:
        cov = xc.T @ xc / max(1, x.shape[0] - 1)
        evals, evecs = torch.linalg.eigh(cov)
        order = torch.argsort(evals, descending=True)[:k]
        comps, var = evecs[:, order].T, evals[order].clamp_min(0)
    else:                                           # wide activations: randomised SVD of the samples
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            _, s, v = torch.svd_lowrank(xc, q=min(k + 10, min(x.shape)), niter=4)
        comps, var = v[:, :k].T, s[:k].square() / max(1, x.shape[0] - 1)
    # a fixed sign: the largest entry of each component is positive, so directions do not flip between runs
    idx = comps.abs().argmax(1)
    comps = comps * torch.sign(comps.gather(1, idx[:, None]))
    return mean, comps, var / total.clamp_min(1e-30)


@torch.no_grad()
def compute(G: Generator, method: str | None = None, components: int = 16, samples: int | None = None,
            seed: int = 0, layer: str | None = None, batch: int = 256,
            lock: Callable[[], contextlib.AbstractContextManager] | None = None) -> Directions:
    """The principal directions of `G` (see the module docstring); seconds on a CPU.

    `lock()` is entered around each batch through the model (the studio's compute lock), so other
    requests are served between batches rather than after the whole computation.
    """
    import time

    t0 = time.perf_counter()
    method = method or default_method(G)
    check_method(G, method)
    if not 1 <= components <= MAX_COMPONENTS:
        raise GanvasError(f"number of directions must be in 1..{MAX_COMPONENTS}, got {components}")
    samples = samples or default_samples(method)
    if samples < components + 2:
        raise GanvasError(f"{samples} samples are too few for {components} directions; use at least {components + 2}")
    space = L.edit_space(G)
    gen = torch.Generator(G.device).manual_seed(seed)
    z = torch.randn(samples, *L.code_shape(G, "z"), generator=gen, device=G.device)
    if space == "w":                                # one w per sample (a w code repeats it on every layer)
        lock = lock or contextlib.nullcontext
        parts = []
        for i in range(0, samples, batch):
            with lock():
                parts.append(G.model.to_edit_space(z[i:i + batch])[:, 0])
        codes = torch.cat(parts)
    else:
        codes = z
    codes64 = codes.double().cpu()
    if method in ("w", "z"):
        if method == "z" and space == "w":
            raise GanvasError("z directions of a style model would be applied in w; use method w (the default)")
        mean, vectors, explained = _pca(codes64, components, seed)
        layer = None
    else:
        layer = layer or default_layer(G)
        feats = _activations(G, codes, layer, batch, lock)
        _, comps, explained = _pca(feats, components, seed)
        x = (feats - feats.mean(0)) @ comps.T       # PCA coordinates of each sample [n, k]
        # regress the codes on the coordinates: code ≈ mean + x·U, each row of U a latent direction
        centred = codes64 - codes64.mean(0)
        U = torch.linalg.lstsq(x, centred).solution
        vectors = U / U.norm(dim=1, keepdim=True).clamp_min(1e-12)
    vectors = vectors / vectors.norm(dim=1, keepdim=True)
    sigma = ((codes64 - codes64.mean(0)) @ vectors.T).std(0)
    info = {"checkpoint": str(G.path), "seconds": round(time.perf_counter() - t0, 2)}
    return Directions(method, space, vectors.float().to(G.device), sigma.float().to(G.device),
                      explained.float(), layer, samples, seed, info)


def _activations(G: Generator, codes: torch.Tensor, layer: str, batch: int,
                 lock: Callable[[], contextlib.AbstractContextManager] | None = None) -> torch.Tensor:
    """Flattened activations of `layer` for every code (float64, [n, features])."""
    module = _module(G, layer)
    store: list[torch.Tensor] = []

    def hook(_m: Any, _inp: Any, out: Any) -> None:
        t = out[0] if isinstance(out, tuple | list) else out
        store.append(t.detach().float().reshape(n_now[0], -1).cpu())

    n_now = [0]
    lock = lock or contextlib.nullcontext
    for i in range(0, codes.shape[0], batch):
        chunk = codes[i:i + batch]
        with lock():                                # the hook is only on while this thread holds the model
            n_now[0] = chunk.shape[0]
            handle = module.register_forward_hook(hook)
            try:
                if codes.dim() == 2 and L.is_style(G):   # one w per sample, on every style layer
                    G.model.synthesize(chunk[:, None].expand(-1, L.style_layers(G), -1), "const")
                else:
                    G.model.synthesize(chunk)
            finally:
                handle.remove()
    if not store:
        raise GanvasError(f"layer '{layer}' of '{G.name}' is not used when generating")
    if len(store) != -(-codes.shape[0] // batch):
        raise GanvasError(f"layer '{layer}' of '{G.name}' runs more than once per output; pick another layer")
    return torch.cat(store).double()


# --- the cache ----------------------------------------------------------------------------------------


CACHE_ENV = "GANVAS_CACHE"       # a folder for what explore computes, instead of the run folder (`--cache`)


def cache_dir(G: Generator) -> Path:
    """Where what explore computes for a checkpoint (directions, names, units, maps) is kept.

    ``RUN/explore/step-N`` for a checkpoint in a run folder, beside a lone checkpoint folder otherwise; under
    ``$GANVAS_CACHE/<run>-<hash of its path>/step-N`` when that is set (`ganvas studio --cache DIR`, `ganvas
    evaluate --cache DIR`), and under the data home the same way when the run folder cannot be written (a
    shared, read-only runs folder): a person who may only read a run can still explore it."""
    import hashlib
    import os

    ckpt = Path(G.path)
    run = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    beside = run / "explore" / ckpt.name
    root = os.environ.get(CACHE_ENV)
    if not root and _writable(beside):
        return beside
    if not root:
        from ganvas.data import data_home

        root = str(data_home() / "explore")
    key = hashlib.sha256(str(run.resolve()).encode()).hexdigest()[:12]
    return Path(root).expanduser() / f"{run.name}-{key}" / ckpt.name


def _writable(path: Path) -> bool:
    """Whether `path` exists writable or could be made in its nearest existing parent."""
    import os

    for p in (path, *path.parents):
        if p.exists():
            return os.access(p, os.W_OK)
    return False


def _stamp(G: Generator) -> dict[str, Any]:
    """What identifies the weights the directions were computed from (their file's size and time)."""
    st = (Path(G.path) / "nets.safetensors").stat()
    return {"nets_size": st.st_size, "nets_mtime_ns": st.st_mtime_ns}


def cache_path(G: Generator, method: str, components: int, samples: int, seed: int, layer: str | None) -> Path:
    safe_layer = f"-{layer.replace('.', '_')}" if layer else ""
    return cache_dir(G) / f"directions-{method}{safe_layer}-k{components}-n{samples}-s{seed}.safetensors"


def save(path: Path, d: Directions, stamp: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from ganvas.files import atomic_path

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "method": d.method, "space": d.space,
            "layer": d.layer, "n_samples": d.n_samples, "seed": d.seed, "stamp": stamp, "info": d.info}
    tensors = {"vectors": d.vectors.cpu().contiguous(), "sigma": d.sigma.cpu().contiguous(),
               "explained": d.explained.cpu().contiguous()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"ganvas": json.dumps(meta)})


def load(path: Path, G: Generator, stamp: dict[str, Any] | None = None) -> Directions | None:
    """Directions cached at `path`, or None when missing, unreadable, stale or not for this model."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            meta = json.loads((fh.metadata() or {}).get("ganvas", "{}"))
            tensors = {k: fh.get_tensor(k) for k in ("vectors", "sigma", "explained")}
    except Exception:       # missing, half-written by another ganvas, corrupt: recompute
        return None
    if meta.get("format") != FORMAT or (stamp is not None and meta.get("stamp") != stamp):
        return None
    dim = L.code_shape(G, meta.get("space", "z"))[-1] if meta.get("space") in L.SPACES else -1
    if tensors["vectors"].dim() != 2 or tensors["vectors"].shape[1] != dim:
        return None
    return Directions(meta["method"], meta["space"], tensors["vectors"].float().to(G.device),
                      tensors["sigma"].float().to(G.device), tensors["explained"].float(), meta.get("layer"),
                      int(meta.get("n_samples", 0)), int(meta.get("seed", 0)), meta.get("info", {}))


def get(G: Generator, method: str | None = None, components: int = 16, samples: int | None = None,
        seed: int = 0, layer: str | None = None, cache: bool = True,
        lock: Callable[[], contextlib.AbstractContextManager] | None = None, keep: int | None = None) -> Directions:
    """Directions of `G`, from the run folder's cache when computed before, else computed (and cached).

    `keep` bounds the cached sets of the checkpoint: the least recently used beyond it are deleted
    (the studio passes it, as any client may ask for new sets; the command line keeps every one).
    """
    method = method or default_method(G)
    check_method(G, method)
    samples = samples or default_samples(method)
    if method == "activations":
        layer = layer or default_layer(G)
        _module(G, layer)
    else:
        layer = None
    path = cache_path(G, method, components, samples, seed, layer)
    stamp = _stamp(G)
    if cache and (found := load(path, G, stamp)) is not None:
        _touch(path)
        return found
    d = compute(G, method, components, samples, seed, layer, lock=lock)
    if cache:
        try:
            save(path, d, stamp)
        except OSError as exc:              # a read-only run folder: keep them in memory only
            from ganvas.console import info

            info(f"could not cache directions in {path.parent}: {exc.strerror or exc}")
    if cache and keep is not None:
        evict(path.parent, keep)
    return d


def _touch(path: Path) -> None:
    """Mark a cached set as just used (its modification time orders the eviction)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def evict(folder: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` most recently used direction sets cached in `folder`; the deleted ones."""
    def used(p: Path) -> int:
        try:
            return p.stat().st_mtime_ns
        except OSError:
            return 0

    files = sorted(folder.glob("directions-*.safetensors"), key=used, reverse=True)
    gone = []
    for p in files[max(1, keep):]:
        with contextlib.suppress(OSError):
            p.unlink()
            gone.append(p)
    return gone


# --- pictures -----------------------------------------------------------------------------------------


def sweep(G: Generator, d: Directions, indices: Sequence[int], steps: int = 7, span: float = 2.0, seed: int = 0,
          truncation: float | None = None, layers: list[int] | None = None) -> torch.Tensor:
    """Outputs of one seed moved along each direction from −span·σ to +span·σ: rows × `steps` columns."""
    if steps < 2:
        raise GanvasError(f"a direction sweep needs at least 2 steps, got {steps}")
    if not 0 < span <= MAX_AMOUNT:
        raise GanvasError(f"span must be in (0, {MAX_AMOUNT:g}] σ, got {span}")
    base = L.truncate(G, L.seed_codes(G, [seed]), truncation)
    amounts = torch.linspace(-span, span, steps).tolist()
    rows = []
    for i in indices:
        codes = torch.cat([d.apply(base, [Edit(int(i), a, layers)]) for a in amounts])
        rows.append(L.draw(G, codes))
    return torch.cat(rows)


def picture(G: Generator, d: Directions, count: int = 8, steps: int = 7, span: float = 2.0, seed: int = 0,
            truncation: float | None = None, layers: list[int] | None = None) -> Image.Image:
    """The grid ``ganvas explore directions`` writes: one row per direction, −span·σ … +span·σ across."""
    count = min(count, len(d))
    return G.domain.preview(sweep(G, d, range(count), steps, span, seed, truncation, layers), nrow=steps)
