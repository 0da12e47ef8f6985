"""What a person kept in the studio, recorded beside the run: `RUN/studio/kept.jsonl`, one JSON object a line.

The studio's Explore tab keeps outputs in the browser; it also sends each keep here, with the output's
creativity measures (ganvas.eval.creativity) at the time, so the evaluation report can show which measures
predict what people keep. A record holds the recipe (seed or code, truncation, edits), so the output can be
drawn again from the checkpoint it names. The file is rewritten whole and renamed into place on each keep (a
reader never sees half a line); one lock per process serialises keeps.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.eval.creativity import CreativityScores, Scorer
from ganvas.explore import latent as L
from ganvas.explore.recipe import Recipe
from ganvas.files import write_text

KEPT_FILE = Path("studio") / "kept.jsonl"
FORMAT = "ganvas-kept"
_LOCK = threading.Lock()


def run_folder(checkpoint: str | Path) -> Path:
    """The run folder of a checkpoint folder (RUN/checkpoints/step-N → RUN; a lone checkpoint is its own)."""
    path = Path(checkpoint)
    return path.parent.parent if path.parent.name == "checkpoints" else path


def kept_path(checkpoint: str | Path) -> Path:
    return run_folder(checkpoint) / KEPT_FILE


def read_kept(checkpoint: str | Path) -> list[dict[str, Any]]:
    """Every record of the run's kept file (empty when none); a line that is not a record is a one-line error."""
    path = kept_path(checkpoint)
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise GanvasError(f"kept file '{path}' line {n} is not JSON: remove or fix that line") from None
        if not isinstance(rec, dict) or rec.get("format") != FORMAT or not isinstance(rec.get("recipe"), dict):
            raise GanvasError(f"kept file '{path}' line {n} is not a {FORMAT} record with a recipe")
        out.append(rec)
    return out


def record_keep(checkpoint: str | Path, record: dict[str, Any]) -> Path:
    """Append `record` to the run's kept file: the whole file written anew, then renamed into place."""
    path = kept_path(checkpoint)
    rec = {"format": FORMAT, "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **record}
    line = json.dumps(rec, ensure_ascii=False, sort_keys=True)
    with _LOCK:
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, old + line + "\n")
    return path


def draw_recipes(G: Any, recipes: list[dict[str, Any]]) -> np.ndarray:
    """The outputs of recipes (dicts, as kept) in the domain's stored form (uint8 N×H×W×3 for images)."""
    if not recipes:
        raise GanvasError("no recipes to draw")
    codes = torch.cat([Recipe.from_dict(r, G).final(G) for r in recipes])
    return G.domain.to_array(L.draw(G, codes))


def score_kept(G: Any, scorer: Scorer, records: list[dict[str, Any]]) -> tuple[np.ndarray, CreativityScores]:
    """Kept outputs drawn again from `G` and scored by `scorer` (so they compare with the report's own samples)."""
    images = draw_recipes(G, [r["recipe"] for r in records])
    return images, scorer.score_images(images, what="kept outputs")
