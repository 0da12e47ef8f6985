"""Datasets: built-in ones made from Debian packages, and the user's own folders.

A built-in dataset is one builder file plus one line in `DATASETS`. Built datasets live under the
data home (``$GANVAS_HOME``, default ``~/.cache/ganvas``) as uint8 arrays with a dataset card, so a
training epoch costs no decoding.
"""

from __future__ import annotations

import os
from pathlib import Path

from ganvas import registry

DATASETS = registry.DATASETS   # the table lives in ganvas/registry.py (the one catalogue)


def data_home() -> Path:
    """Where built datasets and folder caches are kept (``$GANVAS_HOME`` or ``~/.cache/ganvas``)."""
    env = os.environ.get("GANVAS_HOME")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ganvas"
