"""What image-to-image translation models share: the PatchGAN discriminator, sample grids of
input | output | target, and the discriminator's half of the objective.

A translation model's "latent" is an image of domain A (or B): `generate(images, net)` translates
them. Its grids show fixed held-out inputs next to what the weight-averaged generators make of them.
Generators and discriminators use instance normalisation (no running statistics), as CycleGAN does
and as pix2pix's batch-size-1 BatchNorm effectively does, so a network behaves the same in training
and at inference and at any batch size.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from ganvas.errors import GanvasError
from ganvas.nets.base import DataSpec, GanModel, image_side

if TYPE_CHECKING:
    pass

RESOLUTIONS = (32, 64, 128, 256)
PATCH_FRACTION = 70 / 256     # pix2pix's 70×70 patches on 256×256 images


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one output of an `n_layers` PatchGAN sees (16, 34, 70, 142...)."""
    field = 1
    for stride in [1, 1] + [2] * n_layers:      # from the output back: two stride-1 convs, then the stride-2 ones
        field = field * stride + (4 - stride)
    return field


def patch_layers(side: int) -> int:
    """The PatchGAN depth whose patches cover the same fraction of a `side`-pixel image as 70×70 of 256×256."""
    return min(range(1, 6), key=lambda n: abs(math.log(receptive_field(n) / (side * PATCH_FRACTION))))


class PatchDiscriminator(nn.Module):
    """Isola et al.'s PatchGAN: a map of logits, each judging one receptive-field-sized patch."""

    def __init__(self,
                 in_channels: int,      # image channels (both images' channels for a conditional D)
                 ndf: int,              # channels of the first feature map; doubles per layer, capped at 8×
                 n_layers: int,         # stride-2 convolutions: 1, 2, 3 → 16, 34, 70 pixel patches
                 ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride, 1), nn.InstanceNorm2d(ndf * mult),
                       nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)                               # N×1×h×w logits; losses average over patches


def pick(array: np.ndarray, n: int) -> np.ndarray:
    """`n` evenly spaced rows of `array` (all of them when it has fewer)."""
    if len(array) <= n:
        return array
    return array[np.linspace(0, len(array) - 1, n).round().astype(int)]


class TranslationModel(GanModel):
    """Generators from one image domain to another; `directions` maps AtoB / BtoA to generator names."""

    data_layout = "paired"
    default_resolution = 64
    resolutions = RESOLUTIONS
    directions: ClassVar[dict[str, str]] = {"AtoB": "G"}
    triptychs_per_row: ClassVar[int] = 4

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        image_side(spec, cls.name, RESOLUTIONS)

    def _no_latent(self) -> GanvasError:
        return GanvasError(f"model '{self.name}' translates images and has no latent space to sample; "
                           "use `ganvas translate` (or ganvas.load(...).translate) instead")

    # the generator contract (GanModel): no latent codes, so every part of it is this one-line error
    has_latent = False

    def sample_latent(self, n: int, generator: torch.Generator, truncation: float | None = None) -> torch.Tensor:
        raise self._no_latent()

    def latents_for_seeds(self, seeds: list[int], truncation: float | None = None,
                          device: torch.device | str = "cpu") -> torch.Tensor:
        raise self._no_latent()

    @property
    def latent_shape(self) -> tuple[int, ...]:
        raise self._no_latent()

    @property
    def ganspace_layer(self) -> str:
        raise self._no_latent()

    def to_edit_space(self, z: torch.Tensor) -> torch.Tensor:
        raise self._no_latent()

    def truncate(self, codes: torch.Tensor, psi: float | None, cutoff: int | None = None) -> torch.Tensor:
        raise self._no_latent()

    def synthesize(self, codes: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        raise self._no_latent()

    def grid_input(self, seeds: list[int], dataset: Any, device: torch.device | str = "cpu") -> dict[str, Any]:
        """Fixed inputs for the run's grids: evenly spaced held-out rows (training rows if none are held out)."""
        from ganvas.domains import get_domain

        domain = get_domain(dataset.domain)
        n = len(seeds) if self.data_layout == "paired" else math.ceil(len(seeds) / 2)
        out = {}
        for side in ("a", "b"):
            rows = dataset.arrays[f"{side}_test"] if len(dataset.arrays[f"{side}_test"]) else dataset.arrays[side]
            out[side] = domain.to_tensor(pick(rows, n), device)
        return out

    def rows(self, grid_input: dict[str, torch.Tensor], nets: dict[str, nn.Module]) -> list[torch.Tensor]:
        """The grid's triptychs as a list of N×C×H×W tensors, one per column (input, output, target)."""
        a, b = grid_input["a"], grid_input["b"]
        return [a, nets["G"](a), b]

    @torch.no_grad()
    def preview(self, grid_input: Any, nets: dict[str, nn.Module], domain: Any) -> Any:
        columns = self.rows(grid_input, nets)
        images = torch.stack(columns, 1).flatten(0, 1)          # a0, out0, b0, a1, out1, b1, ...
        return domain.preview(images, nrow=len(columns) * self.triptychs_per_row)
