"""The Python API for using a trained model: ``G = ganvas.load(run); G.sample(16, seed=1)``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from ganvas.domains import get_domain
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec, GanModel
from ganvas.train import checkpoint as ckpt

if TYPE_CHECKING:
    from ganvas.translator import Translator


class Generator:
    """A trained generator (the weight-averaged one) ready to sample, with what it was trained on."""

    def __init__(self, model: GanModel, meta: dict[str, Any], path: Path, device: torch.device) -> None:
        self.model = model.eval().requires_grad_(False)
        self.meta = meta                        # the checkpoint's JSON: config, dataset, progress, versions
        self.path = path                        # the checkpoint folder it came from
        self.device = device
        self.domain = get_domain(model.spec.domain)

    @property
    def name(self) -> str:
        return self.model.name

    def latents(self, n: int, seed: int = 0, truncation: float | None = None) -> torch.Tensor:
        """The latent codes `sample` uses: output i is the output of seed ``seed + i``, whatever n is."""
        return self.model.latents_for_seeds(list(range(seed, seed + n)), truncation, self.device)

    @torch.no_grad()
    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.generate(latent.to(self.device))

    def sample(self, n: int, seed: int = 0, truncation: float | None = None,
               pil: bool = False) -> torch.Tensor | list[Image.Image]:
        """Outputs of seeds seed … seed+n−1: a tensor in the domain's range, or PIL images with ``pil=True``."""
        out = self(self.latents(n, seed, truncation))
        return self.domain.to_pil(out) if pil else out


def load(path: str | Path, device: str | torch.device = "cpu") -> Generator | Translator:
    """Load the averaged generator(s) of a run folder or checkpoint folder. Never unpickles anything.

    A model that samples from noise comes back as a `Generator`; a translation model (pix2pix,
    cyclegan) as a `Translator`.
    """
    c = ckpt.load(path, with_optim=False)
    desc = c.meta["model"]
    model_cls = MODELS.get(desc["name"])
    model = model_cls.build(DataSpec.from_dict(desc["spec"]), desc["options"])
    for name in model_cls.generator_names:
        what = f"checkpoint {c.path} network {name}_ema"
        ckpt.load_weights(getattr(model, name), c.nets.get(f"{name}_ema", {}), what)
    device = torch.device(device)
    if model_cls.data_layout != "single":
        from ganvas.translator import Translator

        return Translator(model.to(device), c.meta, c.path, device)
    return Generator(model.to(device), c.meta, c.path, device)
