"""The Python API for using a trained model: ``G = ganvas.load(run); G.sample(16, seed=1)``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from ganvas.loaded import LoadedModel
from ganvas.train import checkpoint as ckpt
from ganvas.train.checkpoint_meta import rebuild

if TYPE_CHECKING:
    from ganvas.translator import Translator
    from ganvas.writer import Writer


class Generator(LoadedModel):
    """A trained generator (the weight-averaged one) ready to sample."""

    @property
    def classes(self) -> list[str]:
        """The class names a conditional model takes (`sample(..., label=NAME)`); empty for an unconditional one."""
        return list(self.model.spec.classes) if self.model.num_classes else []

    def latents(self, n: int, seed: int = 0, truncation: float | None = None, label: Any = None) -> torch.Tensor:
        """The latent codes `sample` uses: output i is the output of seed ``seed + i``, whatever n is."""
        return self.model.latents_for_seeds(list(range(seed, seed + n)), truncation, self.device, label)

    @torch.no_grad()
    def __call__(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.generate(latent.to(self.device))

    def sample(self, n: int, seed: int = 0, truncation: float | None = None,
               pil: bool = False, label: Any = None) -> torch.Tensor | list[Image.Image]:
        """Outputs of seeds seed … seed+n−1: a tensor in the domain's range, or PIL images with ``pil=True``.

        `label` (conditional models): a class name (``"Flags"``) or a blend (``"Flags:0.5,Objects:0.5"``
        or a dict); without one, seed s draws class s mod K (see `classes`)."""
        out = self(self.latents(n, seed, truncation, label))
        return self.domain.to_pil(out) if pil else out

    # --- style-based models (see ganvas.style) ---------------------------------------------------

    def ws(self, n: int, seed: int = 0, truncation: float | None = None,
           truncation_cutoff: int | None = None, label: Any = None) -> torch.Tensor:
        """Per-layer w codes [n, num_ws, w_dim] of seeds seed … seed+n−1 (ψ pulls the first cutoff layers)."""
        from ganvas.style import ws_for_seeds

        return ws_for_seeds(self, list(range(seed, seed + n)), truncation, truncation_cutoff, label)

    def synthesize(self, ws: torch.Tensor, pil: bool = False) -> torch.Tensor | list[Image.Image]:
        """Outputs of w codes ([n, num_ws, w_dim], or [n, w_dim] for one w on every layer)."""
        from ganvas.style import synthesize

        out = synthesize(self, ws)
        return self.domain.to_pil(out) if pil else out

    def mixing_grid(self, rows: list[int], cols: list[int], layers: str | list[int] | None = None,
                    truncation: float | None = None, truncation_cutoff: int | None = None) -> Image.Image:
        """StyleGAN's style-mixing table: row seeds with `layers` (default the coarse half) from column seeds."""
        from ganvas.style import mixing_picture

        return mixing_picture(self, rows, cols, layers, truncation, truncation_cutoff)


def load(path: str | Path, device: str | torch.device = "cpu") -> Generator | Translator | Writer:
    """Load the averaged generator(s) of a run folder or checkpoint folder. Never unpickles anything.

    A model that samples from noise comes back as a `Generator`; a translation model (pix2pix,
    cyclegan) as a `Translator`; a text model (ctrl) as a `Writer`.
    """
    c = ckpt.load(path, with_optim=False)
    stored = sum(t.numel() for sd in c.nets.values() for t in sd.values())
    model_cls, model = rebuild(c.meta, c.path, stored)     # fields checked, size bounded before allocating
    for name in model_cls.generator_names:
        what = f"checkpoint file {c.path / 'nets.safetensors'} network {name}_ema"
        ckpt.load_weights(getattr(model, name), c.nets.get(f"{name}_ema", {}), what)
    for name in model_cls.discriminator_names:     # D's verdict explains outputs (explore/why) and values them
        if c.nets.get(name):
            what = f"checkpoint file {c.path / 'nets.safetensors'} network {name}"
            ckpt.load_weights(getattr(model, name), c.nets[name], what)
    device = torch.device(device)
    if model_cls.data_layout != "single":
        from ganvas.translator import Translator

        return Translator(model.to(device), c.meta, c.path, device)
    if model_cls.domain == "text":
        from ganvas.writer import Writer

        return Writer(model.to(device), c.meta, c.path, device)
    return Generator(model.to(device), c.meta, c.path, device)
