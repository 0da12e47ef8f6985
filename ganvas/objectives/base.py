"""Objective: how a model's losses are computed for one D step and one G step.

The loop owns the schedule (n_critic, optimiser steps, EMA, checkpoints) and never looks inside a
batch; an objective owns the arithmetic. Models with several generators (CycleGAN) or extra terms
(reconstruction, classification) bring their own objective instead of their own loop.
"""

from __future__ import annotations

from typing import Any

import torch

Batch = dict[str, torch.Tensor]
Stats = dict[str, torch.Tensor]


class Objective:
    """Losses for the two phases of a training step."""

    @property
    def trains_discriminator(self) -> bool:
        """Whether the coming step has D steps; False skips them (maximum likelihood: G's step alone)."""
        return True

    def d_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def g_loss(self, batch: Batch) -> tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """JSON-able state that must survive a resume (counters, augmentation strength...)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def tensor_state(self) -> dict[str, torch.Tensor]:
        """Tensors that must survive a resume (image pools...): saved in safetensors, never in JSON."""
        return {}

    def load_tensor_state(self, tensors: dict[str, torch.Tensor]) -> None:
        pass

    def reseed(self, seed: int) -> None:
        """Restart the objective's own random streams from `seed`: a rank that joins a resumed run (more
        processes than the run had) starts from rank 0's state and must not repeat rank 0's draws."""
