"""The models a studio serves: every checkpoint folder under one runs folder, found by name only.

A model's name is its run folder's path relative to the runs folder (``emoji-dcgan-32``,
``experiments/a``), which serves the run's latest checkpoint; ``NAME@STEP`` serves an earlier one.
Requests name models, never paths: a name is looked up in the table built by scanning, so
``../x`` or ``/etc`` can only be "unknown". Scanning does not follow symbolic links, and a
checkpoint whose files resolve outside the runs folder is left out, so the server reads no file
outside it. The table is rebuilt when asked for a name it does not know (at most every few
seconds), so runs that finish while the studio is open appear without a restart.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganvas.errors import GanvasError, unknown_name

STEP_DIR = re.compile(r"^step-(\d+)$")
SKIP = {"checkpoints", "samples", "tensorboard", "explore", "__pycache__", "node_modules"}
MAX_DEPTH = 4                   # folders below the runs folder searched for runs
RESCAN_SECONDS = 2.0            # an unknown name rescans at most this often
NAME_CHARS = re.compile(r"^[\w.@+=,\- /]+$")


class NotFound(GanvasError):
    """A model name that is not in the runs folder (HTTP 404)."""


@dataclass
class Entry:
    """One servable checkpoint."""

    name: str                                   # the studio's name for it (see the module docstring)
    run: str                                    # its run's name (the same without @STEP)
    checkpoint: Path                            # the checkpoint folder, resolved, inside the runs folder
    step: int                                   # its training step
    latest: bool                                # the newest checkpoint of its run
    steps: list[int] = field(default_factory=list)   # every checkpoint step of its run
    meta: dict[str, Any] = field(default_factory=dict)   # checkpoint.json (config, dataset, model, progress)


def check_name(name: str) -> None:
    """Refuse names that look like paths before looking them up (a clearer message than 'unknown')."""
    if not name or len(name) > 300 or "\x00" in name or "\\" in name or name.startswith(("/", "~")) \
            or any(part in ("..", ".") for part in name.split("/")) or not NAME_CHARS.match(name):
        raise GanvasError(f"model name {name[:80]!r} is not a model name: names come from GET /api/models "
                          "(a run folder's name inside the runs folder), never paths")


class RunIndex:
    """The table of models under `root`, rebuilt on demand."""

    def __init__(self, root: str | Path, max_depth: int = MAX_DEPTH) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise GanvasError(f"runs folder '{root}' does not exist or is not a folder")
        self.root = root.resolve()                  # the runs folder; nothing outside it is read
        self.max_depth = max_depth                  # how deep runs are searched for
        self._entries: dict[str, Entry] = {}
        self._scanned = 0.0
        self._lock = threading.Lock()
        self._meta_cache: dict[Path, tuple[int, dict]] = {}

    def inside(self, path: Path) -> bool:
        try:
            return path.resolve().is_relative_to(self.root)
        except OSError:
            return False

    def _valid_checkpoint(self, folder: Path) -> bool:
        if folder.is_symlink() or not folder.is_dir():
            return False
        files = [folder / "checkpoint.json", folder / "nets.safetensors"]
        return all(f.is_file() and not f.is_symlink() and self.inside(f) for f in files)

    def _meta(self, folder: Path) -> dict[str, Any]:
        path = folder / "checkpoint.json"
        try:
            mtime = path.stat().st_mtime_ns
            cached = self._meta_cache.get(path)
            if cached and cached[0] == mtime:
                return cached[1]
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(meta, dict) or meta.get("format") != "ganvas-checkpoint":
            return {}
        self._meta_cache[path] = (mtime, meta)
        return meta

    def scan(self) -> dict[str, Entry]:
        """Rebuild the table now."""
        found: dict[str, Entry] = {}
        for dirpath, dirnames, _ in os.walk(self.root, followlinks=False):
            here = Path(dirpath)
            rel = here.relative_to(self.root)
            depth = len(rel.parts)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIP
                                 and not (here / d).is_symlink() and depth < self.max_depth)
            ckdir = here / "checkpoints"
            if ckdir.is_dir() and not ckdir.is_symlink():     # depth 0: the studio was pointed at one run
                steps = []
                for child in ckdir.iterdir():
                    m = STEP_DIR.match(child.name)
                    if m and self._valid_checkpoint(child):
                        steps.append((int(m.group(1)), child))
                steps.sort()
                run = rel.as_posix() if depth else self.root.name      # a name, never a server path
                for step, folder in steps:
                    meta = self._meta(folder)
                    if not meta:
                        continue
                    latest = folder == steps[-1][1]
                    for name in ([run] if latest else []) + [f"{run}@{step}"]:
                        found[name] = Entry(name, run, folder.resolve(), step, latest, [s for s, _ in steps], meta)
            elif depth > 0 and self._valid_checkpoint(here) and not STEP_DIR.match(here.name):
                meta = self._meta(here)                     # a lone checkpoint folder copied into the runs folder
                if meta:
                    step = int(meta.get("progress", {}).get("step", 0))
                    found[rel.as_posix()] = Entry(rel.as_posix(), rel.as_posix(), here.resolve(), step, True,
                                                  [step], meta)
        with self._lock:
            self._entries = found
            self._scanned = time.monotonic()
        return found

    def models(self) -> list[Entry]:
        """The latest checkpoint of every run (older ones are in each entry's `steps`)."""
        return [e for e in self.scan().values() if e.latest and "@" not in e.name]

    def get(self, name: str) -> Entry:
        check_name(name)
        entry = self._entries.get(name)
        fresh = entry is not None and (not entry.latest or time.monotonic() - self._scanned < RESCAN_SECONDS)
        if fresh and (entry.checkpoint / "nets.safetensors").is_file():
            return entry
        if time.monotonic() - self._scanned >= RESCAN_SECONDS or entry is not None or not self._entries:
            self.scan()
        entry = self._entries.get(name)
        if entry is None:
            runs = sorted({e.run for e in self._entries.values()})
            raise NotFound(str(unknown_name("model", name, runs)).replace("; known:", "; models in the runs folder:"))
        return entry
