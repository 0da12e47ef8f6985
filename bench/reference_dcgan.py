"""pytorch/examples `dcgan/main.py`, the baseline the benchmarks hold ganvas against.

Its data pipeline (ImageFolder + Resize + ToTensor + Normalize, rebuilt here without torchvision),
its weights_init, its optimisers and one iteration of its loop, shared by `train_throughput.py`
(speed) and `quality_per_minute.py` (quality for a time budget). The networks are ganvas's `dcgan`
ones, which are layer for layer the example's, so only the loop around them differs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ganvas.nets.dcgan import Discriminator, Generator

Z_DIM = 100


class PngFiles(Dataset):
    """Every PNG below `root`, resized to `res` and scaled to [−1, 1], with a dummy label."""

    def __init__(self, root: Path, res: int) -> None:
        self.paths = sorted(Path(root).rglob("*.png"))
        self.res = res

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.open(self.paths[i]).convert("RGB").resize((self.res, self.res), Image.Resampling.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - 0.5) / 0.5, 0


class ReferenceDCGAN:
    """The example's networks, BCE loss and Adam optimisers, seeded like it."""

    def __init__(self, res: int, nf: int, seed: int, weights_init: bool = True) -> None:
        torch.manual_seed(seed)
        self.res = res
        self.netG = Generator(Z_DIM, nf, res)
        self.netD = nn.Sequential(Discriminator(nf, res), nn.Sigmoid())
        if weights_init:
            for m in [*self.netG.modules(), *self.netD.modules()]:
                if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                    nn.init.normal_(m.weight, 0.0, 0.02)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.normal_(m.weight, 1.0, 0.02)
                    nn.init.zeros_(m.bias)
        self.criterion = nn.BCELoss()
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def loader(self, png_dir: Path, batch: int, seed: int | None = None) -> DataLoader:
        gen = None if seed is None else torch.Generator().manual_seed(seed)
        return DataLoader(PngFiles(png_dir, self.res),
                          batch_size=batch, shuffle=True, num_workers=2, drop_last=True, generator=gen)

    def step(self, real: torch.Tensor) -> None:
        """One iteration of the example's loop: D on a real and a fake batch, then G through D."""
        b = real.size(0)
        self.netD.zero_grad()
        label = torch.full((b,), 1.0)
        self.criterion(self.netD(real), label).backward()
        fake = self.netG(torch.randn(b, Z_DIM, 1, 1))
        label.fill_(0.0)
        self.criterion(self.netD(fake.detach()), label).backward()
        self.optD.step()
        self.netG.zero_grad()
        label.fill_(1.0)
        self.criterion(self.netD(fake), label).backward()
        self.optG.step()
