"""The style space of a style-based generator: per-layer w codes, mixing, truncation, w files.

A StyleGAN generator takes one w per style layer (`num_ws` of them: each convolution and the last
RGB output). Coarse layers (the first few, at 4×4–16×16) set pose, shape and layout; fine layers
set colour and texture. So feeding seed B's w to layers 0–3 of seed A gives A's colours on B's
shape: that is style mixing. Codes can be saved to a file and loaded again, so a w found in the
studio or by projecting an image can be generated from, mixed or edited later.

    import ganvas
    from ganvas import style

    G = ganvas.load("runs/emoji-stylegan-32")
    ws = G.ws(4, seed=10, truncation=0.7)            # [4, num_ws, w_dim]
    style.save_ws("picked.safetensors", ws, G, seeds=range(10, 14))
    images = G.synthesize(style.load_ws("picked.safetensors", G))
    grid = G.mixing_grid([1, 2, 3], [10, 11], layers="0-3")  # a PIL picture
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganvas.errors import GanvasError
from ganvas.files import atomic_path, read_code_file

if TYPE_CHECKING:
    from PIL import Image

    from ganvas.api import Generator
    from ganvas.nets.base import GanModel

W_FORMAT = "ganvas-w"


def require_style(G: Generator) -> GanModel:
    """The model of `G` if it has a style space (its edit space is w); a one-line error otherwise."""
    if G.model.edit_space != "w":
        raise GanvasError(f"model '{G.name}' has no style space (w codes per layer): style mixing, truncation "
                          "cutoffs and w files need a style-based model such as 'stylegan'")
    return G.model


def parse_int_list(text: str, what: str, upper: int | None = None) -> list[int]:
    """'3', '0-3', '1,4,6-8' (and open ranges '4-' when `upper` is known) → a list of integers."""
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                start = int(lo)
                stop = (upper - 1 if upper is not None else None) if hi == "" else int(hi)
                if stop is None:
                    raise ValueError
                if stop < start:
                    raise GanvasError(f"{what} '{text}': range {part} runs backwards")
                out.extend(range(start, stop + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise GanvasError(f"{what} '{text}' is not a list of whole numbers such as 0-3 or 1,4,6-8") from None
        if out and min(out) < 0:
            raise GanvasError(f"{what} '{text}': numbers must be >= 0")
    return out


def parse_layers(layers: str | Iterable[int], num_ws: int) -> list[int]:
    """Style layer indices from '0-3', '4-', '0,2,5' or 'all', each checked against the model's layers."""
    if isinstance(layers, str):
        idx = list(range(num_ws)) if layers.strip() == "all" else parse_int_list(layers, "style layers", num_ws)
    else:
        idx = [int(i) for i in layers]
    for i in idx:
        if not 0 <= i < num_ws:
            raise GanvasError(f"style layer {i} is outside this model's layers 0-{num_ws - 1} "
                              f"({num_ws} style layers); e.g. --layers 0-{min(3, num_ws - 1)}")
    if not idx:
        raise GanvasError("no style layers given; e.g. --layers 0-3")
    return sorted(set(idx))


def coarse_layers(num_ws: int) -> list[int]:
    """The first half of the style layers (pose and shape): the default layers to mix."""
    return list(range(max(1, num_ws // 2)))


@torch.no_grad()
def ws_for_seeds(G: Generator, seeds: Sequence[int], truncation: float | None = None,
                 cutoff: int | None = None, label: Any = None) -> torch.Tensor:
    """w codes [n, num_ws, w_dim] of `seeds` (each mapped alone, as `Generator.sample` does); `label`: the
    class of a conditional model (`GanModel.condition_for`)."""
    model = require_style(G)
    z = model.latents_for_seeds(list(seeds), None, G.device, label)
    ws = torch.cat([model.to_edit_space(z[i:i + 1]) for i in range(len(seeds))])
    return model.truncate(ws, truncation, cutoff)


@torch.no_grad()
def synthesize(G: Generator, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
    """Images of w codes: [n, num_ws, w_dim], or [n, w_dim] for one w on every layer.

    noise_mode: "const" (each layer's fixed noise: repeatable), "random" (fresh stochastic detail) or "none".
    Each code is drawn alone, so an image never depends on the batch it came in.
    """
    model = require_style(G)
    ws = check_ws(ws, model, "w codes")
    return torch.cat([model.synthesize(ws[i:i + 1].to(G.device), noise_mode) for i in range(ws.shape[0])])


def mix_styles(dst: torch.Tensor, src: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
    """`dst` codes with the given layers taken from `src` (broadcast over the batch)."""
    out = dst.clone()
    out[:, list(layers)] = src[:, list(layers)]
    return out


def mixing_grid(G: Generator, rows: Sequence[int], cols: Sequence[int], layers: str | Iterable[int] | None = None,
                truncation: float | None = None, cutoff: int | None = None) -> tuple[torch.Tensor, int]:
    """The style-mixing table of StyleGAN's papers, as images and the number per row.

    The top row shows the column seeds, the left column the row seeds; cell (r, c) is row seed r
    with the chosen layers (default: the coarse half) taken from column seed c. The top-left
    corner is blank (white).
    """
    num_ws = require_style(G).code_shape("w")[0]
    idx = coarse_layers(num_ws) if layers is None else parse_layers(layers, num_ws)
    row_ws, col_ws = ws_for_seeds(G, rows, truncation, cutoff), ws_for_seeds(G, cols, truncation, cutoff)
    row_img, col_img = synthesize(G, row_ws), synthesize(G, col_ws)
    blank = torch.ones_like(row_img[:1])
    cells = [blank, *col_img.split(1)]
    for r in range(len(rows)):
        mixed = torch.cat([mix_styles(row_ws[r:r + 1], col_ws[c:c + 1], idx) for c in range(len(cols))])
        cells += [row_img[r:r + 1], synthesize(G, mixed)]
    return torch.cat(cells), len(cols) + 1


def check_ws(ws: torch.Tensor, model: GanModel, what: str) -> torch.Tensor:
    """`ws` as [n, num_ws, w_dim] float32; one w per code ([n, w_dim]) is broadcast to every layer."""
    num_ws, w_dim = model.code_shape("w")
    ws = torch.as_tensor(ws, dtype=torch.float32)
    if ws.dim() == 2 and ws.shape[1] == w_dim:
        ws = ws.unsqueeze(1).repeat(1, num_ws, 1)
    if ws.dim() != 3 or tuple(ws.shape[1:]) != (num_ws, w_dim):
        raise GanvasError(f"{what} have shape {tuple(ws.shape)}; this model takes [n, {num_ws}, {w_dim}] "
                          f"({num_ws} style layers of {w_dim}) or [n, {w_dim}]")
    if not torch.isfinite(ws).all():
        raise GanvasError(f"{what} contain NaN or infinite values")
    return ws


def save_ws(path: str | Path, ws: torch.Tensor, G: Generator | None = None, seeds: Iterable[int] | None = None,
            **info: Any) -> Path:
    """Write w codes to a .safetensors file (with what made them) or a plain .npy array, atomically."""
    path = Path(path)
    ws = ws.detach().to("cpu", torch.float32).contiguous()
    if path.suffix == ".npy":
        from ganvas.files import save_npy

        save_npy(path, ws.numpy())
        return path
    if path.suffix != ".safetensors":
        raise GanvasError(f"w file '{path}' must end in .safetensors or .npy")
    from safetensors.torch import save_file

    meta = {"format": W_FORMAT, "shape": list(ws.shape), **info}
    if G is not None:
        num_ws, w_dim = require_style(G).code_shape("w")
        meta.update(model=G.name, checkpoint=str(G.path), num_ws=num_ws, w_dim=w_dim)
    if seeds is not None:
        meta["seeds"] = [int(s) for s in seeds]
    with atomic_path(path) as tmp:
        save_file({"ws": ws}, str(tmp), metadata={"ganvas": json.dumps(meta)})
    return path


def load_ws(path: str | Path, G: Generator | None = None) -> torch.Tensor:
    """Read w codes saved by `save_ws` (or any float .npy array); checked against `G` when given."""
    ws, _ = read_code_file(path, "w file", ("ws",))
    if G is not None:
        ws = check_ws(ws, require_style(G), f"the w codes in '{path}'")
    return ws


def mixing_picture(G: Generator, rows: Sequence[int], cols: Sequence[int], layers: str | Iterable[int] | None = None,
                   truncation: float | None = None, cutoff: int | None = None) -> Image.Image:
    images, nrow = mixing_grid(G, rows, cols, layers, truncation, cutoff)
    return G.domain.preview(images, nrow=nrow)
