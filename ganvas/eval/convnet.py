"""The small convolutional network behind the `domain` (trained) and `random` (untrained) extractors.

Four stride-2 stages (64 → 32 → 16 → 8 → 4 pixels at the default input) ending in global average
pooling: about 20 M multiply-adds per 64×64 image, so features of a few thousand images take
seconds on a CPU and training it takes about a minute. Fully convolutional, so any input of at least
16×16 works; the extractor resizes every image to one `input_size` first.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvNet(nn.Module):
    def __init__(self,
                 width: int = 24,           # channels of the first stage; stages have 1, 2, 4, 8 × width
                 num_classes: int = 0,      # classifier outputs (0 = features only)
                 norm: bool = True,         # BatchNorm after each convolution (off for the random net)
                 ) -> None:
        super().__init__()
        w = width
        plan = [(3, w, 2), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 4 * w, 2), (4 * w, 4 * w, 1), (4 * w, 8 * w, 2)]
        self.convs = nn.ModuleList(nn.Conv2d(cin, cout, 3, stride, 1, bias=not norm) for cin, cout, stride in plan)
        self.norms = nn.ModuleList(nn.BatchNorm2d(cout) if norm else nn.Identity() for _, cout, _ in plan)
        self.stage_ends = (0, 2, 4, 5)      # conv indices whose outputs end a stage
        self.dim = 8 * w
        self.head = nn.Linear(8 * w, num_classes) if num_classes else None

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output map of each stage (widths w, 2w, 4w, 8w; sides 1/2, 1/4, 1/8, 1/16 of the input).

        Projection (ganvas.explore.project) compares images by these maps: spatial features, not pooled.
        """
        maps = []
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = F.relu(norm(conv(x)))
            if i in self.stage_ends:
                maps.append(x)
        return maps

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Globally pooled output of each stage (widths w, 2w, 4w, 8w)."""
        return [m.mean(dim=(2, 3)) for m in self.feature_maps(x)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.stages(x)[-1]
        return self.head(F.dropout(feats, 0.2, self.training)) if self.head is not None else feats
