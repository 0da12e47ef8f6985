"""The order in which training samples are seen: reproducible from (seed, epoch, position) alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


class EpochSampler:
    """Batches of indices from a fresh permutation each epoch.

    The permutation of epoch e depends only on (seed, e), so the sampler's whole state is two
    integers and a resumed run sees exactly the batches an uninterrupted run would. Every rank of a
    distributed run draws the same global batch and takes its own slice of it
    (`ganvas.distributed.shard`), so the order of the data does not depend on the number of
    processes, and a run resumed with a different number continues the same order. A dataset
    smaller than a batch simply spans several epochs per batch.
    """

    def __init__(self,
                 n: int,                # samples to draw from
                 batch_size: int,       # indices per batch (the global batch of all ranks)
                 seed: int,             # seed of every epoch's permutation
                 ) -> None:
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.offset = 0, 0
        self._perm = self._permutation(0)

    def _permutation(self, epoch: int) -> np.ndarray:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) % (2**63))
        return torch.randperm(self.n, generator=g).numpy()

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
