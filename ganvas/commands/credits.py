"""`ganvas credits RUN`: the attribution a person must publish with the outputs of a run.

Read from what the run recorded about its data (``meta["dataset"]`` of its checkpoint, or of its
config.json before the first checkpoint): the dataset, its licence and SPDX ids, the notice, where
the full licence texts are, the items left out at someone's request, and any licence conflicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ganvas.commands import PathArg

EXPECTED = "expected a run folder (runs/NAME) or a checkpoint folder (RUN/checkpoints/step-N)"


def run_record(run: Path) -> tuple[Path, dict[str, Any]]:
    """(the file read, the run's record: {"config", "dataset", ...}) of a run or checkpoint path."""
    from ganvas.errors import GanvasError
    from ganvas.train import checkpoint as ckpt

    p = Path(run).expanduser()
    if not p.exists():
        raise GanvasError(f"run '{run}' does not exist; {EXPECTED}")
    if p.is_dir() and not (p / "checkpoint.json").is_file() and ckpt.latest(p) is None:
        config = p / "config.json"          # a run before its first checkpoint: its config.json
        if not config.is_file():
            raise GanvasError(f"'{run}' holds no checkpoint and no config.json; {EXPECTED}")
        try:
            record = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise GanvasError(f"'{config}' is unreadable ({' '.join(str(exc).split())[:120]}); {EXPECTED}") from None
        found = config
    else:
        where = ckpt.resolve(p)
        record, found = ckpt.read_meta(where), where / "checkpoint.json"
    if not isinstance(record, dict) or not isinstance(record.get("dataset"), dict):
        raise GanvasError(f"'{found}' records no training data (no object 'dataset'); {EXPECTED}")
    return found, record


def credits_of(run: Path) -> dict[str, Any]:
    """Everything `ganvas credits` shows, as a JSON-able dict (``text``: the notice to publish)."""
    from ganvas.data.licences import (
        attribution_text,
        compatibility,
        fields_of,
        full_text_locations,
        run_licences,
    )

    found, record = run_record(run)
    summary = record["dataset"]
    fields = fields_of(summary)
    excluded = list(summary.get("excluded") or [])
    parts = run_licences(summary)
    warnings = compatibility(parts)
    lines = [f"Credits for the outputs of {run}", "Publish this notice with anything this model makes:", "",
             attribution_text(summary)]
    if len(parts) > 1:
        lines.append("Trained on: " + "; ".join(f"{label}: {' AND '.join(ids)}" for label, ids in parts))
    exclude_file = (record.get("config") or {}).get("exclude") or ""
    if excluded:
        lines.append(f"Excluded: {len(excluded)} item(s) removed from the training data"
                     + (f" (exclude file {exclude_file})" if exclude_file else "")
                     + ": " + ", ".join(str(e.get("key")) for e in excluded[:10])
                     + (f" and {len(excluded) - 10} more" if len(excluded) > 10 else ""))
    else:
        lines.append("Excluded: none")
    lines += [f"Warning: {w}" for w in warnings]
    return {"run": str(run), "record": str(found), "dataset": summary.get("name"), **fields,
            "full_text": full_text_locations(summary), "parts": [{"label": lb, "spdx": ids} for lb, ids in parts],
            "excluded": excluded, "exclude_file": exclude_file, "warnings": warnings, "text": "\n".join(lines)}


@click.command()
@click.argument("run", type=PathArg)
@click.option("--json", "as_json", is_flag=True, help="print the credits as one JSON object")
def credits(run: Path, as_json: bool) -> None:
    """Print the attribution to publish with the outputs of RUN (a run or checkpoint folder)."""
    result = credits_of(run)
    print(json.dumps(result, ensure_ascii=False, indent=2) if as_json else result["text"])
