"""A one-dimensional 'vector' domain and a tiny MLP GAN, registered only by the tests.

They show that the training loop is domain-free (nothing in it knows about images) and that a new
domain and model plug in through the registries without touching ganvas's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ganvas.config import option
from ganvas.data.dataset import ArrayDataset, fingerprint_arrays
from ganvas.domains import DOMAINS
from ganvas.domains.base import Domain
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec, GanModel, normal_latent


class VectorDomain(Domain):
    name = "vector"
    file_suffix = ".txt"

    def to_tensor(self, batch: np.ndarray, device="cpu") -> torch.Tensor:
        return torch.as_tensor(np.asarray(batch, dtype=np.float32), device=device)

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        return x.detach().cpu().numpy()

    def to_pil(self, x: torch.Tensor) -> list:
        return [self.preview(x)]

    def preview(self, x: torch.Tensor, nrow=None) -> Image.Image:
        hist, _ = np.histogram(self.to_array(x)[:, 0], bins=32, range=(-6, 6))
        img = np.full((32, 32), 255, np.uint8)
        for i, h in enumerate(hist):
            img[32 - min(32, int(h)):, i] = 0
        return Image.fromarray(img)

    def save(self, x, out_dir: Path, stems):
        return []


@dataclass
class MLPOptions:
    z_dim: int = option(4, "latent length", min=1)
    width: int = option(32, "hidden width", min=1)


class MLPGAN(GanModel):
    name = "toy-mlp"
    domain = "vector"
    Options = MLPOptions
    default_resolution = 1

    def __init__(self, spec: DataSpec, options: MLPOptions) -> None:
        super().__init__(spec, options)
        d = spec.shape[0]
        self.G = nn.Sequential(nn.Linear(options.z_dim, options.width), nn.ReLU(), nn.Linear(options.width, d))
        self.D = nn.Sequential(nn.Linear(d, options.width), nn.LeakyReLU(0.2), nn.Linear(options.width, 1),
                               nn.Flatten(0))

    def sample_latent(self, n, generator, truncation=None):
        return normal_latent(n, self.options.z_dim, generator, truncation)


def register() -> None:
    DOMAINS.register("vector", VectorDomain)
    MODELS.register("toy-mlp", MLPGAN)


def gaussian_dataset(mean: float = 3.0, std: float = 0.5, n: int = 2048, seed: int = 0, dim: int = 2) -> ArrayDataset:
    x = np.random.default_rng(seed).normal(mean, std, size=(n, dim)).astype(np.float32)
    return ArrayDataset("gaussian", "vector", {"x": x}, {"licence": "synthetic"}, fingerprint_arrays({"x": x}))
