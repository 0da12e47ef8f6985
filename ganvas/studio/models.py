"""Loaded models, kept: each checkpoint is loaded once (safetensors only) and held in a bounded LRU.

Loading reads the checkpoint's JSON and weights through `ganvas.api.load`, which never unpickles.
A loaded model stays in eval mode with gradients off; its GANSpace directions are kept with it
(computed once, cached in the run folder). When more models are asked for than `capacity`, the
least recently used is dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from ganvas.studio.runs import Entry


class Loaded:
    """A loaded checkpoint and what the studio keeps with it."""

    def __init__(self, entry: Entry, model: Any) -> None:
        self.entry = entry                          # where it came from
        self.model = model                          # a Generator, a Translator or a Writer
        self.directions: OrderedDict[tuple, Any] = OrderedDict()   # DirectionSet key → Directions, recent last
        self.names: OrderedDict[tuple, Any] = OrderedDict()        # DirectionSet key → their Naming, recent last
        self.lock = threading.Lock()                # guards `directions` and `names`
        self.computing = threading.Lock()           # held while its directions are being computed
        self.seed_items: OrderedDict[tuple, dict] = OrderedDict()   # (seed, ψ, cutoff) → item, recent last

    @property
    def kind(self) -> str:
        """generator (from codes), translator (pictures to pictures) or writer (a text model)."""
        from ganvas.translator import Translator
        from ganvas.writer import Writer

        if isinstance(self.model, Writer):
            return "writer"
        return "translator" if isinstance(self.model, Translator) else "generator"


class ModelCache:
    """At most `capacity` loaded checkpoints, least recently used dropped first."""

    def __init__(self, capacity: int = 4, device: str | torch.device = "cpu") -> None:
        self.capacity = max(1, capacity)            # models kept in memory
        self.device = torch.device(device)          # where they run
        self._items: OrderedDict[Path, Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Path, threading.Lock] = {}
        self.loads = 0                              # how many times a checkpoint was read (tests check reuse)

    def get(self, entry: Entry) -> Loaded:
        key = entry.checkpoint
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:                                  # one load per checkpoint, however many requests wait
            with self._lock:
                item = self._items.get(key)
                if item is not None:
                    return item
            from ganvas.api import load

            item = Loaded(entry, load(entry.checkpoint, self.device))
            with self._lock:
                self.loads += 1
                self._items[key] = item
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
                self._loading.pop(key, None)
        return item

    def loaded(self) -> list[str]:
        with self._lock:
            return [item.entry.name for item in self._items.values()]
