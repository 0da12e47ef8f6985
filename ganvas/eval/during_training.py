"""Evaluation during training (``eval_every``): log the metrics and keep the best checkpoint.

Every ``eval_every`` steps the weight-averaged generator makes ``eval_n`` samples from seeds
0 … eval_n − 1 (the samples ``ganvas evaluate --seed 0 --n eval_n`` makes, so the logged figures can
be reproduced from the checkpoint), the metrics are computed against the run's data through the
same `Reference` as ``ganvas evaluate``, logged as ``eval/<name>`` to metrics.jsonl and TensorBoard,
and when ``eval_metric`` improves the step's checkpoint is copied to ``checkpoints/best``. The best
value so far is part of every checkpoint, so a resumed run keeps comparing against it.

In a run of several processes (torchrun) every rank generates its contiguous share of the seeds and
extracts their features; rank 0 gathers the features in seed order, computes the metrics, logs them
and tells every rank the result, so all ranks agree on whether to keep a new best checkpoint.
The figures equal a single process's up to floating-point rounding (kernels differ by batch size).
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ganvas.console import info
from ganvas.files import atomic_dir, write_json

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.train.hooks import Run

HIGHER_IS_BETTER = {"precision", "recall", "density", "coverage", "authenticity"}
BEST = "best"


class TrainingEvaluator:
    """A step hook of the loop (`ganvas.train.hooks.StepHook`): evaluates every `eval_every` steps."""

    name = "evaluation"                     # its state's key in checkpoint.json

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg
        self.every = cfg.eval_every
        self.reference = None               # built on the first evaluation (may train the domain extractor)
        self.best: float | None = None      # best value of `eval_metric` so far
        self.best_step: int | None = None
        self.latent: torch.Tensor | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"metric": self.cfg.eval_metric, "best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("metric") == self.cfg.eval_metric:
            self.best, self.best_step = state.get("best"), state.get("best_step")

    def _prepare(self, t: Run) -> None:
        from ganvas.data.dataset import load_dataset
        from ganvas.eval.evaluate import Reference

        cfg = self.cfg
        full = load_dataset(cfg.data, cfg.resolution, fit=cfg.fit, exclude=cfg.exclude or None)
        allowed = len(t.dataset) if cfg.holdout <= 0 else min(len(t.dataset), len(full) - len(t.dataset))
        self.reference = Reference.build(full, cfg.eval_features, min(cfg.eval_n, allowed), cfg.holdout,
                                         seed=0, progress=t.progress_bar)
        self.latent = t.model.latents_for_seeds(list(range(self.reference.n)), device=t.device)

    def metric_key(self) -> str:
        name, ex = self.cfg.eval_metric, self.reference.extractor
        return {"fd": ex.fd_name, "kid": f"{ex.kd_name}_mean"}.get(name, name)

    def on_step(self, run: Run, step: int) -> None:
        self.run(run, step)

    @torch.no_grad()
    def run(self, t: Run, step: int) -> dict[str, float]:
        """Evaluate now; log; copy the checkpoint to `best` when the chosen metric improved."""
        cfg, ctx = self.cfg, t.dist
        if self.reference is None:
            with t.fork_rng():              # building an extractor draws random numbers: not from training's
                ctx.everywhere(lambda: self._prepare(t), leaders_first=True)
        net = t.ema_generator()
        share = self.latent[torch.as_tensor(np.array_split(np.arange(len(self.latent)), ctx.world)[ctx.rank])]
        with t.fork_rng():
            parts = [t.domain.to_array(t.model.generate(share[i:i + 256], net=net)) for i in range(0, len(share), 256)]
        extractor = self.reference.extractor
        features = extractor(np.concatenate(parts), what="generated samples") if parts else np.empty((0, extractor.dim))
        gathered = ctx.gather(features)
        metrics = ("fd", "prdc", "authenticity", "memorization", "data_copying") + (("kid",) if cfg.eval_metric == "kid"
                                                                                      else ())

        def judge() -> dict[str, float]:
            values, _ = self.reference.evaluate_features(np.concatenate(gathered), metrics)
            scalars = {f"eval/{k}": float(v) for k, v in values.items() if isinstance(v, float) and math.isfinite(v)}
            t.log_scalars(scalars)
            return {**scalars, "value": float(values[self.metric_key()])}

        scalars = ctx.on_main(judge)
        key, value = self.metric_key(), scalars.pop("value")
        better = self.best is None or (value > self.best if cfg.eval_metric in HIGHER_IS_BETTER else value < self.best)
        if better:
            self.best, self.best_step = value, step
            checkpoint = t.checkpoint_now()     # carries the new best in its JSON
            if ctx.is_main:
                self._copy_best(checkpoint, t.run_dir, key, value, step)
        info(f"eval step {step}: {key} {value:.4g}" + (" (best so far)" if better else f" (best {self.best:.4g} "
                                                                                      f"at step {self.best_step})"))
        return scalars

    def _copy_best(self, src: Path, run_dir: Path, key: str, value: float, step: int) -> None:
        target = run_dir / "checkpoints" / BEST
        with atomic_dir(target) as tmp:
            for f in src.iterdir():
                if f.name != "checkpoint.json":
                    shutil.copy2(f, tmp / f.name)
            meta = json.loads((src / "checkpoint.json").read_text(encoding="utf-8"))
            meta["best"] = {"metric": key, "value": value, "step": step,
                            "extractor": self.reference.extractor.identity() | {"source": None},
                            "n": self.reference.n}
            write_json(tmp / "checkpoint.json", meta)
