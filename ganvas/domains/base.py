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
    formats: ClassVar[tuple[str, ...]] = ("png",)   # what `save` and `encode` can write
    default_formats: ClassVar[tuple[str, ...]] = ("png",)
    output_options: ClassVar[tuple[str, ...]] = ()  # domain arguments a user may change when sampling
    text_formats: ClassVar[tuple[str, ...]] = ("png",)  # formats whose files `encode` writes text into
    animation_formats: ClassVar[tuple[str, ...]] = ()   # a sequence of outputs as one moving picture (gif, webp)

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

    def encode(self, x: torch.Tensor, format: str, *, text: dict[str, str] | None = None,
               scratch: Path | None = None, compress_level: int = 1) -> bytes:
        """One output ([1, …]) as the bytes of a `format` file, written nowhere: what a server sends.

        `text`: PNG text chunks (key → text, e.g. an output's provenance); formats without them ignore it.
        `scratch`: a folder for an encoder's temporary files (None: the system's). PNGs are compressed at
        `compress_level` (1, the fastest, suits an interactive page; a 64×64 picture takes well under a ms).
        """
        self.check_formats((format,))
        return png_bytes(self.to_pil(one_output(x))[0], text, compress_level)

    def describe(self) -> dict[str, Any]:
        """How samples are laid out, for a person, beyond their shape (music: tracks and tempo); empty
        when the shape says it all (an image's channels and size are its shape)."""
        return {}

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


def one_output(x: torch.Tensor) -> torch.Tensor:
    """`x` checked to hold exactly one output ([1, …]): a file holds one."""
    if x.dim() == 0 or x.shape[0] != 1:
        from ganvas.errors import GanvasError

        raise GanvasError(f"a file holds one output: expected a batch of 1, got shape {tuple(x.shape)}")
    return x


def png_bytes(picture: Image.Image, text: dict[str, str] | None = None, compress_level: int = 1) -> bytes:
    """A PNG of `picture`, with `text` as international text chunks (iTXt, UTF-8) in their order."""
    import io

    from PIL import PngImagePlugin

    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_itxt(key, value)
    buf = io.BytesIO()
    picture.save(buf, format="PNG", compress_level=compress_level, pnginfo=info)
    return buf.getvalue()


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
