"""The latent codes a person steers: which space, how a seed becomes a code, and how a code is drawn.

Every explore tool (interpolation, directions, breeding, projection, the studio) works on *base
codes* in the model's edit space and turns them into outputs the same way:

    base code → truncation ψ → direction edits → the generator

- The edit space is ``w`` for style-based models (per-layer codes ``[num_ws, w_dim]``, so an edit
  or a crossover can touch some layers only) and ``z`` for the others (``latent_shape``).
- Everything here goes through the model's generator contract (`ganvas.nets.base.GanModel`: edit
  space, code shapes, mapping, truncation, synthesis); nothing looks inside the networks.
- A seed's base code is its untruncated code (z, or w = mapping(z)); truncation is applied at
  drawing time, so the same code serves every ψ. Drawing a seed's base code with ψ gives exactly
  the output ``ganvas sample --seed S --n 1 --truncation ψ`` writes, bit for bit.
- Codes from people (the API, files) are checked here: shape, and no NaN or infinite values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.nets.base import SPACES as SPACES  # z and w (a model has z, and w when style-based)

if TYPE_CHECKING:
    from ganvas.api import Generator

MAX_SEED = 2**63 - 1        # seeds are torch generator seeds: 0 … 2^63 − 1
W_STD_SAMPLES = 2000        # samples of w used to measure its spread (mutation scale)


def is_style(G: Generator) -> bool:
    return G.model.edit_space == "w"


def edit_space(G: Generator) -> str:
    """Where codes are edited: w for style-based models, z otherwise."""
    return G.model.edit_space


def z_dim(G: Generator) -> int:
    """Length of one z code."""
    return int(G.model.code_shape("z")[0])


def code_shape(G: Generator, space: str | None = None) -> tuple[int, ...]:
    """Shape of one code: latent_shape in z, (num_ws, w_dim) in w."""
    return tuple(int(d) for d in G.model.code_shape(space))


def style_layers(G: Generator) -> int:
    """How many style layers a w code has (a one-line error for a model without w)."""
    return code_shape(G, "w")[0]


def check_space(G: Generator, space: str) -> None:
    """A one-line error unless `space` is one of `G`'s spaces."""
    G.model.code_shape(space)


def check_seed(seed: Any, what: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED:
        raise GanvasError(f"{what} must be a whole number in 0..{MAX_SEED}, got {seed!r}")
    return int(seed)


def check_truncation(psi: float | None, cutoff: int | None, G: Generator) -> None:
    """A one-line error for a ψ outside [0, 1] (NaN included) or a cutoff `G` cannot apply."""
    G.model.check_truncation(psi, cutoff)


@torch.no_grad()
def seed_codes(G: Generator, seeds: Sequence[int], space: str | None = None, label: Any = None) -> torch.Tensor:
    """Untruncated base codes of `seeds` in `space` (default: the edit space), one per seed; `label`: the class
    of a conditional model (a name or blend; default seed s makes class s mod K).

    Each seed is drawn from its own generator and mapped on its own, exactly as `Generator.sample`
    and `Generator.ws` do, so a code never depends on the other seeds of a request.
    """
    space = space or edit_space(G)
    check_space(G, space)
    seeds = [check_seed(s) for s in seeds]
    z = G.model.latents_for_seeds(seeds, None, G.device, label)
    return z if space == "z" else z_to_w(G, z)


@torch.no_grad()
def z_to_w(G: Generator, z: torch.Tensor) -> torch.Tensor:
    """Per-layer w codes [n, num_ws, w_dim] of z codes, each mapped alone (as `ganvas sample` does)."""
    return torch.cat([G.model.to_edit_space(z[i:i + 1].to(G.device)) for i in range(z.shape[0])])


def to_space(G: Generator, codes: torch.Tensor, src: str, dst: str) -> torch.Tensor:
    """Codes of space `src` expressed in `dst` (only z → w exists; w has no inverse)."""
    if src == dst:
        return codes
    if (src, dst) == ("z", "w"):
        return z_to_w(G, codes)
    raise GanvasError("w codes cannot be turned back into z codes; give z codes or seeds for space z")


def truncate(G: Generator, codes: torch.Tensor, psi: float | None, cutoff: int | None = None) -> torch.Tensor:
    """Pull edit-space codes towards the average by ψ: z·ψ, or w_avg + ψ(w − w_avg) (the model's truncation)."""
    return G.model.truncate(codes, psi, cutoff)


@torch.inference_mode()
def draw(G: Generator, codes: torch.Tensor) -> torch.Tensor:
    """Outputs of final (truncated, edited) edit-space codes, through the model's own `generate`.

    `generate` decides how a batch is run (a style model draws each code alone so an output never
    depends on its batch), so a grid and a single output of the same code agree.
    """
    return G.model.generate(codes.to(G.device))


def compact(G: Generator, code: torch.Tensor, space: str | None = None) -> list:
    """One code as nested lists for JSON; a w code whose layers are all equal is sent as one w."""
    space = space or edit_space(G)
    code = code.detach().to("cpu", torch.float32)
    if space == "w" and code.dim() == 2 and bool((code == code[:1]).all()):
        code = code[0]
    return code.tolist()


def from_values(G: Generator, values: Any, space: str | None = None, what: str = "latent") -> torch.Tensor:
    """One code given by a person (nested lists or an array) as a [1, …] tensor, checked.

    z codes have `latent_shape` numbers; w codes either one w (`w_dim`, used on every layer) or one per
    style layer (`num_ws × w_dim`). Anything else, or NaN or infinity anywhere, is a one-line error.
    """
    space = space or edit_space(G)
    check_space(G, space)
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise GanvasError(f"{what} must be a list of numbers (or of lists of numbers for per-layer w codes)") from None
    shape = code_shape(G, space)
    ok = arr.shape == shape or (space == "w" and arr.shape == shape[1:])
    if not ok:
        want = f"{shape[0]} numbers" if space == "z" else f"{shape[1]} numbers (one w) or {shape[0]}×{shape[1]} " \
                                                          f"(one w per style layer)"
        raise GanvasError(f"{what} has shape {list(arr.shape)}; this {G.name} model's {space} codes are {want}")
    if not np.isfinite(arr).all():
        raise GanvasError(f"{what} contains NaN or infinite values; every number must be finite")
    if np.abs(arr).max(initial=0) > 1e4:
        raise GanvasError(f"{what} has values up to {np.abs(arr).max():.3g}; latent codes are near the unit scale "
                          "(|value| ≤ 10000 accepted)")
    code = torch.from_numpy(arr.astype(np.float32))
    if space == "w" and code.dim() == 1:
        code = code.unsqueeze(0).repeat(shape[0], 1)
    return code.unsqueeze(0).to(G.device)


def from_batch(G: Generator, codes: torch.Tensor, space: str | None = None, what: str = "codes") -> torch.Tensor:
    """A batch of codes [n, …] (from a file) checked like `from_values`, one by one."""
    return torch.cat([from_values(G, c.numpy(), space, f"{what} (code {i})") for i, c in enumerate(codes.cpu())])


@torch.no_grad()
def spread(G: Generator, space: str | None = None) -> torch.Tensor:
    """Per-number standard deviation of the space's codes (1 in z; measured for w, cached on G).

    Mutations are scaled by it, so a mutation strength means the same in z and in w.
    """
    space = space or edit_space(G)
    if space == "z":
        return torch.ones(code_shape(G, "z"), device=G.device)
    cached = getattr(G, "_explore_w_std", None)
    if cached is None:
        gen = torch.Generator(G.device).manual_seed(0)
        z = torch.randn(W_STD_SAMPLES, *code_shape(G, "z"), generator=gen, device=G.device)
        w = G.model.to_edit_space(z)[:, 0]
        cached = w.std(dim=0).clamp_min(1e-6)
        G._explore_w_std = cached
    return cached.expand(code_shape(G, "w"))
