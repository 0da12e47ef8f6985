"""What the studio's services share, in one place: made once per app and handed to each service.

Every model computation runs under one compute lock: on a small CPU, two forward passes at once
only slow each other down (and fight over cores), while queued requests each finish quickly.
Projections and direction computations take it one step or batch at a time, so they never block
a slider for longer than that.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from ganvas.studio.jobs import Jobs
from ganvas.studio.models import ModelCache
from ganvas.studio.outputs import EncodedCache
from ganvas.studio.publishing import Publishing
from ganvas.studio.runs import RunIndex

STUDIO_DIR = ".studio"                  # the studio's own folder inside the runs folder (scratch files)


class StudioState:
    def __init__(self, runs: str | Path, max_models: int = 4, device: str = "cpu", max_projections: int = 1,
                 max_upload_bytes: int = 8 * 1024 * 1024, max_upload_pixels: int = 16_000_000,
                 publishing: Publishing | None = None) -> None:
        self.index = RunIndex(runs)                         # the models: every checkpoint under `runs`
        self.cache = ModelCache(max_models, device)         # loaded models, least recently used dropped
        self.jobs = Jobs(max_projections)                   # projections running in the background
        self.max_upload_bytes = max_upload_bytes            # request bodies and uploads
        self.max_upload_pixels = max_upload_pixels          # decoded upload size
        self.compute = threading.Lock()                     # one model computation at a time
        self.scratch = scratch_dir(self.index.root)         # encoders' scratch files (inside the runs folder)
        self.encoded = EncodedCache()                       # encoded files (WAVs), so a replay or download is instant
        self.publishing = publishing or Publishing()        # watermark, signed manifests, the memorization guard


def scratch_dir(root: Path) -> Path | None:
    """An empty `root/.studio/tmp` for encoders' scratch files (FluidSynth's), or None when the runs folder
    is read-only (they go to the system's temporary folder then)."""
    path = root / STUDIO_DIR / "tmp"
    try:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return None
