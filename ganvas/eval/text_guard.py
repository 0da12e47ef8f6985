"""Held-out likelihood during a text run: logged, the best weights kept, early stopping and a collapse guard.

A character model of a few hundred poems reaches its best held-out likelihood within a few hundred
steps and then memorises; an adversarial fine-tune can wreck the likelihood within a few dozen. Every
``eval_every`` steps this hook (a `ganvas.train.hooks.StepHook`) measures the held-out negative
log-likelihood per token (``eval/nll``, and perplexity ``eval/ppl``) of G (its weight average when the
run keeps one, as sampling uses it) on the run's held-out texts (``holdout``), every code given, and:

- keeps the best weights (in memory and in ``heldout-best.safetensors`` in the run folder, written
  atomically, so a resumed run can still roll back);
- likelihood phase: after ``patience`` evaluations without a new best, restores the best weights into G
  and its average and ends the run (early stopping), so the final checkpoint is the best one;
- adversarial phase: as soon as the held-out NLL exceeds the best likelihood-phase value by more than
  ``collapse_margin`` nats per token, restores the best weights and ends the run (the collapse guard),
  saying so in the log. A fine-tune that never hurts runs to its budget.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from ganvas.console import info
from ganvas.files import atomic_path

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.train.hooks import Run

BEST_FILE = "heldout-best.safetensors"


class HeldOutLikelihood:
    name = "heldout_nll"

    def __init__(self,
                 cfg: TrainConfig,          # the run's config (data, holdout, eval_every)
                 patience: int = 4,         # evaluations without a new best before an early stop (0: never)
                 collapse_margin: float = 0.05,  # nats/token above the best that roll an adversarial phase back
                 ) -> None:
        self.cfg = cfg
        self.every = cfg.eval_every
        self.patience, self.margin = patience, collapse_margin
        self.best: float | None = None
        self.best_step: int | None = None
        self.since_best = 0
        self._held: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._weights: dict[str, torch.Tensor] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step = state.get("best"), state.get("best_step")
        self.since_best = int(state.get("since_best", 0))

    def held_out(self, run: Run) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The run's held-out texts as token ids, and their codes (loaded once)."""
        if self._held is None:
            from ganvas.data.dataset import load_dataset
            from ganvas.data.split import holdout_indices

            data = load_dataset(self.cfg.data, self.cfg.resolution, domain="text", data_args=self.cfg.data_args,
                                progress=False, exclude=self.cfg.exclude or None)
            _, held = holdout_indices(data, self.cfg.holdout)
            x = run.domain.to_tensor(data.arrays["x"][held])
            y = torch.as_tensor(data.arrays["y"][held]) if "y" in data.arrays else None
            self._held = (x, y)
        return self._held

    def generator(self, run: Run) -> torch.nn.Module:
        """What is judged and kept: the weight average when the run keeps one (what sampling uses), else G."""
        return run.ema_generator("G") if self.cfg.ema_kimg > 0 else run.model.G

    def nll(self, run: Run) -> float:
        x, y = self.held_out(run)
        G = self.generator(run)
        was = G.training
        G.eval()
        try:
            total, count = run.model.token_nll(x, y, G)
        finally:
            G.train(was)
        return total / max(count, 1)

    def on_step(self, run: Run, step: int) -> None:
        if not self.cfg.holdout:
            return
        value = run.dist.broadcast_value(self.nll(run)) if run.dist.enabled else self.nll(run)
        run.log_scalars({"eval/nll": value, "eval/ppl": math.exp(min(value, 50.0))})
        adversarial = run.objective.trains_discriminator
        if adversarial and self.best is not None and value > self.best + self.margin:
            self.rollback(run)
            run.stop(f"collapse guard: held-out NLL {value:.3f} nats/token rose more than {self.margin} above the best "
                     f"{self.best:.3f} (step {self.best_step}); rolled back to step {self.best_step}'s weights")
            return
        if self.best is None or value < self.best:
            self.best, self.best_step, self.since_best = value, step, 0
            self._weights = {k: v.detach().clone() for k, v in self.generator(run).state_dict().items()}
            if run.dist.is_main:
                from safetensors.torch import save_file

                with atomic_path(run.run_dir / BEST_FILE) as tmp:
                    save_file(self._weights, str(tmp))
            info(f"eval step {step}: held-out NLL {value:.4f} nats/token (best so far)")
            return
        self.since_best += 1
        info(f"eval step {step}: held-out NLL {value:.4f} nats/token (best {self.best:.4f} at step {self.best_step})")
        if not getattr(run.model.options, "adversarial", False) and self.patience and self.since_best >= self.patience:
            self.rollback(run)
            run.stop(f"early stop: held-out NLL has not improved for {self.since_best} evaluations; rolled back to "
                     f"step {self.best_step} (NLL {self.best:.4f} nats/token)")

    def rollback(self, run: Run) -> None:
        """The best weights back into G and its weight average (from the file when resumed since)."""
        weights = self._weights
        path = run.run_dir / BEST_FILE
        if weights is None and path.exists():
            from safetensors.torch import load_file

            weights = load_file(str(path))
        if weights is None:
            return
        run.model.G.load_state_dict(weights)
        run.ema_generator("G").load_state_dict(weights)
