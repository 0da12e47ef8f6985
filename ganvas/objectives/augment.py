"""Differentiable augmentation of every image the discriminator sees, so GANs learn from small sets.

With a few thousand images D soon memorises the training set, its feedback to G turns into noise
and training collapses. Augmenting only the real images would teach G to produce augmented images;
augmenting real and generated images alike, with transforms G's gradient can flow through, keeps
the augmentations out of G's outputs (they "do not leak") while D sees many more distinct images.

- ``diffaugment`` (Zhao et al., "Differentiable Augmentation for Data-Efficient GAN Training",
  2020): colour (brightness, saturation, contrast), translation by up to 1/8 of the side with zero
  padding, and cutout of a square half the side, each applied to every image.
- ``ada`` (Karras et al., "Training Generative Adversarial Networks with Limited Data", 2020):
  each transform is applied with probability p, and p follows D's overfitting. The heuristic
  r_t = E[sign(D(real))] is 0 when D cannot tell reals from fakes and 1 when it is certain of every
  real; every `ada_interval` D steps p moves by ±(images seen since) / (ada_kimg · 1000) towards
  r_t = `ada_target` (0.6). Transform groups: ``blit`` (x-flip, 90° rotations, integer
  translation), ``geom`` (isotropic and anisotropic scaling, arbitrary rotation, fractional
  translation), ``color`` (brightness, contrast, luma flip, hue rotation, saturation), ``cutout``.
  Geometric transforms are composed into one matrix per image and applied with a single bilinear
  resampling with reflection at the borders (the paper resamples through a 2× wavelet-filtered
  grid, which matters more at high resolution than at the 32–128 px ganvas trains on a CPU);
  blits land on pixel centres, so they stay exact.

Augmentations draw from torch's global random stream, which checkpoints save and restore; ADA's p,
its pending statistics and its history are JSON state (`state_dict`), so a resumed run continues
with exactly the augmentation an uninterrupted one would have used. In a run of several processes
each rank augments its own share of the batch from its own random stream, while r_t is summed over
every rank, so p (and its history) is the same on all of them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from ganvas import distributed, registry
from ganvas.errors import GanvasError, unknown_name

if TYPE_CHECKING:
    from ganvas.config import TrainConfig

AUGMENTS = registry.AUGMENTS   # the table lives in ganvas/registry.py (the one catalogue)
HISTORY_ROWS = 512          # ADA keeps at most this many (images seen, p, r_t) rows, evenly thinned


class Augment:
    """No augmentation: D sees images as they are. The interface every augmentation implements."""

    name: ClassVar[str] = "none"
    groups: ClassVar[tuple[str, ...]] = ()          # transform groups a policy may name
    default_policy: ClassVar[tuple[str, ...]] = ()

    def __init__(self, policy: tuple[str, ...] = ()) -> None:
        self.policy = policy                        # the transform groups in use, in order

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> Augment:
        return cls(parse_policy(cls, cfg.augment_policy))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def observe(self, real_logits: torch.Tensor) -> None:
        """D's logits on the (augmented) real images of one D step: feedback for adaptive methods."""

    def stats(self) -> dict[str, torch.Tensor]:
        """Scalars to log with the losses."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def parse_policy(cls: type[Augment], text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip()) or cls.default_policy
    for name in names:
        if name not in cls.groups:
            raise unknown_name(f"transform group in config field 'augment_policy' for augment = '{cls.name}'",
                               name, list(cls.groups))
    if not names and cls.groups:
        raise GanvasError(f"config field 'augment_policy' names no transform group for augment = '{cls.name}'")
    return names


def build_augment(cfg: TrainConfig, domain: str) -> Augment:
    """The augmentation `cfg` asks for, after random circular shifts when `cfg.tileable`; only image
    data can be augmented."""
    if cfg.augment != "none" and domain != "image":
        raise GanvasError(f"config field 'augment' = '{cfg.augment}' works on image data, not {domain}; "
                          "use augment = 'none'")
    if cfg.augment == "none" and cfg.augment_policy:
        raise GanvasError(f"config field 'augment_policy' = '{cfg.augment_policy}' needs an augmentation: "
                          "set augment = 'diffaugment' or 'ada'")
    augment = AUGMENTS.get(cfg.augment).from_config(cfg)
    if cfg.tileable:                    # D looks across the seams of a tileable G (objectives/wrap.py)
        from ganvas.objectives.wrap import WrapShift

        return WrapShift(augment)
    return augment


def _like(x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """`out` in `x`'s memory layout (channels-last convolutions are the fast ones on a CPU)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return out.contiguous(memory_format=torch.channels_last)
    return out


def _per_sample(n: int, x: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype)


# --- DiffAugment --------------------------------------------------------------------------------


def random_color(x: torch.Tensor) -> torch.Tensor:
    """Brightness ± 0.5, saturation × U(0, 2), contrast × U(0.5, 1.5), per image."""
    n = x.shape[0]
    x = x + (_per_sample(n, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_per_sample(n, x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(n, x) + 0.5) + mean


def random_translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by whole pixels, up to `ratio` of its side each way, filling with zeros."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    # source pixel of each output pixel, in a copy padded by one zero pixel on every side
    gy = (torch.arange(h, device=x.device).view(1, h, 1) - ty + 1).clamp(0, h + 1)
    gx = (torch.arange(w, device=x.device).view(1, 1, w) - tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)                  # N, H+2, W+2, C
    out = padded[torch.arange(n, device=x.device).view(n, 1, 1), gy, gx]  # N, H, W, C
    return out.permute(0, 3, 1, 2)


def random_cutout(x: torch.Tensor, ratio: float = 0.5, apply: torch.Tensor | None = None) -> torch.Tensor:
    """Zero a square of `ratio` × the side at a random place in each image (where `apply` is true)."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1), device=x.device) - size_y // 2
    cx = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1), device=x.device) - size_x // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= cy) & (ys < cy + size_y) & (xs >= cx) & (xs < cx + size_x)
    if apply is not None:
        inside = inside & apply.view(n, 1, 1)
    return x * (~inside).unsqueeze(1).to(x.dtype)


class DiffAugment(Augment):
    """Every transform of the policy on every image, reals and fakes alike (Zhao et al. 2020)."""

    name = "diffaugment"
    groups = ("color", "translation", "cutout")
    default_policy = ("color", "translation", "cutout")
    OPS: ClassVar[dict] = {"color": random_color, "translation": random_translation, "cutout": random_cutout}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for name in self.policy:
            out = self.OPS[name](out)
        return _like(x, out)


# --- ADA ----------------------------------------------------------------------------------------


def _matrix(n: int, device: torch.device, rows: list[list[Any]]) -> torch.Tensor:
    """A batch of 3×3 matrices from rows of per-sample tensors or numbers."""
    flat = [torch.as_tensor(v, dtype=torch.float32, device=device).expand(n) for row in rows for v in row]
    return torch.stack(flat, dim=1).view(n, len(rows), len(rows[0]))


def _translate(tx: Any, ty: Any, n: int, dev: torch.device) -> torch.Tensor:
    return _matrix(n, dev, [[1, 0, tx], [0, 1, ty], [0, 0, 1]])


def _scale(sx: Any, sy: Any, n: int, dev: torch.device) -> torch.Tensor:
    return _matrix(n, dev, [[sx, 0, 0], [0, sy, 0], [0, 0, 1]])


def _rotate(theta: torch.Tensor, n: int, dev: torch.device) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix(n, dev, [[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _chance(p: float, n: int, dev: torch.device) -> torch.Tensor:
    return torch.rand(n, device=dev) < p


def geometric_inverse(n: int, h: int, w: int, p: float, groups: tuple[str, ...], dev: torch.device) -> torch.Tensor:
    """Per image, the matrix taking output pixel coordinates (origin at the centre) to input ones.

    Each transform is drawn with probability p; its inverse is appended on the right, so the image
    is transformed in the order listed. All random numbers are drawn whatever p is, so the random
    stream, and with it a resumed run, does not depend on which transforms fired.
    """
    m = torch.eye(3, device=dev).expand(n, 3, 3)
    one, zero = torch.ones(n, device=dev), torch.zeros(n, device=dev)
    if "blit" in groups:
        flip = torch.where(_chance(p, n, dev), torch.floor(torch.rand(n, device=dev) * 2), zero)
        m = m @ _scale(1 - 2 * flip, one, n, dev)
        quarter = torch.where(_chance(p, n, dev), torch.floor(torch.rand(n, device=dev) * 4), zero)
        m = m @ _rotate(-math.pi / 2 * quarter, n, dev)
        t = (torch.rand(n, 2, device=dev) * 2 - 1) * 0.125
        t = torch.where(_chance(p, n, dev)[:, None], t, torch.zeros_like(t))
        m = m @ _translate(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h), n, dev)
    if "geom" in groups:
        s = torch.where(_chance(p, n, dev), torch.exp2(torch.randn(n, device=dev) * 0.2), one)
        m = m @ _scale(1 / s, 1 / s, n, dev)
        p_rot = 1 - math.sqrt(max(0.0, 1 - p))            # before or after the anisotropic scaling: p overall
        theta = torch.where(_chance(p_rot, n, dev), (torch.rand(n, device=dev) * 2 - 1) * math.pi, zero)
        m = m @ _rotate(-theta, n, dev)
        s = torch.where(_chance(p, n, dev), torch.exp2(torch.randn(n, device=dev) * 0.2), one)
        m = m @ _scale(1 / s, s, n, dev)
        theta = torch.where(_chance(p_rot, n, dev), (torch.rand(n, device=dev) * 2 - 1) * math.pi, zero)
        m = m @ _rotate(-theta, n, dev)
        t = torch.randn(n, 2, device=dev) * 0.125
        t = torch.where(_chance(p, n, dev)[:, None], t, torch.zeros_like(t))
        m = m @ _translate(-t[:, 0] * w, -t[:, 1] * h, n, dev)
    return m


def color_matrix(n: int, p: float, channels: int, dev: torch.device) -> torch.Tensor:
    """Per image, a 4×4 homogeneous map of RGB values (in [-1, 1]): brightness … saturation."""
    c = torch.eye(4, device=dev).expand(n, 4, 4)
    one, zero = torch.ones(n, device=dev), torch.zeros(n, device=dev)
    b = torch.where(_chance(p, n, dev), torch.randn(n, device=dev) * 0.2, zero)
    shift = torch.eye(4, device=dev).repeat(n, 1, 1)
    shift[:, :3, 3] = b[:, None]
    c = shift @ c
    k = torch.where(_chance(p, n, dev), torch.exp2(torch.randn(n, device=dev) * 0.5), one)
    c = torch.diag_embed(torch.stack([k, k, k, one], dim=1)) @ c
    v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(3)       # the luma axis
    vv = torch.outer(v, v)
    flip = torch.where(_chance(p, n, dev), torch.floor(torch.rand(n, device=dev) * 2), zero)
    c = (torch.eye(4, device=dev) - 2 * vv * flip[:, None, None]) @ c        # Householder reflection
    if channels > 1:
        theta = torch.where(_chance(p, n, dev), (torch.rand(n, device=dev) * 2 - 1) * math.pi, zero)
        c = _rotation_about(v[:3], theta) @ c
        s = torch.where(_chance(p, n, dev), torch.exp2(torch.randn(n, device=dev)), one)
        c = (vv + (torch.eye(4, device=dev) - vv) * s[:, None, None]) @ c
    return c


def _rotation_about(axis: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """4×4 homogeneous rotations by `theta` about the unit 3-vector `axis` (Rodrigues' formula)."""
    n = theta.shape[0]
    x, y, z = axis.tolist()
    k = torch.tensor([[0, -z, y], [z, 0, -x], [-y, x, 0]], device=theta.device)
    s, c = torch.sin(theta)[:, None, None], torch.cos(theta)[:, None, None]
    r = torch.eye(3, device=theta.device) + s * k + (1 - c) * (k @ k)
    out = torch.eye(4, device=theta.device).repeat(n, 1, 1)
    out[:, :3, :3] = r
    return out


def _reflect(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates folded into [0, size − 1] by reflection about the outer pixel edges, as
    ``grid_sample(padding_mode="reflection", align_corners=False)`` folds them."""
    span = float(size)
    c = (coord + 0.5).abs()
    flips = torch.floor(c / span)
    extra = c - flips * span
    c = torch.where(flips.remainder(2) == 0, extra, span - extra) - 0.5
    return c.clamp(0, size - 1)


def resample_bilinear_reflect(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``F.grid_sample(x, grid, "bilinear", "reflection", align_corners=False)`` built from gathers.

    R1 differentiates D's gradient on augmented reals, so the resampling must be differentiable twice
    in `x`. On CUDA, grid_sample's backward has no derivative ("derivative for
    aten::grid_sampler_2d_backward is not implemented", measured on an H200; the CPU took a composite
    fallback that has one). StyleGAN2-ADA wrote a custom op for this; here the output is a weighted
    sum of four gathers, linear in `x`, whose backward (scatter-add) is itself differentiable. The
    grid carries no gradient (the transform's parameters are random, not learned).
    """
    n, ch, h, w = x.shape
    grid = grid.detach()
    ix = _reflect(((grid[..., 0] + 1) * w - 1) / 2, w)             # (n, ho, wo) pixel coordinates
    iy = _reflect(((grid[..., 1] + 1) * h - 1) / 2, h)
    x0, y0 = torch.floor(ix), torch.floor(iy)
    fx, fy = (ix - x0).to(x.dtype), (iy - y0).to(x.dtype)
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)   # clamped only where its weight is 0
    flat = x.reshape(n, ch, h * w)
    ho, wo = grid.shape[1:3]

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        index = (yy * w + xx).reshape(n, 1, ho * wo).expand(n, ch, ho * wo)
        return flat.gather(2, index).reshape(n, ch, ho, wo)

    fx, fy = fx[:, None], fy[:, None]
    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return top * (1 - fy) + bottom * fy


def ada_transform(x: torch.Tensor, p: float, groups: tuple[str, ...]) -> torch.Tensor:
    """Apply the ADA pipeline with probability p per transform; differentiable in x (twice)."""
    n, ch, h, w = x.shape
    dev = x.device
    out = x
    if "blit" in groups or "geom" in groups:
        m = geometric_inverse(n, h, w, p, groups, dev)
        to_px = torch.diag(torch.tensor([w / 2, h / 2, 1.0], device=dev))    # normalised → pixel coordinates
        to_norm = torch.diag(torch.tensor([2 / w, 2 / h, 1.0], device=dev))
        theta = (to_norm @ m @ to_px)[:, :2, :]
        grid = F.affine_grid(theta.to(x.dtype), [n, ch, h, w], align_corners=False)
        if x.device.type == "cpu":      # its CPU kernel is 20× faster and differentiable twice
            out = F.grid_sample(out, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        else:
            out = resample_bilinear_reflect(out, grid)
    if "color" in groups and ch in (1, 3):
        c = color_matrix(n, p, ch, dev).to(x.dtype)
        if ch == 3:
            out = torch.einsum("nij,njhw->nihw", c[:, :3, :3], out) + c[:, :3, 3, None, None]
        else:                                       # grey: the mean effect of the colour map on R, G, B
            c = c[:, :3, :].mean(dim=1)
            out = out * c[:, :3].sum(dim=1)[:, None, None, None] + c[:, 3, None, None, None]
    if "cutout" in groups:
        out = random_cutout(out, 0.5, apply=_chance(p, n, dev))
    return _like(x, out)


class AdaptiveAugment(Augment):
    """Adaptive discriminator augmentation: probability p steered by r_t = E[sign(D(real))]."""

    name = "ada"
    groups = ("blit", "geom", "color", "cutout")
    default_policy = ("blit", "geom", "color")

    def __init__(self,
                 policy: tuple[str, ...] = default_policy,  # transform groups in use
                 p: float = 0.0,                # initial probability of each transform
                 target: float = 0.6,           # r_t that p steers towards; 0 = p stays fixed
                 kimg: float = 500.0,           # thousands of real images for p to move by 1
                 interval: int = 4,             # D steps between adjustments
                 ) -> None:
        super().__init__(policy)
        self.p, self.target, self.kimg, self.interval = float(p), target, kimg, interval
        self.rt = 0.0                           # r_t of the last adjustment interval
        self.seen = 0                           # real images observed, over the whole run
        self.history: list[list[float]] = []    # rows [images seen, p, r_t], every `stride`-th adjustment
        self.stride = 1
        self._adjustments = 0
        self._reset()

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> AdaptiveAugment:
        return cls(parse_policy(cls, cfg.augment_policy), cfg.augment_p, cfg.ada_target, cfg.ada_kimg,
                   cfg.ada_interval)

    def _reset(self) -> None:
        self._sign_sum: torch.Tensor | float = 0.0     # Σ sign(D(real)) since the last adjustment
        self._count = 0                                 # logits summed
        self._images = 0                                # real images since the last adjustment
        self._steps = 0                                 # D steps since the last adjustment

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return ada_transform(x, self.p, self.policy) if self.p > 0 else x

    def observe(self, real_logits: torch.Tensor) -> None:
        if self.target <= 0:
            return
        logits = real_logits.detach()
        self._sign_sum = self._sign_sum + logits.sign().sum().to(torch.float64)
        self._count += logits.numel()
        self._images += logits.shape[0]
        self._steps += 1
        if self._steps >= self.interval:
            self._adjust()

    def _adjust(self) -> None:
        sign_sum, count, images = float(self._sign_sum), self._count, self._images
        ctx = distributed.current()
        if ctx.enabled:                     # r_t over every rank's reals, so p stays the same on every rank
            sums = torch.tensor([sign_sum, count, images], dtype=torch.float64, device=ctx.device)
            sign_sum, count, images = ctx.all_reduce_(sums).tolist()
            count, images = int(count), int(images)
        self.rt = sign_sum / max(count, 1)
        direction = (self.rt > self.target) - (self.rt < self.target)
        self.p = min(1.0, max(0.0, self.p + direction * images / (self.kimg * 1000)))
        self.seen += images
        if self._adjustments % self.stride == 0:
            self.history.append([self.seen, self.p, self.rt])
            if len(self.history) > HISTORY_ROWS:     # thin evenly: keep every other row, record half as often
                self.history = self.history[::2]
                self.stride *= 2
        self._adjustments += 1
        self._reset()

    def stats(self) -> dict[str, torch.Tensor]:
        return {"augment/p": torch.tensor(self.p), "augment/rt": torch.tensor(self.rt)}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "rt": self.rt, "seen": self.seen, "history": self.history, "stride": self.stride,
                "adjustments": self._adjustments,
                "pending": {"sign_sum": float(self._sign_sum), "count": self._count, "images": self._images,
                            "steps": self._steps}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.p, self.rt, self.seen = float(state["p"]), float(state["rt"]), int(state["seen"])
        self.history = [list(row) for row in state["history"]]
        self.stride, self._adjustments = int(state["stride"]), int(state["adjustments"])
        pending = state["pending"]
        self._sign_sum = float(pending["sign_sum"])
        self._count, self._images, self._steps = int(pending["count"]), int(pending["images"]), int(pending["steps"])
