"""Seeds and random-generator states: the leaf every layer may use to name a random stream.

A run has one seed; each of its random streams (data order, latents, pools, recalibration...) gets
its own seed derived from it by name, so adding a stream never shifts another's numbers. Generator
states travel in JSON checkpoint records as base64 text.
"""

from __future__ import annotations

import base64
import hashlib

import torch


def derive_seed(seed: int, purpose: str) -> int:
    """Independent, reproducible seeds for each random stream of a run."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{purpose}".encode()).digest()[:8], "little") % (2**63)


def rng_to_json(state: torch.Tensor) -> str:
    """A torch generator state as text (checkpoint JSON holds no binary)."""
    return base64.b64encode(state.numpy().tobytes()).decode("ascii")


def rng_from_json(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()
