"""`seed-dcgan`: the 64×64 DCGAN of ganvas's founding document, translated faithfully to PyTorch.

G: Dense(z 100 → 8·8·256, no bias) → LeakyReLU → reshape 256×8×8 → ConvTranspose(128, 4, stride 2,
"same", no bias) → LeakyReLU → ConvTranspose(64, 4, 2) → LeakyReLU → ConvTranspose(3, 4, 2) → tanh.
D: Conv(64, 4, 2, "same") → LeakyReLU → Dropout(0.4) → Conv(128, 4, 2) → LeakyReLU → Dropout(0.4) →
Flatten → Dense(1), with the sigmoid folded into the loss. Adam(2e-4, β1 = 0.5) is the engine's default.

Faithful means Keras's defaults too: LeakyReLU slope 0.3, Glorot-uniform weights, zero biases, and
no BatchNorm anywhere. Keras "same" padding for a stride-2, 4×4 (transposed) convolution is
``padding=1`` in PyTorch: exactly half or double the size.

The document's own code does not run as printed; these bugs are fixed here:
1. ``Flatten`` is used in the discriminator but never imported.
2. ``tf.keras.activations.tanh()`` is a function called with no argument, not a layer; it is meant
   as ``Activation("tanh")`` (here ``nn.Tanh()``).
3. ``Adam(lr=...)``: the argument is ``learning_rate`` in current Keras (``lr`` was removed).
Its ``Dense(1, activation="sigmoid")`` followed by a cross-entropy is computed here on logits, which
is the same function, only numerically stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganvas.config import option
from ganvas.errors import GanvasError
from ganvas.nets.base import DataSpec, GanModel, image_side

KERAS_LEAKY_SLOPE = 0.3


@dataclass
class SeedDCGANOptions:
    z_dim: int = option(100, "length of the latent code (the document's latent_dim); >= 1", min=1)
    dropout: float = option(0.4, "dropout after each D convolution; in [0, 1)", min=0)


class Generator(nn.Module):
    def __init__(self, z_dim: int) -> None:     # z_dim: latent code length
        super().__init__()
        self.fc = nn.Linear(z_dim, 8 * 8 * 256, bias=False)
        self.net = nn.Sequential(
            nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.Unflatten(1, (256, 8, 8)),
            nn.ConvTranspose2d(256, 128, 4, 2, 1, bias=False), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.LeakyReLU(KERAS_LEAKY_SLOPE),
            nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(z))


class Discriminator(nn.Module):
    def __init__(self, dropout: float) -> None:   # dropout: rate after each convolution
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 64, 4, 2, 1), nn.LeakyReLU(KERAS_LEAKY_SLOPE), nn.Dropout(dropout),
            nn.Conv2d(64, 128, 4, 2, 1), nn.LeakyReLU(KERAS_LEAKY_SLOPE), nn.Dropout(dropout),
            nn.Flatten(), nn.Linear(128 * 16 * 16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def glorot_init(module: nn.Module) -> None:
    """Keras's defaults: Glorot-uniform kernels, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class SeedDCGAN(GanModel):
    name = "seed-dcgan"
    Options = SeedDCGANOptions
    default_resolution = 64
    resolutions = (64,)
    ganspace_layer = "net.0"            # after the dense layer and its LeakyReLU (8×8×256)

    def __init__(self, spec: DataSpec, options: SeedDCGANOptions) -> None:
        super().__init__(spec, options)
        self.G = Generator(options.z_dim)
        self.D = Discriminator(options.dropout)
        glorot_init(self)

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        image_side(spec, cls.name, cls.resolutions)
        if spec.shape[0] != 3:
            raise GanvasError(f"seed-dcgan makes RGB images (3 channels), got {spec.shape[0]}")

    @classmethod
    def parse_options(cls, args: dict) -> SeedDCGANOptions:
        opts = super().parse_options(args)
        if opts.dropout >= 1:
            raise GanvasError(f"seed-dcgan option 'dropout' must be in [0, 1), got {opts.dropout}")
        return opts
