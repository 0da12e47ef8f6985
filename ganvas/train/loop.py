"""The training loop: the classic alternation of a discriminator step and a generator step.

Each iteration ("step") takes ``n_critic`` real batches; for each, D is updated on real against
generated samples; then G is updated through D, and G's weight average moves. Progress is counted
in steps and in real images shown to D (kimg, as StyleGAN counts). The loop knows nothing of pixels
or notes: batches come from a domain, losses from the model's objective.

The same loop runs in every process of a torchrun run (`ganvas.distributed`): each rank takes
its share of the global batch, gradients are averaged over the ranks before each optimiser step,
and only rank 0 writes logs, sample grids and checkpoints. With one process none of that costs
anything. Forward passes may run in mixed precision and the networks may be compiled
(`ganvas.accel`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from ganvas import accel, distributed
from ganvas.config import TrainConfig
from ganvas.console import info
from ganvas.errors import GanvasError, TrainingDiverged
from ganvas.files import save_image, write_bytes
from ganvas.registry import DOMAINS
from ganvas.seeds import derive_seed
from ganvas.train import checkpoint as ckpt
from ganvas.train import state
from ganvas.train.ema import EMA, recalibrate_batchnorm
from ganvas.train.hooks import Domain, StepHook, TrainingData
from ganvas.train.logs import RunLogger
from ganvas.train.sampler import EpochSampler

if TYPE_CHECKING:
    from ganvas.nets.base import GanModel


@dataclass
class Progress:
    step: int = 0             # generator steps taken
    nimg: int = 0             # real images shown to D
    elapsed_s: float = 0.0    # wall-clock seconds spent in this run, over all resumes


@dataclass
class Warmup:
    """Times a run's first steps (each start or resume) to measure its images/s at no cost: the first step is
    left out (it pays one-off costs: kernel choices, allocations), then it takes at least `min_steps` steps
    and `min_s` seconds of them, so a fast small model is timed over many steps and a slow one over a few."""

    skip: int = 1               # steps left out before timing
    min_steps: int = 3          # steps timed at least
    min_s: float = 2.0          # seconds timed at least
    steps: int = 0
    seconds: float = 0.0
    images: int = 0
    done: bool = False

    def add(self, seconds: float, images: int) -> bool:
        """Count one step; True once, on the step that completes the measurement."""
        if self.done:
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        self.steps, self.seconds, self.images = self.steps + 1, self.seconds + seconds, self.images + images
        self.done = self.steps >= self.min_steps and self.seconds >= self.min_s
        return self.done

    @property
    def images_per_s(self) -> float:
        return self.images / max(self.seconds, 1e-9)


def clock(seconds: float) -> str:
    """'1:05:09' or '4:07': time left, as a progress bar shows it."""
    s = max(0, round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


@dataclass
class RunResult:
    run_dir: Path
    checkpoint: Path
    final_grid: Path
    step: int
    kimg: float
    elapsed_s: float
    images_per_s: float
    domain: str = "image"       # the kind of data trained on (what the end-of-run hints point to)
    model: str = ""             # the registered model's name (a translation model's hint is `ganvas translate`)


class Trainer:
    def __init__(self,
                 cfg: TrainConfig,              # the validated run configuration
                 model: GanModel,               # the networks, already on `device`
                 dataset: TrainingData,         # the training samples (ganvas.data.ArrayDataset)
                 run_dir: Path,                 # where checkpoints, logs and samples go
                 device: torch.device,          # where tensors live
                 max_steps: int | None = None,  # stop after this many steps regardless (dry runs)
                 progress_bar: bool | None = None,  # None: only when stderr is a terminal
                 domain: Domain | None = None,  # stored samples ↔ tensors, and grids; None: the data's, by name
                 hooks: tuple[StepHook, ...] = (),  # called every `hook.every` steps (evaluation...)
                 on_speed: Callable[[Trainer, float], None] | None = None,  # told the images/s measured on the
                 ) -> None:                                                     # first steps, once (ganvas.app)
        self.cfg, self.model, self.dataset, self.device = cfg, model, dataset, device
        self.dist = distributed.current()     # this process among the ranks (rank 0 of 1 without torchrun)
        self.run_dir = Path(run_dir)
        self.max_steps = max_steps
        self.progress_bar = (sys.stderr.isatty() if progress_bar is None else progress_bar) and self.dist.is_main
        self.domain = domain or DOMAINS.get(dataset.domain)(**(dataset.domain_args or {}))
        self.latent_rng = torch.Generator(device).manual_seed(derive_seed(cfg.seed, distributed.rank_purpose("latent")))
        # one sampler per stream of arrays (one for most data; two for unpaired A and B), each with its
        # own order; the first keeps the historical seed so single-stream runs are unchanged. Samplers
        # draw global batches, the same on every rank, so the order does not depend on the world size.
        self.samplers = {name: EpochSampler(len(dataset.arrays[keys[0]]), cfg.batch_size,
                                            derive_seed(cfg.seed, "data" if i == 0 else f"data:{name}"))
                         for i, (name, keys) in enumerate(dataset.streams.items())}
        self.sampler = next(iter(self.samplers.values()))
        self.objective = model.objective(cfg, self.latent_rng)
        self.G_nets = {n: getattr(model, n) for n in model.generator_names}
        self.D_nets = {n: getattr(model, n) for n in model.discriminator_names}
        self.opt_g = torch.optim.Adam([p for m in self.G_nets.values() for p in m.parameters()],
                                      lr=cfg.lr_g, betas=tuple(cfg.betas_g))
        self.opt_d = torch.optim.Adam([p for m in self.D_nets.values() for p in m.parameters()],
                                      lr=cfg.lr_d, betas=tuple(cfg.betas_d))
        self.ema = EMA(self.G_nets, cfg.ema_kimg, cfg.ema_rampup)
        self.params = {"G": distributed.params_of(self.G_nets.values()),
                       "D": distributed.params_of(self.D_nets.values())}
        self.precision = accel.Precision(cfg.precision, device)
        if cfg.compile:
            accel.compile_networks({**self.G_nets, **self.D_nets,
                                    **{n: model.get_submodule(n) for n in model.compile_modules}})
        self.progress = Progress()
        # the grid shows seeds seed … seed+count−1: `ganvas sample RUN --seed SEED` redraws it
        # (a translation model shows fixed held-out inputs instead: see GanModel.grid_input)
        self.grid_latent = model.grid_input(list(range(cfg.seed, cfg.seed + cfg.sample_count)), dataset, device)
        self.last_checkpoint: Path | None = None
        self._saved_step = -1       # step of the newest checkpoint written or restored
        self._snapshot_step = -1    # step of the newest sample grid
        self._finite = True         # on CUDA: whether every loss since the last check was finite (a device tensor)
        self.last_rate = 0.0        # images/s over the last log window
        self.logger: RunLogger | None = None   # rank 0's logs, while `run` runs
        self.hooks = tuple(hooks)   # their state travels in checkpoints under each hook's `name`
        self.stop_reason: str | None = None   # set by `stop`: the run ends after the current step
        self.on_speed = on_speed

    # --- data ------------------------------------------------------------------------------------

    def next_batch(self) -> dict[str, torch.Tensor]:
        """One batch from every stream: ``x`` (and ``y``), or ``a`` and ``b`` for translation data."""
        arrays = self.dataset.arrays
        batch: dict[str, torch.Tensor] = {}
        for name, sampler in self.samplers.items():
            idx = distributed.shard(sampler.next(), self.dist)       # this rank's share of the global batch
            for key in self.dataset.streams[name]:
                batch[key] = (torch.as_tensor(arrays[key][idx], device=self.device) if key == "y"
                              else self.domain.to_tensor(accel.to_device(arrays[key][idx], self.device), self.device))
        return batch

    # --- one step ---------------------------------------------------------------------------------

    def _update(self, phase: str, loss: torch.Tensor, opt: torch.optim.Optimizer) -> torch.Tensor:
        """Backward, gradients averaged over the ranks, optimiser step; the loss as every rank sees it."""
        self.precision.backward(phase, loss)
        if self.dist.enabled:
            extras = loss.detach().float().reshape(1)
            loss = self.dist.all_reduce_grads(self.params[phase], extras)[0] / self.dist.world
        self.precision.step(phase, opt)
        return loss

    def train_step(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        stats: dict[str, torch.Tensor] = {}
        for net in self.D_nets.values():
            net.requires_grad_(True)
        batch, loss_d = None, None
        for _ in range(cfg.n_critic if self.objective.trains_discriminator else 0):
            batch = self.next_batch()
            self.opt_d.zero_grad(set_to_none=True)
            with self.precision.forward():
                loss_d, stats_d = self.objective.d_loss(batch)
            loss_d = self._update("D", loss_d, self.opt_d)
            self.progress.nimg += cfg.batch_size
            stats.update(stats_d)
        for net in self.D_nets.values():    # G's step needs gradients through D, not of D's weights
            net.requires_grad_(False)
        if batch is None:                   # no D step now (maximum likelihood): G's step takes its own batch
            batch = self.next_batch()
            self.progress.nimg += cfg.batch_size
        self.opt_g.zero_grad(set_to_none=True)
        with self.precision.forward():
            loss_g, stats_g = self.objective.g_loss(batch)
        loss_g = self._update("G", loss_g, self.opt_g)
        self.ema.update(self.G_nets, self.progress.nimg, cfg.batch_size)
        self.progress.step += 1
        stats.update(stats_g)
        self.watch({"G": loss_g} if loss_d is None else {"D": loss_d, "G": loss_g})
        return stats

    def watch(self, losses: dict[str, torch.Tensor]) -> None:
        """Stop on a NaN or infinite loss. Looking is a host-device sync, so on CUDA the losses are only
        gathered here and looked at by `check_finite` (at log, sample and checkpoint steps)."""
        if self.device.type == "cuda":
            for value in losses.values():
                self._finite = torch.logical_and(torch.as_tensor(self._finite, device=self.device),
                                                 torch.isfinite(value.detach()))
            return
        for name, value in losses.items():
            if not torch.isfinite(value):
                self._diverged(f"at step {self.progress.step}: {name} loss is {value.item()}")

    def check_finite(self) -> None:
        if not isinstance(self._finite, bool) and not bool(self._finite):
            self._diverged(f"at or before step {self.progress.step}: a loss is not finite")

    def _diverged(self, what: str) -> None:
        where = f"; the last good checkpoint {self.last_checkpoint} is intact" if self.last_checkpoint else ""
        raise TrainingDiverged(f"training diverged {what}{where}; try lower learning rates (lr_g, lr_d) "
                               "or a regulariser (r1_gamma)")

    # --- sampling and checkpoints ------------------------------------------------------------------

    def ema_generator(self, name: str = "G") -> torch.nn.Module:
        """The averaged generator, with BatchNorm statistics recomputed for its own weights."""
        net = self.ema.averaged[name]
        rng = torch.Generator(self.device).manual_seed(derive_seed(self.cfg.seed, "recalibrate"))
        with self.fork_rng():
            recalibrate_batchnorm(net, lambda: self.model.generate(self.recalibration_latent(rng), net=net))
        return net.eval()

    def recalibration_latent(self, rng: torch.Generator) -> torch.Tensor:
        """A batch of codes for BatchNorm recalibration (of classes drawn uniformly, for a conditional model)."""
        c = self.model.random_condition(self.cfg.batch_size, rng)
        if c is None:
            return self.model.sample_latent(self.cfg.batch_size, rng)
        return self.model.sample_latent(self.cfg.batch_size, rng, condition=c)

    def fork_rng(self) -> Any:
        """Random draws inside leave the training streams (CPU, and this rank's GPU) untouched."""
        return torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])

    @torch.no_grad()
    def snapshot(self) -> Path:
        """Save the sample grid of the averaged G at this step (fixed latents: the run's seed); rank 0 only."""
        name = f"step-{self.progress.step:07d}"
        self._snapshot_step = self.progress.step
        path = self.run_dir / "samples" / f"{name}.png"
        if not self.dist.is_main:
            return path
        nets = {n: self.ema_generator(n) for n in self.G_nets}
        with self.fork_rng():
            picture = self.model.preview(self.grid_latent, nets, self.domain)
        save_image(path, picture)
        if self.logger is not None:
            self.logger.image("samples", picture, self.progress.step)
        return path

    def checkpoint_meta(self) -> dict[str, Any]:
        return state.checkpoint_meta(self)

    def save_checkpoint(self) -> Path:
        """Write a checkpoint of this step (every rank calls it together; rank 0 writes)."""
        self.check_finite()
        self.last_checkpoint = state.save(self)
        self._saved_step = self.progress.step
        return self.last_checkpoint

    def checkpoint_now(self) -> Path:
        """This step's checkpoint, written now unless it already was (a hook that keeps a checkpoint uses it)."""
        return self.last_checkpoint if self._saved_step == self.progress.step else self.save_checkpoint()

    def log_scalars(self, values: dict[str, float]) -> None:
        """Log `values` at this step (rank 0 writes; other ranks' calls do nothing)."""
        if self.logger is not None:
            self.logger.scalars(self.progress.step, values)

    def restore(self, c: ckpt.Checkpoint) -> None:
        """Continue exactly where checkpoint `c` stopped: weights, optimisers, RNGs, data order, counters."""
        state.restore(self, c)

    # --- the run ---------------------------------------------------------------------------------------

    def total_steps(self) -> int | None:
        if self.max_steps is not None:
            return self.max_steps
        if self.cfg.kimg > 0:
            return math.ceil(self.cfg.kimg * 1000 / (self.cfg.batch_size * self.cfg.n_critic))
        return None

    def stop(self, reason: str) -> None:
        """End the run after this step (a hook's early stop or collapse guard); `reason` is logged. The final
        checkpoint is written after the hook ran, even if this step's was written before: a hook that stops
        may have changed the weights (rolled back to the best)."""
        self.stop_reason = reason
        self._saved_step = -1

    def done(self) -> bool:
        if self.stop_reason is not None:
            return True
        total = self.total_steps()
        if total is not None and self.progress.step >= total:
            return True
        return self.cfg.minutes > 0 and self.progress.elapsed_s >= self.cfg.minutes * 60

    def seconds_left(self, images_per_s: float) -> float | None:
        """Time to the end of the budget (steps or kimg at `images_per_s`, or minutes), None when unknown."""
        left = []
        total = self.total_steps()
        if total is not None and images_per_s > 0:
            per_step = self.cfg.batch_size * self.cfg.n_critic
            left.append(max(0, total - self.progress.step) * per_step / images_per_s)
        if self.cfg.minutes > 0:
            left.append(max(0.0, self.cfg.minutes * 60 - self.progress.elapsed_s))
        return min(left) if left else None

    def log_row(self, sums: dict[str, torch.Tensor], steps: int) -> dict[str, float]:
        """Means over the window's steps and over the ranks (every rank logs the same keys)."""
        keys = sorted(sums)
        if not keys:
            return {}
        values = torch.stack([torch.as_tensor(sums[k], device=self.device) for k in keys]) / steps
        if self.dist.enabled:
            values = self.dist.all_reduce_(values) / self.dist.world
        return dict(zip(keys, values.tolist(), strict=True))

    def run(self, resume_step: int | None = None) -> RunResult:
        if self.total_steps() is None and self.cfg.minutes <= 0:
            raise GanvasError("give a training length: --kimg N or --minutes N (or a preset that sets one)")
        cfg, main = self.cfg, self.dist.is_main
        self.logger = RunLogger(self.run_dir, resume_step) if main else None
        total = self.total_steps()
        # the time left in words ("0:42 left"): the budget is what people wait for, steps or minutes
        counted = "{n_fmt}/{total_fmt} steps" if total is not None else "{elapsed} of " + clock(cfg.minutes * 60)
        bar = tqdm(total=total if total is not None else round(cfg.minutes * 60), initial=0,
                   unit="step" if total is not None else "s", disable=not self.progress_bar,
                   dynamic_ncols=True, leave=True,
                   bar_format="{l_bar}{bar}| " + counted + ", {remaining} left{postfix}")
        bar.update(self.progress.step if total is not None else round(self.progress.elapsed_s))
        sums: dict[str, torch.Tensor] = {}
        window_steps, window_t, window_img = 0, 0.0, 0
        last_print = time.perf_counter()
        warmup = Warmup()
        final = self.run_dir / "final.png"
        try:
            if self.progress.step == 0:
                self.snapshot()
            t_prev = time.perf_counter()
            while not self.done():
                t0 = time.perf_counter()
                nimg0 = self.progress.nimg
                stats = self.train_step()
                t1 = time.perf_counter()
                window_t += t1 - t0
                window_img += self.progress.nimg - nimg0
                window_steps += 1
                if self.on_speed is not None and warmup.add(t1 - t0, self.progress.nimg - nimg0):
                    with tqdm.external_write_mode(file=sys.stderr):     # a line above the bar, not through it
                        self.on_speed(self, warmup.images_per_s)
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v.detach().float()
                step = self.progress.step
                now = time.perf_counter()
                self.progress.elapsed_s += now - t_prev
                t_prev = now
                if cfg.minutes > 0:         # every rank must stop at the same step: rank 0's clock decides
                    self.progress.elapsed_s = self.dist.broadcast_value(self.progress.elapsed_s)
                if step % cfg.log_every == 0 or self.done():
                    self.check_finite()
                    row = self.log_row(sums, window_steps)
                    row.update(kimg=self.progress.nimg / 1000, images_per_s=window_img / max(window_t, 1e-9),
                               elapsed_s=round(self.progress.elapsed_s, 2))
                    if self.logger is not None:
                        self.logger.scalars(step, row)
                    losses = "".join(f"  {k} {row[f'loss/{k}']:.3f}" for k in ("D", "G") if f"loss/{k}" in row)
                    bar.set_postfix_str(f"kimg {row['kimg']:.1f}{losses}  {row['images_per_s']:.0f} img/s",
                                        refresh=False)
                    if main and not self.progress_bar and time.perf_counter() - last_print > 30:
                        left = self.seconds_left(row["images_per_s"])
                        eta = f"  {clock(left)} left" if left is not None and not self.done() else ""
                        info(f"step {step}  kimg {row['kimg']:.1f}{losses}  {row['images_per_s']:.0f} img/s{eta}")
                        last_print = time.perf_counter()
                    self.last_rate = row["images_per_s"]
                    sums, window_steps, window_t, window_img = {}, 0, 0.0, 0
                if step % cfg.sample_every == 0:
                    self.check_finite()
                    self.snapshot()
                if step % cfg.checkpoint_every == 0:
                    self.save_checkpoint()
                for hook in self.hooks:
                    if step % hook.every == 0:
                        hook.on_step(self, step)
                bar.update(1 if total is not None else round(self.progress.elapsed_s) - bar.n)
            if self.stop_reason is not None and main:
                info(f"stopped at step {self.progress.step}: {self.stop_reason}")
            if self._saved_step != self.progress.step:
                self.save_checkpoint()
            if main:
                grid = self.run_dir / "samples" / f"step-{self.progress.step:07d}.png"
                if self._snapshot_step != self.progress.step or not grid.exists():
                    grid = self.snapshot()
                write_bytes(final, grid.read_bytes())
        finally:
            bar.close()
            if self.logger is not None:
                self.logger.close()
        return RunResult(self.run_dir, self.last_checkpoint, final, self.progress.step,
                         self.progress.nimg / 1000, self.progress.elapsed_s, self.last_rate, self.model.spec.domain,
                         self.model.name)
