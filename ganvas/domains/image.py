"""The image domain: uint8 NHWC arrays on disk, float NCHW tensors in [-1, 1] in the models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganvas.domains.base import Domain, make_grid, stored_tensor  # noqa: F401  (make_grid: its old home)
from ganvas.errors import GanvasError
from ganvas.files import save_image


class ImageDomain(Domain):
    name = "image"
    file_suffix = ".png"
    animation_formats = ("gif", "webp")

    def to_tensor(self, batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        # NHWC uint8 permuted to NCHW is already channels-last in memory: no copy until the float cast,
        # which keeps that layout (the fast one for CPU convolutions).
        x = stored_tensor(batch, device).permute(0, 3, 1, 2)
        return x.float().div_(127.5).sub_(1.0)

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        x = x.detach().float().cpu()
        return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()

    def to_pil(self, x: torch.Tensor) -> list[Image.Image]:
        arrays = self.to_array(x)
        return [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a) for a in arrays]

    def preview(self, x: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
        return make_grid(self.to_array(x), nrow=nrow, pad=pad)

    def save(self, x: torch.Tensor, out_dir: Path, stems: list[str], formats: tuple[str, ...] | None = None
             ) -> list[Path]:
        self.check_formats(formats)
        out_dir = Path(out_dir)
        paths = []
        for image, stem in zip(self.to_pil(x), stems, strict=True):
            path = out_dir / f"{stem}{self.file_suffix}"
            save_image(path, image)
            paths.append(path)
        return paths




# `ganvas sample --scale N --filter NAME`: how outputs are enlarged (nearest keeps hard pixel edges; lanczos is smooth)
SCALE_FILTERS = {"lanczos": Image.Resampling.LANCZOS, "nearest": Image.Resampling.NEAREST,
                 "bicubic": Image.Resampling.BICUBIC}
MAX_UPSCALE = 16        # 16× a 128 px output is 2048 px; a grid of 64 of those is already a quarter gigapixel


def upscale(images: np.ndarray, factor: int, filter_name: str = "lanczos") -> np.ndarray:
    """N×H×W×C uint8 images enlarged `factor` times with one of `SCALE_FILTERS`: a 32 px output is small to use
    as a picture, and a smooth filter reads better than repeated pixels (nearest keeps them, for a crisp look)."""
    if filter_name not in SCALE_FILTERS:
        raise GanvasError(f"filter must be one of {', '.join(SCALE_FILTERS)}, got {filter_name!r}")
    if isinstance(factor, bool) or not isinstance(factor, int) or not 1 <= factor <= MAX_UPSCALE:
        raise GanvasError(f"scale must be a whole number from 1 to {MAX_UPSCALE}, got {factor!r}")
    if factor == 1:
        return images
    n, h, w, c = images.shape
    out = np.empty((n, h * factor, w * factor, c), np.uint8)
    for i, image in enumerate(images):
        picture = Image.fromarray(image[..., 0] if c == 1 else image)
        big = np.asarray(picture.resize((w * factor, h * factor), SCALE_FILTERS[filter_name]))
        out[i] = big[..., None] if c == 1 else big
    return out
