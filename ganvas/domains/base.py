"""The interface every domain implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch


class Domain:
    """Converts between stored samples (compact numpy arrays) and model tensors, and renders outputs."""

    name: ClassVar[str]
    file_suffix: ClassVar[str]          # what `save` writes, e.g. ".png"

    def to_tensor(self, batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """Stored samples → the float tensor a model sees."""
        raise NotImplementedError

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        """Model outputs → the stored form (the inverse of `to_tensor`, up to quantisation)."""
        raise NotImplementedError

    def preview(self, x: torch.Tensor, nrow: int | None = None) -> Any:
        """One picture (a PIL image) of a batch of outputs, for logs and sample grids."""
        raise NotImplementedError

    def save(self, x: torch.Tensor, out_dir: Path, stems: list[str]) -> list[Path]:
        """Write each output as a file a person can open; returns the paths."""
        raise NotImplementedError
