"""What makes training fast on a GPU: mixed precision, torch.compile and pinned, asynchronous copies.

None of it is needed on a CPU and none of it requires CUDA: with the defaults (``precision = "fp32"``,
``compile = false``) a run computes exactly what it computed before these existed.

Mixed precision (config ``precision``): ``auto`` picks bfloat16 autocast on CUDA devices that support
it (Ampere and newer) and float16 with loss scaling on older ones, and full float32 on a CPU;
``bf16`` and ``fp16`` force a choice on any device (on a CPU they are slow unless it has bfloat16
units, and are there mainly so the code path can be tested without a GPU). Weights, optimiser state
and the weight average stay float32; only the forward passes run in the lower precision. float16
gradients can underflow, so each optimiser has its own `torch.amp.GradScaler` (G's and D's losses
differ by orders of magnitude), whose state is part of every checkpoint; a step whose gradients
overflowed is skipped by the scaler, on every rank alike.

The passes whose gradients are differentiated again (R1, the gradient penalty, path length) run
`exact`: eagerly and in float32. torch.compile cannot differentiate twice, and gradients of
gradients in float16 under- and overflow (lazy R1 every 16 steps makes the cost small).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from ganvas.errors import GanvasError

PRECISIONS = ("fp32", "auto", "bf16", "fp16")
RECOMPILE_LIMIT = 64       # compiled graphs per network: training, path-length, grid and evaluation batch shapes
COMPILE_BACKEND = "inductor"   # torch.compile's default; the test suite uses aot_eager (no C++ code generation)


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision `name` means on `device`: auto → bf16 or fp16 on CUDA, fp32 elsewhere."""
    if name not in PRECISIONS:
        raise GanvasError(f"config field 'precision' must be one of {', '.join(PRECISIONS)}, got {name!r}")
    if name != "auto":
        return name
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


class Precision:
    """Autocast for forward passes and, for float16, a gradient scaler per optimiser."""

    def __init__(self,
                 name: str,                 # fp32 | auto | bf16 | fp16 (config field `precision`)
                 device: torch.device,      # where the networks run
                 phases: tuple[str, ...] = ("D", "G"),   # one scaler per optimiser
                 ) -> None:
        self.name = resolve_precision(name, device)
        self.device = device
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.name)
        self.scalers = {p: torch.amp.GradScaler(device.type) for p in phases} if self.name == "fp16" else {}

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def forward(self) -> contextlib.AbstractContextManager:
        """The context a phase's losses are computed in: autocast to the precision, or nothing."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, phase: str, loss: torch.Tensor) -> None:
        scaler = self.scalers.get(phase)
        (scaler.scale(loss) if scaler is not None else loss).backward()

    def step(self, phase: str, opt: torch.optim.Optimizer) -> None:
        """The optimiser step (skipped by the scaler when a gradient overflowed; every rank alike, since
        gradients are averaged over the ranks before this)."""
        scaler = self.scalers.get(phase)
        if scaler is None:
            opt.step()
            return
        scaler.step(opt)
        scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {"precision": self.name, "scalers": {p: s.state_dict() for p, s in self.scalers.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for phase, s in (state.get("scalers") or {}).items():
            if phase in self.scalers:
                self.scalers[phase].load_state_dict(s)


def compile_networks(nets: dict[str, nn.Module]) -> None:
    """torch.compile each network's forward in place (its state_dict keys are unchanged).

    The bound ``forward`` is replaced by its compiled version. (``nn.Module.compile`` compiles the
    generic ``Module._call_impl`` frame instead, which torch 2.13 silently left uncompiled for some
    modules when this was written: a Sequential ran eagerly with no message.)

    ``dynamic=False``: every batch shape gets its own static graph. Dynamic shapes made the second
    compiled network of a GAN crash when this was measured; the few shapes a run uses (training,
    path-length and grid batches) fit within the raised recompile limit. Passes whose gradients are
    differentiated again (R1, gradient penalty, path length) run eagerly (`exact`).
    """
    import torch._dynamo

    if not hasattr(torch.compiler, "set_stance"):
        raise GanvasError(f"config field 'compile' needs torch 2.6 or newer (this is {torch.__version__}): "
                          "regularisers must run the compiled networks eagerly")
    config = torch._dynamo.config
    name = "recompile_limit" if hasattr(config, "recompile_limit") else "cache_size_limit"
    setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
    for net in nets.values():
        net.forward = torch.compile(net.forward, dynamic=False, backend=COMPILE_BACKEND)


@contextlib.contextmanager
def exact() -> Iterator[None]:
    """Networks called inside run eagerly (not compiled) and in float32 (no autocast): for passes whose
    gradients are differentiated again."""
    with contextlib.ExitStack() as stack:
        if hasattr(torch.compiler, "set_stance"):
            stack.enter_context(torch.compiler.set_stance("force_eager"))
        stack.enter_context(torch.autocast("cpu", enabled=False))
        if torch.cuda.is_available():
            stack.enter_context(torch.autocast("cuda", enabled=False))
        yield


def twice_differentiable(net: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """`net` called `exact`ly, its floating inputs in float32 (a no-op for float32 ones, so full-precision
    runs are unchanged)."""
    def call(*args: Any) -> torch.Tensor:
        with exact():
            return net(*(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args))
    return call


def to_device(rows: Any, device: torch.device) -> Any:
    """A batch of stored samples (numpy) on its way to `device`: on CUDA, through pinned memory with an
    asynchronous copy (the next batch is gathered on the CPU while the GPU still works); elsewhere as is."""
    if device.type != "cuda":
        return rows
    return torch.from_numpy(rows).pin_memory().to(device, non_blocking=True)


def pick_device(name: str, local_rank: int | None = None) -> torch.device:
    """The device `name` (cpu | cuda | auto) means here; `local_rank`: which GPU of the machine (torchrun)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise GanvasError("--device cuda was asked, but torch sees no CUDA device here; use --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cuda" or local_rank is None:
        return torch.device(name)
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise GanvasError(f"process {local_rank} of this machine needs a GPU of its own, but torch sees {count}; "
                          f"start at most {count} processes per machine (torchrun --nproc_per_node={count})")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def set_threads(threads: int) -> None:
    """`threads`; 0: OMP_NUM_THREADS where set (as torch itself reads it, so a caller can pin the `ganvas`
    command's threads from outside: the tests do), else one per core."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    torch.set_num_threads(threads or (int(env) if env.isdigit() else 0) or os.cpu_count() or 1)
