"""Feature extractors, registered by name, each with an identity written into every result.

An extractor turns images (uint8 N×H×W×3, the image domain's stored form) into float64 feature
vectors. Its identity is its name, the SHA-256 of its weights (every tensor of the network, by
name, dtype and shape, in a fixed order, so the same weights give the same hash whatever file they
came from) and a description of its preprocessing. Distances are comparable only between results
with the same identity, so each result carries it.

- `inception`: the FID network (only its numbers are called FID and KID); weights must be local.
- `domain`: a small CNN ganvas trains on the dataset's own labels; distances are FD_domain.
- `random`: a fixed-seed untrained CNN for data without labels; distances are FD_random.
A new extractor is one file with a ``build_extractor(dataset, **options)`` function and one line here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ganvas import registry
from ganvas.errors import GanvasError

EXTRACTORS = registry.EXTRACTORS   # the table lives in ganvas/registry.py (the one catalogue)


def weights_sha256(module: torch.nn.Module) -> str:
    """SHA-256 over every tensor of `module` (sorted names, dtype, shape, little-endian bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


def resize_for(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 N×3×H×W → float in [-1, 1] at size×size (bilinear with antialiasing when shrinking)."""
    x = images.float().div_(127.5).sub_(1.0)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                                            antialias=True)
    return x


@dataclass
class Extractor:
    """A named, hashed function from images to features."""

    name: str                           # registry name: inception | domain | random
    net: torch.nn.Module                # the network (eval mode, no gradients)
    forward: Callable[[torch.Tensor], torch.Tensor]   # uint8 N×3×H×W batch → N×dim features
    dim: int                            # feature width
    preprocessing: str                  # what happens to an image before the network, in words
    source: dict[str, Any] = field(default_factory=dict)   # where the weights came from (file, recipe, seed)
    batch_size: int = 64                # images per forward pass
    domain: str = "image"               # the data domain it reads
    sha256: str = ""                    # weights hash (filled in by __post_init__)

    def __post_init__(self) -> None:
        self.net.eval().requires_grad_(False)
        if not self.sha256:
            self.sha256 = weights_sha256(self.net)

    @property
    def fd_name(self) -> str:
        """How its Fréchet distance is called: FID for Inception only, FD_<name> otherwise."""
        return "FID" if self.name == "inception" else f"FD_{self.name}"

    @property
    def kd_name(self) -> str:
        return "KID" if self.name == "inception" else f"KD_{self.name}"

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "dim": self.dim, "preprocessing": self.preprocessing,
                "fd_name": self.fd_name, "kd_name": self.kd_name, "source": self.source}

    @torch.inference_mode()
    def __call__(self, images: np.ndarray, progress: bool = False, what: str = "images") -> np.ndarray:
        """Features of uint8 N×H×W×3 images, as float64 N×dim."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise GanvasError(f"feature extractor '{self.name}' reads uint8 N×H×W×3 RGB images, "
                              f"got {images.dtype} {images.shape} for {what}")
        out = np.empty((len(images), self.dim))
        with torch.random.fork_rng(devices=[]), tqdm(total=len(images), desc=f"{self.name} features of {what}",
                                                      unit="img", disable=not progress, leave=False) as bar:
            for start in range(0, len(images), self.batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(images[start:start + self.batch_size]))
                x = batch.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
                out[start:start + len(batch)] = self.forward(x).double().numpy()
                bar.update(len(batch))
        return out


def get_extractor(name: str, dataset: Any = None, **options: Any) -> Extractor:
    """The extractor registered as `name`, built for `dataset` (the domain extractor trains on it)."""
    extractor = EXTRACTORS.get(name)(dataset, **options)
    if dataset is not None and getattr(dataset, "domain", extractor.domain) != extractor.domain:
        raise GanvasError(f"feature extractor '{name}' reads {extractor.domain} data, "
                          f"but dataset '{dataset.name}' is {dataset.domain} data")
    return extractor


def dataset_features(extractor: Extractor, dataset: Any, progress: bool = False) -> np.ndarray:
    """Features of every sample of `dataset`, cached in the data home by extractor and data fingerprint."""
    from ganvas.data import data_home
    from ganvas.files import load_npy, save_npy

    fp = (dataset.fingerprint or "").split(":")[-1]
    path = data_home() / "features" / f"{extractor.name}-{extractor.sha256[:16]}" / f"{fp[:32]}.npy"
    if fp and path.exists():
        feats = load_npy(path)
        if feats.shape == (len(dataset), extractor.dim):
            return feats
    feats = extractor(dataset.arrays["x"], progress=progress, what=f"dataset {dataset.name}")
    if fp:
        save_npy(path, feats)
    return feats
