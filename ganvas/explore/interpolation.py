"""Interpolation between two codes: a strip of frames, an animation, or (music) one morphing piece.

z codes are drawn from a Gaussian, whose mass lies on a shell: the straight line between two z
passes near the centre, where codes are atypical (and, for a DCGAN, outputs fade to grey). So z is
interpolated along the great circle (spherical interpolation, Shoemake 1985, as White 2016 advises
for GANs), with the length interpolated linearly. w is what the mapping network made flat enough
to move in straight lines, so w is interpolated linearly (StyleGAN's perceptual path length is
measured that way).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ganvas.errors import GanvasError

if TYPE_CHECKING:
    from PIL import Image

MAX_STEPS = 256
ANIMATION_FORMATS = ("gif", "webp")


def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation of each row (flattened), with the norms interpolated linearly."""
    shape = a.shape
    a2, b2 = a.reshape(a.shape[0], -1).double(), b.reshape(b.shape[0], -1).double()
    na, nb = a2.norm(dim=1, keepdim=True), b2.norm(dim=1, keepdim=True)
    ua, ub = a2 / na.clamp_min(eps), b2 / nb.clamp_min(eps)
    cos = (ua * ub).sum(1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    near = so.abs() < 1e-6                          # (anti)parallel: the circle is undefined, use the line
    safe = torch.where(near, torch.ones_like(so), so)
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / safe
    direction = torch.where(near, lerp(ua, ub, t), direction)
    out = direction * lerp(na, nb, t)
    if t == 0:
        out = a2
    elif t == 1:
        out = b2
    return out.to(a.dtype).reshape(shape)


def path(a: torch.Tensor, b: torch.Tensor, steps: int, space: str, method: str | None = None,
         classes: int = 0) -> torch.Tensor:
    """`steps` codes from `a` to `b` (both ends included): spherical in z, linear in w by default.

    `classes` K > 0: z codes are ``[z | c]`` of a conditional model, and the class weights c (the last K
    numbers) move linearly, so every frame asks for a blend that sums to 1: ends of different classes make
    a class axis (faces → flags), the noise slerped as usual."""
    if not 2 <= steps <= MAX_STEPS:
        raise GanvasError(f"interpolation steps must be in 2..{MAX_STEPS}, got {steps}")
    method = method or ("slerp" if space == "z" else "lerp")
    if method not in ("slerp", "lerp"):
        raise GanvasError(f"interpolation method must be slerp or lerp, got {method!r}")
    if a.shape != b.shape:
        raise GanvasError(f"the two ends have different shapes {list(a.shape)} and {list(b.shape)}")
    f = slerp if method == "slerp" else lerp
    if classes and space == "z":
        k = a.shape[-1] - classes
        inner = [torch.cat([f(a[..., :k], b[..., :k], t), lerp(a[..., k:], b[..., k:], t)], dim=-1)
                 for t in (i / (steps - 1) for i in range(1, steps - 1))]
        return torch.cat([a, *inner, b])
    inner = [f(a, b, i / (steps - 1)) for i in range(1, steps - 1)]
    return torch.cat([a, *inner, b])                # the ends exactly: frame 0 is a's output, the last b's


def save_animation(out: str | Path, frames: Sequence[Image.Image], fps: float = 12.0, boomerang: bool = True,
                   scale: int = 1) -> Path:
    """Write frames as an animated GIF or WebP (by suffix), looping; with `boomerang`, there and back."""

    from ganvas.files import atomic_path

    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ANIMATION_FORMATS:
        raise GanvasError(f"animation '{out}' must end in .gif or .webp")
    pics = animation_frames(frames, boomerang, scale)
    with atomic_path(out) as tmp:
        write_animation(tmp, pics, fmt, fps)
    return out


def animation_frames(frames: Sequence[Image.Image], boomerang: bool = True, scale: int = 1) -> list[Image.Image]:
    from PIL import Image

    if not frames:
        raise GanvasError("an animation needs at least one frame")
    pics = [f.convert("RGB") for f in frames]
    if scale > 1:
        pics = [p.resize((p.width * scale, p.height * scale), Image.Resampling.NEAREST) for p in pics]
    if boomerang and len(pics) > 2:
        pics = pics + pics[-2:0:-1]
    return pics


def write_animation(fh, pics: list[Image.Image], fmt: str, fps: float) -> None:
    """The frames as one looping animation to a path or file object."""
    duration = max(20, int(round(1000 / max(fps, 0.1))))
    if fmt == "gif":
        pics[0].save(fh, format="GIF", save_all=True, append_images=pics[1:], duration=duration, loop=0,
                     optimize=False, disposal=1)
    else:
        pics[0].save(fh, format="WEBP", save_all=True, append_images=pics[1:], duration=duration, loop=0,
                     lossless=True, method=0)


def animation_bytes(frames: Sequence[Image.Image], fmt: str = "gif", fps: float = 12.0, boomerang: bool = True,
                    scale: int = 1) -> bytes:
    import io

    if fmt not in ANIMATION_FORMATS:
        raise GanvasError(f"animation format must be gif or webp, got {fmt!r}")
    buf = io.BytesIO()
    write_animation(buf, animation_frames(frames, boomerang, scale), fmt, fps)
    return buf.getvalue()
