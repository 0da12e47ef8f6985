"""The order in which training samples are seen: reproducible from (seed, epoch, position) alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class EpochSampler:
    """Batches of indices from a fresh permutation each epoch.

    The permutation of epoch e depends only on (seed, e), so the sampler's whole state is two
    integers, a resumed run sees exactly the batches an uninterrupted run would, and ranks of a
    distributed run can take disjoint shards of the same permutation. A dataset smaller than a batch
    simply spans several epochs per batch.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch, self.offset = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        perm = torch.randperm(self.n, generator=g).numpy()
        return perm[self.rank::self.world]

    def next(self) -> np.ndarray:
        out: list[np.ndarray] = []
        need = self.batch_size
        while need:
            if self.offset >= len(self._perm):
                self.epoch, self.offset = self.epoch + 1, 0
                self._perm = self._permutation(self.epoch)
            take = self._perm[self.offset:self.offset + need]
            out.append(take)
            self.offset += len(take)
            need -= len(take)
        return np.concatenate(out) if len(out) > 1 else out[0]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "offset": self.offset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])
        self._perm = self._permutation(self.epoch)
