"""`random`: a fixed-seed, untrained CNN as a feature extractor, for data without labels.

Randomly initialised networks are a known baseline embedding for sample-quality metrics when no
network trained on similar data exists (Naeem et al. 2020, "Reliable Fidelity and Diversity
Metrics for Generative Models", §5 and their T4Rand study): they keep local image statistics
(colour, edges, texture at several scales) without any class knowledge. Weights come from numpy's
PCG64 generator seeded with `SEED`, not from torch's initialisers, so the network and its hash stay
the same across torch versions. Features are the pooled outputs of all four stages (multi-scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ganvas.eval.convnet import ConvNet
from ganvas.eval.features import Extractor, resize_for

SEED = 0
WIDTH = 24
INPUT_SIZE = 64


def random_convnet(seed: int = SEED, width: int = WIDTH) -> ConvNet:
    """He-normal weights and zero biases drawn from numpy's PCG64(seed), layer by layer."""
    net = ConvNet(width, norm=False)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for conv in net.convs:
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            w = rng.standard_normal(conv.weight.shape) * np.sqrt(2.0 / fan_in)
            conv.weight.copy_(torch.from_numpy(w))
            conv.bias.zero_()
    return net


def build_extractor(dataset: Any = None, seed: int = SEED, width: int = WIDTH) -> Extractor:
    net = random_convnet(seed, width).to(memory_format=torch.channels_last)

    def forward(images: torch.Tensor) -> torch.Tensor:
        return torch.cat(net.stages(resize_for(images, INPUT_SIZE)), dim=1)

    return Extractor("random", net, forward, dim=width * 15,
                     preprocessing=f"uint8 RGB to [-1, 1]; bilinear antialiased resize to {INPUT_SIZE}x{INPUT_SIZE}; "
                                   "pooled outputs of 4 stages",
                     source={"seed": seed, "width": width, "init": "He-normal from numpy PCG64(seed)"},
                     batch_size=128)
