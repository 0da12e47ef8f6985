"""The small interfaces the loop works through: the data it samples, the domain it converts with, its hooks.

The loop imports no dataset, domain, evaluation or API code: the application layer
(`ganvas.app.training`) hands it objects that satisfy these protocols. A hook is anything that must
run every N steps with access to the run (evaluation during training is one, `ganvas.eval`); its
state is JSON and travels in every checkpoint under the hook's `name`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.distributed import Context
    from ganvas.nets.base import GanModel
    from ganvas.objectives.base import Objective


class TrainingData(Protocol):
    """Samples as arrays, and which arrays one sampler indexes together (see docs/overview.md, streams)."""

    arrays: dict[str, np.ndarray]
    streams: dict[str, tuple[str, ...]]
    domain: str                          # the domain's registered name
    domain_args: dict[str, Any]
    fingerprint: str

    def __len__(self) -> int: ...

    def summary(self) -> dict[str, Any]: ...


class Domain(Protocol):
    """What the loop needs of a domain: stored samples to tensors, tensors to arrays, and a grid picture."""

    def to_tensor(self, rows: Any, device: torch.device | str = "cpu") -> torch.Tensor: ...

    def to_array(self, x: torch.Tensor) -> np.ndarray: ...

    def preview(self, x: torch.Tensor, nrow: int | None = None) -> Any: ...


class Run(Protocol):
    """The part of a training run a hook may use (`ganvas.train.loop.Trainer` provides it)."""

    cfg: TrainConfig
    model: GanModel
    objective: Objective
    dataset: TrainingData
    domain: Domain
    device: torch.device
    dist: Context
    run_dir: Path
    progress_bar: bool
    last_checkpoint: Path | None

    def ema_generator(self, name: str = "G") -> torch.nn.Module: ...

    def fork_rng(self) -> AbstractContextManager[Any]: ...

    def checkpoint_now(self) -> Path: ...

    def log_scalars(self, values: dict[str, float]) -> None: ...

    def stop(self, reason: str) -> None: ...


class StepHook(Protocol):
    """Runs every `every` steps; `name` keys its JSON state in checkpoints."""

    name: str
    every: int

    def on_step(self, run: Run, step: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
