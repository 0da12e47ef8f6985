"""Several processes training one model: torchrun's ranks, their agreement, and their gradients.

`torchrun --nproc_per_node=N -m ganvas train ...` starts N copies of the usual command; each finds
its rank in the environment torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK...) and joins one process
group. There is no second training loop: the loop asks the `Context` of this module to shard the
global batch, average gradients and agree, and every call is a no-op in a single process.

Design (after NVIDIA's StyleGAN3 training loop, which replaced DistributedDataParallel by exactly
this): G and D are not wrapped in DDP. G's step backpropagates through a frozen D, R1 and
path-length penalties take gradients of gradients, and objectives call the networks directly;
DDP's hooks fit none of that. Instead, after each backward pass every rank all-reduces one flat
buffer holding all gradients of the optimiser's parameters (plus the loss, so a NaN on any rank
stops every rank at the same step), divides by the world size and steps. With identical initial
weights (broadcast from rank 0) and identical averaged gradients, Adam keeps the weights, and the
weight average (EMA) of G, identical on every rank by construction; every checkpoint verifies it
with a digest per network and per rank.

The default process group is gloo (control messages, CPU tensors); on CUDA gradients go through a
second, NCCL, group. Errors that every rank meets alike are agreed on (`agree`) so that all ranks
stop together and only rank 0 prints the line.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ganvas.errors import GanvasError

T = TypeVar("T")
TIMEOUT = timedelta(minutes=30)       # how long a rank waits for the others (a slow checkpoint, an evaluation)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().isdigit() else default


def launched_world() -> int:
    """WORLD_SIZE as torchrun (or any launcher that follows torch's env:// convention) set it; 1 otherwise."""
    return env_int("WORLD_SIZE", 1)


@dataclass
class Context:
    """Where this process stands among the ranks of a run; a single process is rank 0 of 1."""

    rank: int = 0                       # this process, 0 … world−1
    world: int = 1                      # processes training together
    local_rank: int = 0                 # this process on its machine (picks its GPU)
    local_world: int = 1                # processes on this machine
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))   # where this rank's tensors live
    backend: str = ""                   # gloo, or nccl for CUDA tensors; "" in a single process
    _tensor_group: Any = None           # the group tensor collectives use (NCCL on CUDA), None = default

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # --- agreement ---------------------------------------------------------------------------------

    def agree(self, error: GanvasError | None) -> None:
        """Raise the first rank's error on every rank if any rank had one (only rank 0 prints it)."""
        if not self.enabled:
            if error is not None:
                raise error
            return
        messages: list[str | None] = [None] * self.world
        dist.all_gather_object(messages, None if error is None else str(error))
        first = next((m for m in messages if m is not None), None)
        if first is not None:
            raise shared_error(first, self.rank, error)

    def everywhere(self, fn: Callable[[], T], leaders_first: bool = False) -> T:
        """`fn()` on every rank, agreeing on errors; `leaders_first`: one rank per machine runs it before
        the others (it builds datasets and caches that the others then read)."""
        if leaders_first and self.enabled:
            result: Any = None
            if self.local_rank == 0:
                result = _attempt(fn)
            self.agree(result if isinstance(result, GanvasError) else None)
            if self.local_rank != 0:
                result = _attempt(fn)
            self.agree(result if isinstance(result, GanvasError) else None)
            return result
        result = _attempt(fn)
        self.agree(result if isinstance(result, GanvasError) else None)
        return result

    def on_main(self, fn: Callable[[], T]) -> T:
        """`fn()` on rank 0 only; its result (or its error) is sent to every rank."""
        if not self.enabled:
            return fn()
        box: list[Any] = [_attempt(fn) if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        if isinstance(box[0], GanvasError):
            raise shared_error(str(box[0]), self.rank, box[0] if self.is_main else None)
        return box[0]

    # --- objects -------------------------------------------------------------------------------------

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's `obj`, in rank order, on rank 0 (None elsewhere); [obj] in a single process."""
        if not self.enabled:
            return [obj]
        out: list[Any] | None = [None] * self.world if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    # --- tensors -------------------------------------------------------------------------------------

    def all_reduce_(self, t: torch.Tensor, op: str = "sum") -> torch.Tensor:
        """Sum (or max, min) `t` over the ranks, in place; the result is identical on every rank."""
        if self.enabled:
            red = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[op]
            dist.all_reduce(t, op=red, group=self._tensor_group)
        return t

    def mean_value(self, value: torch.Tensor | float) -> float:
        """A scalar averaged over the ranks (unchanged in a single process)."""
        if not self.enabled:
            return float(value)
        t = torch.as_tensor(value, dtype=torch.float64, device=self.device).reshape(1).clone()
        return float(self.all_reduce_(t)) / self.world

    def all_reduce_grads(self, params: list[nn.Parameter], extras: torch.Tensor) -> torch.Tensor:
        """Average the gradients of `params` over the ranks in one flat buffer; sum `extras` with them.

        A parameter without a gradient on some rank (a branch not taken there) counts as a zero
        gradient; one without a gradient on every rank keeps none, so Adam skips it as it would in a
        single process. Returns the summed `extras` (losses: NaN anywhere is NaN everywhere).
        """
        if not self.enabled:
            return extras
        dtype, dev = extras.dtype, extras.device
        has = torch.tensor([float(p.grad is not None) for p in params], dtype=dtype, device=dev)
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(dtype)
                          for p in params] + [has, extras.reshape(-1)])
        self.all_reduce_(flat)
        sizes = [p.numel() for p in params] + [len(params), extras.numel()]
        *grads, has, extras = flat.split(sizes)
        for p, g, h in zip(params, grads, has.tolist(), strict=True):
            p.grad = (g.view_as(p).to(p.dtype).div_(self.world)) if h > 0 else None
        return extras

    def broadcast_module_(self, module: nn.Module, part: str = "parameters") -> None:
        """Rank 0's parameters (or buffers) on every rank."""
        if not self.enabled:
            return
        with torch.no_grad():
            for t in (module.parameters() if part == "parameters" else module.buffers()):
                dist.broadcast(t.data, src=0, group=self._tensor_group)

    def broadcast_value(self, value: float) -> float:
        """Rank 0's number on every rank (the clock that decides when a timed run stops)."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0, group=self._tensor_group)
        return float(t)

    def averaged_buffers(self, module: nn.Module) -> dict[str, torch.Tensor]:
        """The module's buffers averaged over the ranks (BatchNorm statistics of each rank's share of the
        batch, StyleGAN's average w), as new tensors: the live ones keep following their own rank."""
        out = {}
        saved = set(module.state_dict())            # non-persistent buffers (lookup tables) are no state
        with torch.no_grad():
            for name, b in module.named_buffers():
                if name not in saved:
                    continue
                t = b.detach().clone()
                if self.enabled and t.is_floating_point():
                    self.all_reduce_(t).div_(self.world)
                elif self.enabled:
                    self.all_reduce_(t, "max")    # counters (BatchNorm's batches tracked) agree anyway
                out[name] = t
        return out


def _attempt(fn: Callable[[], T]) -> T | GanvasError:
    try:
        return fn()
    except GanvasError as exc:
        return exc


def shared_error(message: str, rank: int, original: GanvasError | None = None) -> GanvasError:
    """The error every rank raises for `message`; `quiet` on all but rank 0, so it is printed once."""
    exc = original if original is not None and str(original) == message else GanvasError(message)
    exc.quiet = rank != 0                   # read by ganvas.cli.main
    return exc


# --- the process group ---------------------------------------------------------------------------------

_CONTEXT = Context()


def current() -> Context:
    """The context of this process (rank 0 of 1 until `init` joins a group)."""
    return _CONTEXT


def init() -> Context:
    """Join the process group torchrun described in the environment (idempotent; a no-op for one process)."""
    global _CONTEXT
    world = launched_world()
    if world <= 1:
        return _CONTEXT
    if not dist.is_available():
        raise GanvasError(f"WORLD_SIZE={world} asks for several processes, but this torch build has no "
                          "torch.distributed; install a torch build with it or run one process")
    if not dist.is_initialized():
        for var in ("MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(var):
                raise GanvasError(f"WORLD_SIZE={world} is set but {var} is not: start several processes with "
                                  "torchrun (see the README, 'Training on several GPUs')")
        dist.init_process_group("gloo", timeout=TIMEOUT)
    _CONTEXT = Context(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=env_int("LOCAL_RANK", 0),
                       local_world=env_int("LOCAL_WORLD_SIZE", 1), backend="gloo")
    return _CONTEXT


def use_device(ctx: Context, device: torch.device) -> Context:
    """Tensor collectives on `device`: NCCL for CUDA (a second group), gloo for the CPU."""
    ctx.device = device
    if ctx.enabled and device.type == "cuda" and ctx.backend != "nccl":
        ctx._tensor_group = dist.new_group(backend="nccl", timeout=TIMEOUT)
        ctx.backend = "nccl"
    return ctx


def shutdown() -> None:
    """Leave the process group (at the end of `ganvas train`)."""
    global _CONTEXT
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _CONTEXT = Context()


def check_batch(batch_size: int, world: int) -> None:
    """The global batch must split evenly over the ranks."""
    if world > 1 and batch_size % world:
        raise GanvasError(f"config field 'batch_size' = {batch_size} is the global batch and must divide evenly "
                          f"over the {world} processes; use a multiple of {world}, e.g. "
                          f"{max(world, batch_size // world * world)}")


def shard(indices: Any, ctx: Context) -> Any:
    """This rank's contiguous share of a global batch (all of it in a single process)."""
    if not ctx.enabled:
        return indices
    per = len(indices) // ctx.world
    return indices[ctx.rank * per:(ctx.rank + 1) * per]


def rank_purpose(purpose: str, rank: int | None = None) -> str:
    """A random stream's name for this rank: rank 0 keeps the single-process name (so one process runs
    as before), other ranks get their own streams."""
    rank = current().rank if rank is None else rank
    return purpose if rank == 0 else f"{purpose}:rank{rank}"


def digest(nets: dict[str, dict[str, torch.Tensor]]) -> dict[str, str]:
    """SHA-256 of each network's state dict (by name), to compare ranks exactly."""
    out = {}
    for name, sd in nets.items():
        h = hashlib.sha256()
        for key, t in sorted(sd.items()):
            t = t.detach().cpu().contiguous()
            h.update(key.encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        out[name] = h.hexdigest()[:16]
    return out


def check_consistent(digests: list[dict[str, str]], step: int) -> None:
    """Every rank must hold the same networks; the first difference is a one-line error."""
    for rank, d in enumerate(digests[1:], start=1):
        for name, value in d.items():
            if value != digests[0].get(name):
                raise GanvasError(f"rank {rank} holds different weights than rank 0 in network {name} at step "
                                  f"{step}: the processes have drifted apart (a non-deterministic collective?); "
                                  "the last checkpoint is intact")


def threads_per_process(threads: int, ctx: Context) -> int:
    """CPU threads for this process: the configured number, or the machine's cores shared by its ranks."""
    if threads:
        return threads
    return max(1, (os.cpu_count() or 1) // max(1, ctx.local_world))


def params_of(nets: Iterable[nn.Module]) -> list[nn.Parameter]:
    return [p for m in nets for p in m.parameters()]
