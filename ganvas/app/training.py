"""From a preset and command-line options to a finished run folder (or a resumed one).

The application layer above the engine: it decides the config, the folder, the data, the model, the
device and the hooks, and hands them to a `ganvas.train.Trainer`, which knows none of these choices.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganvas import distributed
from ganvas.accel import pick_device, set_threads
from ganvas.app.expectations import Expectations
from ganvas.config import TrainConfig, load_preset
from ganvas.console import info, warning
from ganvas.data.dataset import ArrayDataset, is_builtin, load_dataset
from ganvas.data.imageprep import IMAGE_SUFFIXES
from ganvas.data.labels import merge_rare_classes, rare_classes
from ganvas.data.listing import plain_skipped
from ganvas.data.split import training_part
from ganvas.domains import get_domain
from ganvas.errors import GanvasError
from ganvas.files import write_json, write_text
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec, GanModel
from ganvas.seeds import derive_seed
from ganvas.train import checkpoint as ckpt
from ganvas.train import checkpoint_meta, state
from ganvas.train.loop import RunResult, Trainer

# Fields a resumed run may change: how long and how often, not what is trained or how.
RESUMABLE = {"kimg", "minutes", "checkpoint_every", "keep_checkpoints", "sample_every", "log_every", "threads",
             "device", "data", "eval_every", "precision", "compile"}
# a text run may be continued as an adversarial fine-tune: `ganvas train --resume --out RUN --adversarial`
# (the networks are the same; the collapse guard measures against the run's best held-out likelihood)
RESUMABLE_MODEL_ARGS = {"model_args.adversarial", "model_args.mle_steps", "model_args.mle_weight",
                        "model_args.gumbel_tau"}
DRY_RUN_STEPS = 3


def run_name(cfg: TrainConfig, preset: str | None) -> str:
    if preset:
        return Path(preset).stem
    data = cfg.data if is_builtin(cfg.data) else Path(cfg.data).name or "data"
    res = f"-{cfg.resolution}" if cfg.resolution else ""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{data}-{cfg.model}{res}")


def fresh_run_dir(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`... so a new run never overwrites an old one."""
    candidate, n = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def resolve_config(preset: str | None, overrides: dict[str, Any]) -> TrainConfig:
    """Defaults ← the model's own defaults (its paper's loss...) ← preset ← command line."""
    cfg = TrainConfig()
    values = load_preset(preset) if preset else {}
    model_defaults = MODELS.get(overrides.get("model", values.get("model", cfg.model))).config_defaults
    if model_defaults:
        cfg = cfg.with_overrides(model_defaults, source="model defaults")
    if preset:
        cfg = cfg.with_overrides(values, source=f"preset {preset}")
    cfg = cfg.with_overrides(overrides).validate()
    if cfg.resolution == 0:
        cfg.resolution = MODELS.get(cfg.model).default_resolution
    MODELS.get(cfg.model).check_resolution(cfg.resolution)     # before a folder is read at that side
    return cfg


def build_model(cfg: TrainConfig, dataset: ArrayDataset, device: torch.device,
                resuming: Path | None = None) -> GanModel:
    """The run's networks; resuming from checkpoint folder `resuming`, the options come from its file
    and must not make a model much larger than its saved weights (a damaged file, not petabytes)."""
    model_cls = MODELS.get(cfg.model)
    domain = get_domain(dataset.domain, dataset.domain_args)
    sample_shape = tuple(domain.to_tensor(dataset.arrays[dataset.sample_key][:1]).shape[1:])
    names = dataset.label_names if "y" in dataset.arrays else []
    spec = DataSpec(dataset.domain, sample_shape, len(names), dataset.domain_args, tuple(names),
                    tuple(names) if cfg.can else ())
    torch.manual_seed(cfg.seed)                     # the initial weights come from the run's seed
    if resuming is None:
        model = model_cls.build(spec, cfg.model_args, tileable=cfg.tileable, conditional=cfg.conditional).to(device)
        if type(model).prepare_data is not GanModel.prepare_data:     # statistics of the data (text: a
            model.prepare_data(domain.to_tensor(dataset.arrays[dataset.sample_key]).to(device))   # prior)
    else:
        model = checkpoint_meta.build_saved(model_cls, spec, cfg.model_args, resuming, cfg.tileable,
                                            cfg.conditional).to(device)
    if cfg.channels_last and dataset.domain == "image" and len(sample_shape) == 3:
        model = model.to(memory_format=torch.channels_last)
    return model


def check_resume(saved: TrainConfig, overrides: dict[str, Any], where: Path) -> TrainConfig:
    """The saved config with the allowed overrides; anything else that differs is refused."""
    for key, value in overrides.items():
        base = key.split(".", 1)[0]
        old = saved.to_dict().get(base)
        if key.startswith(("model_args.", "data_args.")):
            old = getattr(saved, base).get(key.split(".", 1)[1])
        if base not in RESUMABLE and key not in RESUMABLE_MODEL_ARGS and old != value:
            raise GanvasError(f"the run in {where} was trained with {key}={old!r}; it cannot resume with "
                              f"{key}={value!r} (start a new run with another --out instead)")
    return saved.with_overrides({k: v for k, v in overrides.items()
                                 if k in RESUMABLE or k in RESUMABLE_MODEL_ARGS}).validate()


def find_resume_dir(out: Path | None, name_hint: str) -> Path:
    if out is not None:
        return out
    runs = sorted((p for p in Path("runs").glob(f"{name_hint}*") if ckpt.latest(p)),
                  key=lambda p: p.stat().st_mtime)
    if not runs:
        raise GanvasError(f"--resume: no run folder runs/{name_hint}* with a checkpoint; pass --out RUN_DIR")
    return runs[-1]


@dataclass
class Prepared:
    trainer: Trainer
    run_dir: Path
    resume_step: int | None


@dataclass
class Plan:
    """What rank 0 decides for every rank: the config, the run folder and the checkpoint to resume."""

    cfg: TrainConfig
    run_dir: Path
    found: Path | None              # the checkpoint folder to resume from
    max_steps: int | None


def sweep(run_dir: Path) -> None:
    """Remove what a killed run left half-written in `run_dir` before this run writes there."""
    swept = ckpt.clean(run_dir)
    if swept:
        info(f"note: removed {len(swept)} half-written file(s) left in {run_dir} by an interrupted run "
             f"({', '.join(p.name for p in swept[:3])}{', ...' if len(swept) > 3 else ''})")


def plan_run(preset: str | None, overrides: dict[str, Any], out: Path | None, resume: bool, dry_run: bool,
             max_steps: int | None) -> Plan:
    if resume:
        hint = run_name(resolve_config(preset, overrides), preset)
        run_dir = find_resume_dir(out, hint)
        sweep(run_dir)
        found = ckpt.latest(run_dir)
        if found is None:
            raise GanvasError(f"--resume: '{run_dir}' holds no checkpoint to resume from")
        saved = TrainConfig.from_dict(ckpt.read_meta(found)["config"], f"checkpoint {found}")
        return Plan(check_resume(saved, overrides, run_dir), run_dir, found, max_steps)
    cfg = resolve_config(preset, overrides)
    if dry_run:
        cfg = cfg.with_overrides({"batch_size": min(cfg.batch_size, 8), "sample_count": min(cfg.sample_count, 16),
                                  "log_every": 1, "checkpoint_every": 10**6, "kimg": 0.0, "minutes": 0.0})
        return Plan(cfg, out or Path(tempfile.mkdtemp(prefix="ganvas-dry-run-")), None, DRY_RUN_STEPS)
    if out is not None:
        sweep(out)
        if ckpt.latest(out) is not None:
            raise GanvasError(f"'{out}' already holds a run (step {ckpt.step_dirs(out)[-1][0]}); "
                              "add --resume to continue it, or choose another --out")
        return Plan(cfg, out, None, max_steps)
    return Plan(cfg, fresh_run_dir(Path("runs") / run_name(cfg, preset)), None, max_steps)


def training_data(cfg: TrainConfig, progress: bool | None) -> ArrayDataset:
    model_cls = MODELS.get(cfg.model)
    layout = model_cls.data_layout
    dataset = load_dataset(cfg.data, cfg.resolution, fit=cfg.fit, layout=layout, domain=model_cls.domain,
                           data_args=cfg.data_args, progress=progress, exclude=cfg.exclude or None
                           ).for_layout(layout, cfg.model)
    if cfg.conditional or cfg.can:
        dataset = conditional_data(dataset, cfg)
    if layout == "single":
        return training_part(dataset, cfg.holdout)
    if cfg.holdout:
        raise GanvasError(f"holdout applies to datasets of single samples; '{cfg.data}' ({layout}) keeps its own "
                          "held-out items: leave holdout at 0")
    return dataset


RARE_CLASS = 20            # a conditional run warns about classes with fewer examples than this


def conditional_data(dataset: ArrayDataset, cfg: TrainConfig) -> ArrayDataset:
    """The data of a conditional run: labelled (else a one-line error), its rare classes merged when asked
    (`min_class_count`) and reported either way, so nobody wonders later why a class never comes out right."""
    if "y" not in dataset.arrays or len(dataset.label_names) < 2:
        asked = "--conditional" if cfg.conditional else "config field 'can'"
        raise GanvasError(f"{asked} needs labelled data, and "
                          f"'{cfg.data}' has no labels: use a built-in set "
                          "with labels (`ganvas data list`), or give a folder one sub-folder per class or a "
                          "labels.csv (file,label)")
    if cfg.min_class_count:
        dataset, report = merge_rare_classes(dataset, cfg.min_class_count)
        if report.changed:
            info(report.summary())
    if rare := rare_classes(dataset, RARE_CLASS).warning():
        info(f"warning: {rare}")
    return dataset


def resume_from(trainer: Trainer, checkpoint: ckpt.Checkpoint) -> None:
    state.check_meta(checkpoint.meta, checkpoint.path)
    saved_fp, dataset = checkpoint.meta["dataset"]["fingerprint"], trainer.dataset
    if saved_fp != dataset.fingerprint:
        raise GanvasError(f"the data '{trainer.cfg.data}' has changed since the run in {trainer.run_dir} was "
                          f"checkpointed ({dataset.fingerprint[:19]}… now, {saved_fp[:19]}… then); start a new run "
                          "instead")
    trainer.restore(checkpoint)


def prepare(preset: str | None = None, overrides: dict[str, Any] | None = None, out: Path | None = None,
            resume: bool = False, dry_run: bool = False, progress: bool | None = None,
            max_steps: int | None = None) -> Prepared:
    """A Trainer ready to run: in every process of a torchrun run, rank 0 decides and the others follow."""
    ctx = distributed.init()
    plan = ctx.on_main(lambda: plan_run(preset, dict(overrides or {}), out, resume, dry_run, max_steps))
    cfg, run_dir = plan.cfg, plan.run_dir

    def device_for_rank() -> torch.device:
        distributed.check_batch(cfg.batch_size, ctx.world)
        return pick_device(cfg.device, ctx.local_rank if ctx.enabled else None)

    device = ctx.everywhere(device_for_rank)
    distributed.use_device(ctx, device)
    set_threads(distributed.threads_per_process(cfg.threads, ctx))
    dataset = ctx.everywhere(lambda: training_data(cfg, None if ctx.is_main else False), leaders_first=True)
    if ctx.is_main:
        for line in dataset.licence_warnings():     # also in config.json and every checkpoint (dataset summary)
            warning(line)
    model = ctx.everywhere(lambda: build_model(cfg, dataset, device, plan.found))
    if ctx.rank:                    # each rank its own augmentations and noise (rank 0: as a single process)
        torch.manual_seed(derive_seed(cfg.seed, distributed.rank_purpose("torch")))
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
    trainer = ctx.everywhere(lambda: Trainer(cfg, model, dataset, run_dir, device, max_steps=plan.max_steps,
                                             progress_bar=progress, domain=get_domain(dataset.domain,
                                                                                      dataset.domain_args),
                                             hooks=step_hooks(cfg), on_speed=expectations(cfg, dataset)))
    resume_step = None
    if plan.found is not None:
        checkpoint = state.load_everywhere(plan.found, ctx)
        ctx.everywhere(lambda: resume_from(trainer, checkpoint))
        resume_step = checkpoint.step
    elif ctx.is_main:
        write_json(run_dir / "config.json", {"config": cfg.to_dict(), "model": model.describe(),
                                             "dataset": dataset.summary()})
    if ctx.is_main and dataset.skipped_list is not None:
        skipped_report(dataset, run_dir)
    for net in [model, *trainer.ema.averaged.values()]:    # identical by construction; made certain
        ctx.broadcast_module_(net)          # (buffers stay each rank's own: BatchNorm statistics of its share)
    return Prepared(trainer, run_dir, resume_step)


def skipped_report(dataset: ArrayDataset, run_dir: Path) -> None:
    """The files of the user's folder left out of the data, with why in words, in the run folder (skipped.txt),
    where people look, not only in the data cache; one line at the terminal says where."""
    kind = {"image": "an image", "music": "MIDI", "text": "text"}.get(dataset.domain, dataset.domain)
    count, text = plain_skipped(dataset.skipped_list, dataset.name, kind,
                                IMAGE_SUFFIXES if dataset.domain == "image" else ())
    if count:
        write_text(run_dir / "skipped.txt", text)
        info(f"{count} file(s) of {dataset.name} were left out of the data; the list, with why, is in "
             f"{run_dir / 'skipped.txt'}")


def expectations(cfg: TrainConfig, dataset: ArrayDataset) -> Expectations:
    """What the run says a few seconds in: its measured speed, its budget's duration, a too-small budget."""
    model_cls = MODELS.get(cfg.model)
    unit = {"music": "phrases", "text": "texts"}.get(model_cls.domain, "images")
    return Expectations(cfg, len(dataset), model_cls.domain == "image" and model_cls.has_latent,
                        model_cls.resolutions, unit)


def step_hooks(cfg: TrainConfig) -> tuple[Any, ...]:
    """What runs every N steps besides training: evaluation (`eval_every`), keeping checkpoints/best."""
    if not cfg.eval_every:
        return ()
    if MODELS.get(cfg.model).domain == "text":     # text: held-out likelihood, early stop, collapse guard
        from ganvas.eval.text_guard import HeldOutLikelihood

        return (HeldOutLikelihood(cfg),)
    from ganvas.eval.during_training import TrainingEvaluator

    return (TrainingEvaluator(cfg),)


def where_px(cfg: TrainConfig) -> str:
    return f" at {cfg.resolution} px" if cfg.resolution else ""


def train(preset: str | None = None, overrides: dict[str, Any] | None = None, out: Path | None = None,
          resume: bool = False, dry_run: bool = False, progress: bool | None = None,
          max_steps: int | None = None) -> RunResult:
    """Train (or resume, or dry-run) and return where the results are.

    Under torchrun every process calls this; they train together and leave the process group at the end.
    """
    t0 = time.perf_counter()
    try:
        p = prepare(preset, overrides, out, resume, dry_run, progress, max_steps)
        cfg, ctx = p.trainer.cfg, p.trainer.dist
        on = (f" on {ctx.world} processes ({ctx.backend}, {cfg.batch_size // ctx.world} images each per step)"
              if ctx.enabled else "")
        if p.resume_step is not None:
            info(f"resuming {p.run_dir} at step {p.resume_step} ({p.trainer.progress.nimg / 1000:.1f} kimg){on}")
        else:
            info(f"training {cfg.model} on {cfg.data}{where_px(cfg)} into {p.run_dir}{on}")
        result = p.trainer.run(resume_step=p.resume_step)
    finally:
        distributed.shutdown()
    if dry_run and ctx.is_main:
        from ganvas.api import load
        from ganvas.translator import Translator

        loaded = load(result.checkpoint)                # the checkpoint must load and generate
        if isinstance(loaded, Translator):
            loaded.translate(p.trainer.grid_latent["a"][:2])
        else:
            loaded.sample(2, seed=0)
        info(f"dry run ok: {result.step} steps of {cfg.model} on {cfg.data}{where_px(cfg)}, checkpoint, "
             f"samples and reload in {time.perf_counter() - t0:.1f} s; files in {p.run_dir}")
    return result
