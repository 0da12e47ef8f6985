"""`template`: a minimal model to copy when adding one to ganvas (not registered).

To add a model:
1. Copy this file to ``ganvas/nets/<your_model>.py`` and rename the classes.
2. Describe every option in the Options dataclass: default, one-line help with the allowed values,
   and ``min``/``choices`` so bad values are refused with a one-line error.
3. Build ``self.G`` and ``self.D`` in ``__init__`` from ``spec`` (the data's shape) and the options.
4. Say what data you accept in ``check_spec``. Latents are z ~ N(0, I) of length ``options.z_dim``
   (override ``latent_shape`` otherwise), and ``ganspace_layer`` names the early layer of G that
   GANSpace reads; a style-based model declares its w space as ``stylegan.py`` does (GanModel's
   "generator contract").
5. Add one line to ``MODELS`` in ``ganvas/registry.py``:  ``"my-model": "ganvas.nets.my_model:MyModel"``.
Then ``ganvas train --model my-model --dry-run`` runs the whole path, and the test suite's dry-run test
covers it. Override ``objective`` only if the model needs losses beyond the adversarial game
(see ``ganvas/objectives/``); the training loop itself is never copied.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ganvas.config import option
from ganvas.nets.base import DataSpec, GanModel, image_side


@dataclass
class TemplateOptions:
    z_dim: int = option(64, "length of the latent code; >= 1", min=1)
    width: int = option(256, "hidden units of both MLPs; >= 1", min=1)


class TemplateGAN(GanModel):
    """Two MLPs over flattened images: fast to build and train, and easy to read."""

    name = "template"
    Options = TemplateOptions
    default_resolution = 32
    resolutions = (16, 32, 64)
    ganspace_layer = "1"                # GANSpace's `activations` method reads the hidden layer (after its ReLU)

    def __init__(self, spec: DataSpec, options: TemplateOptions) -> None:
        super().__init__(spec, options)
        pixels = spec.shape[0] * spec.shape[1] * spec.shape[2]
        self.G = nn.Sequential(nn.Linear(options.z_dim, options.width), nn.ReLU(),
                               nn.Linear(options.width, pixels), nn.Tanh(), nn.Unflatten(1, spec.shape))
        self.D = nn.Sequential(nn.Flatten(), nn.Linear(pixels, options.width), nn.LeakyReLU(0.2),
                               nn.Linear(options.width, 1), nn.Flatten(0))

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)                              # image data only
        image_side(spec, cls.name, cls.resolutions)
