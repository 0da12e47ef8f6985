"""Projection: the code whose output reproduces a given picture, so a person can start from their own.

Gradient descent on the code (the generator stays fixed) against a pixel loss plus a feature loss:

- pixel: mean squared difference of the two images in [-1, 1];
- features: the stage maps of a convolutional network ganvas already has (ganvas.eval), compared
  position by position after normalising each position's channel vector (as LPIPS does), so edges,
  texture and layout count, not only colour. ``random`` is the fixed-seed untrained CNN of the
  `random` feature extractor (always available, no training, no download); ``domain`` is the
  classifier of the `domain` extractor trained on the model's dataset (trained on first use, about
  a minute); ``none`` keeps the pixel loss only.

Where the search runs: ``w`` (style models; one w on every layer, started from the average w, in
units of w's spread so one learning rate suits every model), ``w+`` (one w per style layer: closer
reconstructions, less typical codes) or ``z`` (every model; started from the best of a few random
codes, with a penalty that keeps |z|² near its expected value so the code stays typical). The
learning rate warms up over the first 5% of the steps and falls along a cosine over the last 25%.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ganvas.errors import GanvasError
from ganvas.explore import latent as L

if TYPE_CHECKING:
    from PIL import Image

    from ganvas.api import Generator

FEATURES = ("random", "domain", "none")
SPACES = ("w", "w+", "z")
MAX_STEPS = 2000
Z_CANDIDATES = 16            # random z codes tried before descending from the best
Z_PRIOR_WEIGHT = 0.05        # weight of (mean z² − 1)², which keeps z on the Gaussian's shell


@dataclass
class Projection:
    """The result: the code found, its output, and how the search went."""

    code: torch.Tensor                      # [1, …] in the model's edit space (z, or w per layer)
    output: torch.Tensor                    # [1, C, H, W] the code's output, in [-1, 1]
    target: torch.Tensor                    # [1, C, H, W] the picture as the model sees it
    space: str                              # where the search ran: w | w+ | z
    features: str                           # feature network of the loss: random | domain | none
    steps: int                              # steps taken (fewer when stopped early)
    losses: list[float] = field(default_factory=list)   # total loss at each step
    stopped: bool = False                   # True when `should_stop` ended the search early

    @property
    def pixel_error(self) -> float:
        """Mean absolute difference of output and target, intensities in [0, 1]."""
        return float((self.output - self.target).abs().mean() / 2)


def default_space(G: Generator) -> str:
    return "w" if L.is_style(G) else "z"


def check(G: Generator, steps: int, space: str, features: str) -> None:
    if G.model.spec.domain != "image":
        raise GanvasError(f"projection reproduces a picture, and '{G.name}' makes {G.model.spec.domain}, "
                          "not images")
    if not 1 <= steps <= MAX_STEPS:
        raise GanvasError(f"projection steps must be in 1..{MAX_STEPS}, got {steps}")
    if space not in SPACES:
        raise GanvasError(f"projection space must be one of {', '.join(SPACES)}, got {space!r}")
    if space in ("w", "w+") and not L.is_style(G):
        raise GanvasError(f"'{G.name}' has no w space; project in z")
    if features not in FEATURES:
        raise GanvasError(f"projection features must be one of {', '.join(FEATURES)}, got {features!r}")


def prepare_target(G: Generator, image: Image.Image) -> torch.Tensor:
    """The picture as the model's data was prepared: squared (crop or pad, as the run), resized, [-1, 1]."""
    import numpy as np

    from ganvas.data.imageprep import fit_square

    channels, side = int(G.model.spec.shape[0]), int(G.model.spec.shape[1])
    square = fit_square(image, side, G.meta.get("config", {}).get("fit", "crop"))
    arr = np.array(square.convert("L"))[..., None] if channels == 1 else np.array(square)
    return G.domain.to_tensor(arr[None], G.device).contiguous()


class FeatureLoss:
    """LPIPS-style distance on the stage maps of one of ganvas's feature networks."""

    def __init__(self, net: torch.nn.Module, size: int) -> None:
        self.net = net.eval().requires_grad_(False)     # a ConvNet (ganvas.eval.convnet)
        self.size = size                                # side the images are resized to first

    def maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > self.size)
        return [m / (m.square().sum(1, keepdim=True) + 1e-10).sqrt() for m in self.net.feature_maps(x)]

    def __call__(self, x: torch.Tensor, target_maps: list[torch.Tensor]) -> torch.Tensor:
        return sum((a - b).square().sum(1).mean() for a, b in zip(self.maps(x), target_maps, strict=True)) \
            / len(target_maps)


_RANDOM_NET: dict[str, Any] = {}


def feature_loss(G: Generator, features: str) -> FeatureLoss | None:
    if features == "none":
        return None
    if features == "random":
        from ganvas.eval.random_net import INPUT_SIZE, random_convnet

        if "net" not in _RANDOM_NET:
            _RANDOM_NET["net"] = random_convnet()
        return FeatureLoss(_RANDOM_NET["net"].to(G.device), INPUT_SIZE)
    from ganvas.data.dataset import load_dataset
    from ganvas.eval.domain_net import load_or_train

    cfg = G.meta.get("config", {})
    dataset = load_dataset(cfg["data"], int(G.model.spec.shape[1]), progress=False)
    net, meta, _ = load_or_train(dataset)
    return FeatureLoss(net.to(G.device), int(meta["input_size"]))


def _lr_at(step: int, steps: int, base: float) -> float:
    t = step / max(1, steps)
    ramp_down = min(1.0, (1.0 - t) / 0.25)
    ramp_down = 0.5 - 0.5 * math.cos(ramp_down * math.pi)
    ramp_up = min(1.0, t / 0.05)
    return base * ramp_down * ramp_up


def project(G: Generator, image: Image.Image | torch.Tensor, steps: int = 200, space: str | None = None,
            features: str = "random", feature_weight: float = 1.0, lr: float | None = None, seed: int = 0,
            callback: Callable[[int, float, Callable[[], torch.Tensor]], None] | None = None,
            should_stop: Callable[[], bool] | None = None,
            step_lock: Callable[[], contextlib.AbstractContextManager] | None = None) -> Projection:
    """Search for the code whose output reproduces `image` (a PIL picture, or a prepared [1, C, H, W] tensor).

    `callback(step, loss, current_output)` is called after every step (current_output() draws the
    output of the current code on demand); `should_stop()` ends the search early; `step_lock()` is
    entered around each step (the studio interleaves projections with interactive requests).
    """
    space = space or default_space(G)
    check(G, steps, space, features)
    target = image if torch.is_tensor(image) else prepare_target(G, image)
    if tuple(target.shape[1:]) != tuple(G.model.spec.shape):
        raise GanvasError(f"target has shape {list(target.shape[1:])}; this model makes {list(G.model.spec.shape)}")
    lock = step_lock or contextlib.nullcontext
    floss = feature_loss(G, features)
    with lock(), torch.no_grad():
        target_maps = floss.maps(target) if floss is not None else []
    param, decode, prior, base_lr = _start(G, space, target, floss, target_maps, seed, lock)
    opt = torch.optim.Adam([param], lr=lr or base_lr, betas=(0.9, 0.999))
    losses: list[float] = []
    stopped = False
    for step in range(steps):
        if should_stop is not None and should_stop():
            stopped = True
            break
        with lock(), torch.enable_grad():
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, steps, lr or base_lr)
            x = decode(param)
            loss = F.mse_loss(x, target)
            if floss is not None:
                loss = loss + feature_weight * floss(x, target_maps)
            if prior is not None:
                loss = loss + prior(param)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise GanvasError(f"projection diverged at step {step} (loss {value}); try fewer steps or a lower lr")
        losses.append(value)
        if callback is not None:
            def current() -> torch.Tensor:
                with lock(), torch.no_grad():
                    return decode(param.detach())
            callback(step + 1, value, current)
    with lock(), torch.no_grad():
        output = decode(param.detach())
        code = _edit_code(G, space, param.detach())
    return Projection(code, output, target, space, features, len(losses), losses, stopped)


def _start(G: Generator, space: str, target: torch.Tensor, floss: FeatureLoss | None, target_maps: list,
           seed: int, lock: Callable) -> tuple[torch.Tensor, Callable, Callable | None, float]:
    """(the parameter searched, parameter → image, its prior penalty, base learning rate)."""
    model = G.model
    if space in ("w", "w+"):
        w_avg = model.average_code()[0].detach()
        scale = L.spread(G, "w")[0]
        num_ws, w_dim = L.code_shape(G, "w")
        shape = (1, w_dim) if space == "w" else (1, num_ws, w_dim)
        param = torch.zeros(shape, device=G.device, requires_grad=True)

        def decode(u: torch.Tensor) -> torch.Tensor:
            w = w_avg + u * scale
            ws = w[:, None].expand(-1, num_ws, -1) if space == "w" else w
            return model.synthesize(ws, "const")

        return param, decode, None, 0.1
    # z: the best of a few random codes, then descend
    with lock(), torch.no_grad():
        gen = torch.Generator(G.device).manual_seed(seed)
        cands = torch.randn(Z_CANDIDATES, *L.code_shape(G, "z"), generator=gen, device=G.device)
        outs = model.generate(cands)
        scores = (outs - target).square().flatten(1).mean(1)
        if floss is not None:
            scores = scores + torch.stack([floss(outs[i:i + 1], target_maps) for i in range(Z_CANDIDATES)])
        z0 = cands[int(scores.argmin())].clone()[None]
    param = z0.requires_grad_(True)

    def decode(z: torch.Tensor) -> torch.Tensor:                # z → edit space → outputs, differentiably
        return model.synthesize(model.to_edit_space(z), "const")

    def prior(z: torch.Tensor) -> torch.Tensor:
        return Z_PRIOR_WEIGHT * (z.square().mean() - 1).square()

    return param, decode, prior, 0.05


def _edit_code(G: Generator, space: str, param: torch.Tensor) -> torch.Tensor:
    """The searched parameter as a code of the edit space ([1, z_dim], or [1, num_ws, w_dim])."""
    if space == "z":
        return L.z_to_w(G, param) if L.is_style(G) else param.clone()
    w = G.model.average_code()[0] + param * L.spread(G, "w")[0]
    return w[:, None].repeat(1, L.style_layers(G), 1) if space == "w" else w.clone()
