"""The interface every domain implements."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image


class Domain:
    """Converts between stored samples (compact numpy arrays) and model tensors, and renders outputs."""

    name: ClassVar[str]
    file_suffix: ClassVar[str]          # what `save` writes, e.g. ".png"
    formats: ClassVar[tuple[str, ...]] = ("png",)   # what `save` can write; the first ones by default
    default_formats: ClassVar[tuple[str, ...]] = ("png",)
    output_options: ClassVar[tuple[str, ...]] = ()  # domain arguments a user may change when sampling

    def __init__(self, **args: Any) -> None:
        """`args` describe how samples are laid out (e.g. music's pitch range); a dataset's card and a
        checkpoint's data spec carry them as ``domain_args``. Domains without any take none."""
        if args:
            from ganvas.errors import GanvasError

            raise GanvasError(f"domain '{self.name}' takes no arguments, got {', '.join(sorted(args))}")

    def to_tensor(self, batch: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """Stored samples → the float tensor a model sees (`batch`: a numpy array, or the same samples as a
        tensor already copied to `device`, as the training loop does on CUDA; see `stored_tensor`)."""
        raise NotImplementedError

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        """Model outputs → the stored form (the inverse of `to_tensor`, up to quantisation)."""
        raise NotImplementedError

    def preview(self, x: torch.Tensor, nrow: int | None = None) -> Any:
        """One picture (a PIL image) of a batch of outputs, for logs and sample grids."""
        raise NotImplementedError

    def to_pil(self, x: torch.Tensor) -> list[Any]:
        """One picture per output (what ``Generator.sample(pil=True)`` returns)."""
        raise NotImplementedError

    def save(self, x: torch.Tensor, out_dir: Path, stems: list[str], formats: tuple[str, ...] | None = None
             ) -> list[Path]:
        """Write each output as files a person can open, one per format (default `default_formats`)."""
        raise NotImplementedError

    def check_formats(self, formats: tuple[str, ...] | None) -> tuple[str, ...]:
        """`formats` (or the defaults), refused in one line unless this domain can write them."""
        if formats is None:
            return self.default_formats
        from ganvas.errors import GanvasError

        bad = [f for f in formats if f not in self.formats]
        if bad or not formats:
            raise GanvasError(f"{self.name} outputs can be written as {', '.join(self.formats)}; "
                              f"got {', '.join(bad) or 'nothing'}")
        return tuple(dict.fromkeys(formats))


def stored_tensor(batch: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Stored samples as a tensor on `device`, still in their stored dtype: a numpy array is wrapped and
    copied, a tensor already there (copied asynchronously from pinned memory) is used as it is."""
    t = batch if torch.is_tensor(batch) else torch.from_numpy(np.ascontiguousarray(batch))
    return t.to(device, non_blocking=True)


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
