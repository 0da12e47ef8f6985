"""Checkpoints that can be trusted: tensors in safetensors, everything else in JSON, never a pickle.

A checkpoint is a folder ``checkpoints/step-NNNNNNN/`` holding
- ``nets.safetensors``: the weights and buffers of every network (``G/…``, ``D/…``, ``G_ema/…``);
- ``optim.safetensors``: the optimisers' moment estimates (``G/<param index>/exp_avg`` …) and any
  other tensors only resuming needs (``objective/…``: e.g. CycleGAN's history pools of generated images);
- ``checkpoint.json``: model name and options, config, step, images seen, RNG states, sampler
  position, objective state, optimiser hyper-parameters, dataset fingerprint, library versions.
The folder is written under a temporary name and renamed into place, so a crash at any moment leaves
the previous checkpoint whole; what a killed writer leaves under temporary names is swept by `clean`
when a run starts or resumes. A disk that fills up mid-write is a one-line error, the previous
checkpoint intact. Loading reads only safetensors and JSON: no code from a file ever runs, every JSON
field is checked first (`checkpoint_meta`), and NaN or infinite weights are reported.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ganvas.console import info
from ganvas.errors import GanvasError
from ganvas.files import WriteError, atomic_dir, remove_dir, remove_stale_temporaries, write_json
from ganvas.train.checkpoint_meta import FORMAT_VERSION_FIELD, check_fields

FORMAT = "ganvas-checkpoint"
FORMAT_VERSION = 1
CHECKPOINTS = "checkpoints"
OBJECTIVE = "objective"      # prefix of an objective's resume-only tensors in optim.safetensors
_STEP_DIR = re.compile(r"^step-(\d+)$")
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    nets: dict[str, dict[str, torch.Tensor]]     # network name -> state dict
    optim: dict[str, torch.Tensor]               # flattened optimiser tensors

    @property
    def step(self) -> int:
        return int(self.meta["progress"]["step"])


# --- paths ---------------------------------------------------------------------------------------


def step_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir()
             if (m := _STEP_DIR.match(p.name)) and (p / "checkpoint.json").is_file()]
    return sorted(found)


def latest(run_dir: Path) -> Path | None:
    dirs = step_dirs(run_dir)
    return dirs[-1][1] if dirs else None


def clean(run_dir: Path) -> list[Path]:
    """Sweep what a killed run left under temporary names in a run folder (half-written checkpoints,
    sample grids, logs) before a run starts or resumes in it; it alone writes there."""
    run_dir = Path(run_dir)
    return [p for folder in (run_dir, run_dir / CHECKPOINTS, run_dir / "samples")
            for p in remove_stale_temporaries(folder)]


def looks_like_pickle(path: Path) -> bool:
    """A pickle (protocol 2+) or a torch.save zip archive, by suffix or by its first bytes."""
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        head = fh.read(4)
    return head[:1] == b"\x80" or head == b"PK\x03\x04"


def resolve(path: str | Path) -> Path:
    """The checkpoint folder meant by `path`: a run folder (its latest), a checkpoint folder, or a file in one."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GanvasError(f"checkpoint '{p}' does not exist")
    if p.is_file():
        if p.name in ("checkpoint.json", "nets.safetensors", "optim.safetensors"):
            p = p.parent
        elif looks_like_pickle(p):
            raise GanvasError(f"'{p}' is a pickle or torch.save file; ganvas never unpickles checkpoints "
                              "(loading one can run arbitrary code): expected a ganvas run or checkpoint folder")
        else:
            raise GanvasError(f"'{p}' is not a ganvas checkpoint: expected a run folder or a "
                              "checkpoints/step-N folder holding checkpoint.json and nets.safetensors")
    if (p / "checkpoint.json").is_file():
        return p
    found = latest(p)
    if found is None:
        raise GanvasError(f"no checkpoint in '{p}': expected a run folder with checkpoints/step-N inside")
    return found


# --- tensors <-> files ---------------------------------------------------------------------------


def _flatten(groups: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {f"{g}/{k}": v.detach().cpu().contiguous() for g, sd in groups.items() for k, v in sd.items()}


def _unflatten(flat: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in flat.items():
        group, _, name = key.partition("/")
        out.setdefault(group, {})[name] = value
    return out


def optimizer_tensors(name: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """An optimiser's state split into tensors (for safetensors) and its hyper-parameters (for JSON)."""
    sd = opt.state_dict()
    tensors = {f"{name}/{idx}/{key}": (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
               for idx, state in sd["state"].items() for key, v in state.items()}
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def restore_optimizer(name: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      groups: list[dict]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, _, field = key[len(prefix):].partition("/")
            state.setdefault(int(idx), {})[field] = value
    # JSON has no tuples: hyper-parameters such as Adam's betas come back as lists
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()} for g in groups]
    opt.load_state_dict({"state": state, "param_groups": groups})


def versions() -> dict[str, str]:
    import numpy
    import safetensors

    from ganvas.version import __version__

    return {"ganvas": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "safetensors": safetensors.__version__, "python": platform.python_version()}


# --- save / load ---------------------------------------------------------------------------------


PAUSE_ENV = "GANVAS_TEST_PAUSE_CHECKPOINT"


def _pause_for_tests(stage: str, step: int, path: Path) -> None:
    """A hook for crash tests only: with GANVAS_TEST_PAUSE_CHECKPOINT=STEP:STAGE, the process says
    ``checkpoint paused: STAGE step STEP at PATH`` on stderr and stops for good at that point of
    writing checkpoint STEP (STAGE ``writing``: complete under its temporary name, not yet renamed;
    ``written``: in place), so that a test kills it exactly there instead of racing it with sleeps."""
    if os.environ.get(PAUSE_ENV) != f"{step}:{stage}":
        return
    print(f"checkpoint paused: {stage} step {step} at {path}", file=sys.stderr, flush=True)
    threading.Event().wait(600)         # the test kills it long before; never outlive a forgotten test
    os._exit(3)


def save(run_dir: Path, step: int, nets: dict[str, dict[str, torch.Tensor]], optim: dict[str, torch.Tensor],
         meta: dict[str, Any], keep: int) -> Path:
    """Write checkpoint `step` atomically, then drop all but the `keep` most recent."""
    target = Path(run_dir) / CHECKPOINTS / f"step-{step:07d}"
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta, "versions": versions()}
    previous = latest(run_dir)
    try:
        with atomic_dir(target) as tmp:
            save_file(_flatten(nets), str(tmp / "nets.safetensors"), metadata={"format": FORMAT})
            save_file(optim, str(tmp / "optim.safetensors"), metadata={"format": FORMAT})
            write_json(tmp / "checkpoint.json", meta)
            _pause_for_tests("writing", step, tmp)
    except WriteError as exc:       # disk full, quota, read-only: the temporary folder is already gone
        kept = (f"the last checkpoint {previous} is intact: make room, then add --resume to continue from it"
                if previous is not None and previous != target else "no earlier checkpoint of this run exists")
        raise WriteError(f"checkpoint of step {step} not saved: {exc}; {kept}", exc.errno) from None
    for _, old in step_dirs(run_dir)[:-keep]:
        remove_dir(old)
    _pause_for_tests("written", step, target)
    return target


def read_meta(path: Path) -> dict[str, Any]:
    """checkpoint.json of checkpoint folder `path`, checked to be ganvas's and of a format this ganvas reads.
    The fields are checked by those who use them: `checkpoint_meta.rebuild` (loading), `state.check_meta`
    (resuming)."""
    file = path / "checkpoint.json"
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:    # ValueError: bad JSON or bytes that are not UTF-8
        reason = " ".join(str(exc).split())[:200]
        raise GanvasError(f"checkpoint '{path}' has an unreadable checkpoint.json: {reason}") from None
    if not isinstance(meta, dict):
        raise GanvasError(f"'{path}' is not a ganvas checkpoint: {file} holds {json_kind(meta)}, not an object")
    if meta.get("format") != FORMAT:
        raise GanvasError(f"'{path}' is not a ganvas checkpoint (field 'format' of {file} is {meta.get('format')!r})")
    check_fields(meta, file, [FORMAT_VERSION_FIELD])
    if meta["format_version"] > FORMAT_VERSION:
        raise GanvasError(f"checkpoint '{path}' was written by a newer ganvas "
                          f"(format {meta['format_version']} > {FORMAT_VERSION}); upgrade ganvas to read it")
    return meta


def json_kind(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return {list: "a list", str: "text", int: "a number", float: "a number"}.get(type(value), "an object")


def _read_tensors(file: Path) -> dict[str, torch.Tensor]:
    if not file.is_file():
        raise GanvasError(f"checkpoint file '{file}' is missing: the checkpoint is incomplete")
    try:
        return load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        reason = " ".join(str(exc).split())[:200]
        raise GanvasError(f"checkpoint file '{file}' has corrupt tensors: {reason}") from None


def warn_non_finite(tensors: dict[str, torch.Tensor], file: Path) -> list[str]:
    """Say (one line) which tensors hold NaN or infinite values: such weights load, but give garbage."""
    bad = sorted(k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all()))
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        info(f"warning: checkpoint file '{file}' holds NaN or infinite values in tensor '{bad[0]}'{more}; "
             "its outputs will be meaningless")
    return bad


def load(path: str | Path, with_optim: bool = True) -> Checkpoint:
    """Read a checkpoint (run folder, checkpoint folder or a file in one); refuses pickles."""
    ckpt_dir = resolve(path)
    meta = read_meta(ckpt_dir)
    flat = _read_tensors(ckpt_dir / "nets.safetensors")
    warn_non_finite(flat, ckpt_dir / "nets.safetensors")
    optim = _read_tensors(ckpt_dir / "optim.safetensors") if with_optim else {}
    return Checkpoint(ckpt_dir, meta, _unflatten(flat), optim)


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copy `state` into `module`, with a one-line error naming the first mismatch (name, shape, type)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        name = (missing or extra)[0]
        raise GanvasError(f"{what} does not match this model: {'missing' if missing else 'unexpected'} "
                          f"tensor '{name}' ({len(missing)} missing, {len(extra)} unexpected)")
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise GanvasError(f"{what} does not match this model: tensor '{key}' has shape "
                              f"{tuple(value.shape)}, the model expects {tuple(own[key].shape)}")
        if own[key].dtype != value.dtype:
            raise GanvasError(f"{what} does not match this model: tensor '{key}' is {value.dtype}, the model "
                              f"expects {own[key].dtype}")
    module.load_state_dict(state)
