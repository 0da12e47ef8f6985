"""What every model rebuilt from a checkpoint for use shares: the frozen networks, the checkpoint's record, the domain.

`ganvas.api.Generator` (models that sample from noise) and `ganvas.translator.Translator`
(translation models) both derive from it; it sits below both so neither imports the other to get it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ganvas.domains import get_domain
from ganvas.nets.base import GanModel


class LoadedModel:
    """A model rebuilt from a checkpoint for use (frozen, in eval mode), with what it was trained on."""

    def __init__(self, model: GanModel, meta: dict[str, Any], path: Path, device: torch.device) -> None:
        self.model = model.eval().requires_grad_(False)
        self.meta = meta                        # the checkpoint's JSON: config, dataset, progress, versions
        self.path = path                        # the checkpoint folder it came from
        self.device = device
        self.domain = get_domain(model.spec.domain, model.spec.domain_args)

    @property
    def name(self) -> str:
        return self.model.name
