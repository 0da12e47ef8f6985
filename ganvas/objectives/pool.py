"""A history of generated images for the discriminator (Shrivastava et al. 2017; used by CycleGAN).

Judging only the newest generator's outputs lets D and G chase each other in circles; mixing in
images from earlier generators steadies D. For each new image: while the pool is not full, store it
and pass it on; after that, with probability ½ pass on a random stored image and store the new one
in its place, else pass the new image on.

The pool is part of the training state: its images are checkpointed as tensors (safetensors) and
its random stream as JSON, so a resumed run draws exactly what an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch

from ganvas import seeds


class ImagePool:
    def __init__(self,
                 size: int,             # images kept; 0 = no pool (pass every image straight on)
                 seed: int,             # seed of the pool's own random stream
                 ) -> None:
        self.size = size
        self.rng = torch.Generator().manual_seed(seed)
        self.images: torch.Tensor | None = None      # size×C×H×W once the first batch arrives
        self.count = 0

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The batch D should see in place of `images` (detached; same shape)."""
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is None:
            self.images = torch.empty((self.size, *images.shape[1:]), dtype=images.dtype, device=images.device)
        out = []
        for image in images:
            if self.count < self.size:
                self.images[self.count] = image
                self.count += 1
                out.append(image)
            elif torch.rand((), generator=self.rng) < 0.5:
                i = int(torch.randint(self.size, (), generator=self.rng))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "rng": seeds.rng_to_json(self.rng.get_state())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.set_state(seeds.rng_from_json(state["rng"]))

    def tensor(self) -> torch.Tensor | None:
        """The stored images (count×C×H×W), or None when empty."""
        return None if self.images is None or self.count == 0 else self.images[:self.count].contiguous()

    def load_tensor(self, stored: torch.Tensor | None) -> None:
        self.images, self.count = None, 0
        if stored is not None and len(stored):
            self.images = torch.empty((self.size, *stored.shape[1:]), dtype=stored.dtype, device=stored.device)
            self.images[:len(stored)] = stored
            self.count = len(stored)
