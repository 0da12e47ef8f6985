"""The image domain: uint8 NHWC arrays on disk, float NCHW tensors in [-1, 1] in the models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganvas.domains.base import Domain, stored_tensor
from ganvas.files import save_image


class ImageDomain(Domain):
    name = "image"
    file_suffix = ".png"

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


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, fill: int = 255) -> Image.Image:
    """Tile N×H×W×C uint8 images into one picture, `nrow` per row (default: as square as possible)."""
    n, h, w, c = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    canvas = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i, img in enumerate(images):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[y:y + h, x:x + w] = img
    return Image.fromarray(canvas[..., 0] if c == 1 else canvas)
