"""Run logs: a JSONL file of scalars and the same scalars and sample grids in TensorBoard.

On resume, rows past the checkpoint's step (written by the interrupted run after its last checkpoint)
are dropped from both, so the loss curve continues without a seam or a duplicate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ganvas.files import write_text

METRICS_FILE = "metrics.jsonl"


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:     # a line cut short by a kill: drop it
            continue
    return rows


class RunLogger:
    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / METRICS_FILE
        if resume_step is not None:
            kept = [r for r in read_metrics(self.run_dir) if r.get("step", 0) <= resume_step]
            write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        elif self.path.exists():
            self.path.unlink()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the run
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self.tb = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=purge)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        row = {"step": step, **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items()}}
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()
        if self.tb is not None:
            for key, value in values.items():
                if key != "step" and isinstance(value, int | float):
                    self.tb.add_scalar(key, value, step)

    def image(self, tag: str, image: Any, step: int) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, np.asarray(image.convert("RGB")), step, dataformats="HWC")

    def close(self) -> None:
        self._fh.close()
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
