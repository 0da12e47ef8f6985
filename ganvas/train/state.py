"""What a checkpoint holds of a training run, and how a run, on any number of processes, comes back from it.

Most of the state is shared: weights, optimisers, the weight average, counters and the data order
are the same on every rank and written once, by rank 0. Buffers are written as their mean over the
ranks (each rank's BatchNorm statistics come from its own share of the batch). Each rank also has
state of its own: its random streams (torch's, CUDA's, the latents'), its objective's (CycleGAN's
history pools, ADA's pending sums) and, with several ranks, its own buffers. Rank 0's sits where a
single process's always did (``rng``, ``objective`` and the ``objective/…`` tensors, plus
``buffers/…``); those of ranks 1… are gathered into ``ranks`` (JSON) and ``rank<r>/…`` tensors. A
run resumed with as many processes continues bit for bit. With more, the new ranks start from rank
0's objective state and the averaged buffers, with fresh random streams seeded by (seed, rank,
step); with fewer, the extra ranks' own state is dropped. Either way the data order, which depends
on the step and not on the number of processes, continues where it stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ganvas import distributed, seeds
from ganvas.console import info
from ganvas.errors import GanvasError
from ganvas.train import checkpoint as ckpt
from ganvas.train.checkpoint_meta import LOADING, RESUMING, check_fields

if TYPE_CHECKING:
    from ganvas.train.loop import Trainer

OBJECTIVE = f"{ckpt.OBJECTIVE}/"
BUFFERS = "buffers/"        # a rank's own buffers of each network (runs of several processes)


def rank_state(t: Trainer) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """This rank's own state: random streams and objective state (JSON); objective tensors and, with
    several ranks, the live buffers of every network (tensors, by their key in optim.safetensors)."""
    rng = {"torch": seeds.rng_to_json(torch.get_rng_state()), "latent": seeds.rng_to_json(t.latent_rng.get_state())}
    if t.device.type == "cuda":
        rng["cuda"] = seeds.rng_to_json(torch.cuda.get_rng_state(t.device))
    tensors = {f"{OBJECTIVE}{k}": v.detach().cpu().contiguous() for k, v in t.objective.tensor_state().items()}
    if t.dist.enabled:
        tensors.update({f"{BUFFERS}{n}/{k}": b.detach().cpu().clone() for n, m in {**t.G_nets, **t.D_nets}.items()
                        for k, b in m.named_buffers() if k in m.state_dict()})
    return {"rng": rng, "objective": t.objective.state_dict()}, tensors


def checkpoint_meta(t: Trainer, own: dict[str, Any] | None = None) -> dict[str, Any]:
    p = t.progress
    own = own if own is not None else rank_state(t)[0]
    return {
        "model": t.model.describe(),
        "config": t.cfg.to_dict(),
        "progress": {"step": p.step, "nimg": p.nimg, "kimg": p.nimg / 1000, "elapsed_s": round(p.elapsed_s, 3)},
        "sampler": t.sampler.state_dict(),
        **({"samplers": {n: s.state_dict() for n, s in t.samplers.items()}} if len(t.samplers) > 1 else {}),
        "objective": own["objective"],
        "rng": own["rng"],
        "dataset": t.dataset.summary(),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **{hook.name: hook.state_dict() for hook in t.hooks},
        **({"precision": t.precision.state_dict()} if t.precision.enabled else {}),
    }


def settle(t: Trainer) -> dict[str, dict[str, torch.Tensor]]:
    """The networks as a checkpoint holds them, the same on every rank: G and D with their buffers
    averaged over the ranks; the averaged G with those buffers (StyleGAN's average w), its BatchNorm
    recalibrated, and its buffers taken from rank 0 (recalibration on a GPU need not agree to the bit)."""
    ctx = t.dist
    nets = {n: dict(m.state_dict()) for n, m in {**t.G_nets, **t.D_nets}.items()}
    if ctx.enabled:
        for name, net in {**t.G_nets, **t.D_nets}.items():
            nets[name].update(ctx.averaged_buffers(net))
        with torch.no_grad():               # the average's buffers follow G's (EMA.copy_buffers), here the mean
            for name, avg in t.ema.averaged.items():
                for key, b in avg.named_buffers():
                    if key in nets[name]:       # non-persistent buffers (lookup tables) never change
                        b.copy_(nets[name][key])
    t.ema_generator()
    if ctx.enabled:
        for net in t.ema.averaged.values():
            ctx.broadcast_module_(net, "buffers")
    nets.update({f"{n}_ema": sd for n, sd in t.ema.state_dict().items()})
    return nets


def save(t: Trainer) -> Path:
    """Write a checkpoint (every rank calls this; rank 0 writes): shared state once, each rank's own state."""
    ctx = t.dist
    nets = settle(t)
    own, tensors = rank_state(t)
    ranks = ctx.gather((own, tensors)) if ctx.enabled else None
    digests = ctx.gather(distributed.digest(nets)) if ctx.enabled else None

    def write() -> Path:
        if digests is not None:
            distributed.check_consistent(digests, t.progress.step)
        optim_g, groups_g = ckpt.optimizer_tensors("G", t.opt_g)
        optim_d, groups_d = ckpt.optimizer_tensors("D", t.opt_d)
        meta = checkpoint_meta(t, own)
        meta["optimizers"] = {"G": groups_g, "D": groups_d}
        # tensors an objective needs to resume (CycleGAN's history pools) travel with the optimiser state
        extra = dict(tensors)
        if ranks is not None:
            meta["distributed"] = {"world_size": ctx.world, "backend": ctx.backend, "digests": digests}
            meta["ranks"] = [state for state, _ in ranks[1:]]
            for r, (_, own_tensors) in enumerate(ranks[1:], start=1):
                extra.update({f"rank{r}/{k}": v for k, v in own_tensors.items()})
        return ckpt.save(t.run_dir, t.progress.step, nets, {**optim_g, **optim_d, **extra}, meta,
                         t.cfg.keep_checkpoints)

    return ctx.on_main(write)


def load_everywhere(path: Path, ctx: distributed.Context) -> ckpt.Checkpoint:
    """The checkpoint rank 0 chose, on every rank: read from disk where every rank sees the same file
    (one machine, or a shared file system), else sent by rank 0 to the others."""
    if not ctx.enabled:
        return ckpt.load(path)
    text = ctx.on_main(lambda: (path / "checkpoint.json").read_text(encoding="utf-8"))
    try:
        readable = (path / "checkpoint.json").read_text(encoding="utf-8") == text
    except OSError:
        readable = False
    flags = [None] * ctx.world
    torch.distributed.all_gather_object(flags, readable)
    if all(flags):
        return ctx.everywhere(lambda: ckpt.load(path))
    return ctx.on_main(lambda: ckpt.load(path))


def restore(t: Trainer, c: ckpt.Checkpoint) -> None:
    """Continue exactly where checkpoint `c` stopped: weights, optimisers, RNGs, data order, counters."""
    check_meta(c.meta, c.path)
    try:
        _restore(t, c)
    except (GanvasError, torch.OutOfMemoryError):
        raise
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:  # fields of the right type
        reason = " ".join(str(exc).split())[:200]             # but wrong content (a hand-edited file)
        raise GanvasError(f"checkpoint file '{c.path / 'checkpoint.json'}' cannot be resumed from: "
                          f"{type(exc).__name__}: {reason}") from None


def _restore(t: Trainer, c: ckpt.Checkpoint) -> None:
    for name, net in {**t.G_nets, **t.D_nets}.items():
        ckpt.load_weights(net, c.nets.get(name, {}), f"checkpoint {c.path} network {name}")
    for name, net in t.ema.averaged.items():
        ckpt.load_weights(net, c.nets.get(f"{name}_ema", {}), f"checkpoint {c.path} network {name}_ema")
    groups = c.meta["optimizers"]
    ckpt.restore_optimizer("G", t.opt_g, c.optim, groups["G"])
    ckpt.restore_optimizer("D", t.opt_d, c.optim, groups["D"])
    pr = c.meta["progress"]
    from ganvas.seeds import derive_seed
    from ganvas.train.loop import Progress

    t.progress = Progress(int(pr["step"]), int(pr["nimg"]), float(pr["elapsed_s"]))
    for name, state in c.meta.get("samplers", {"": c.meta["sampler"]}).items():
        t.samplers.get(name, t.sampler).load_state_dict(state)
    for hook in t.hooks:
        hook.load_state_dict(c.meta.get(hook.name) or {})
    t.precision.load_state_dict(c.meta.get("precision") or {})
    rank, saved_world = t.dist.rank, int((c.meta.get("distributed") or {}).get("world_size", 1))
    own = rank > 0 and rank < saved_world
    state = c.meta["ranks"][rank - 1] if own else {"rng": c.meta["rng"], "objective": c.meta.get("objective", {})}
    prefix = f"rank{rank}/" if own else ""
    t.objective.load_state_dict(state["objective"])
    t.objective.load_tensor_state({k[len(prefix + OBJECTIVE):]: v.to(t.device) for k, v in c.optim.items()
                                   if k.startswith(prefix + OBJECTIVE)})
    if rank < saved_world and saved_world > 1:      # this rank's own buffers, not their mean
        with torch.no_grad():
            for name, net in {**t.G_nets, **t.D_nets}.items():
                for key, b in net.named_buffers():
                    saved = c.optim.get(f"{prefix}{BUFFERS}{name}/{key}")
                    if saved is not None and saved.shape == b.shape:
                        b.copy_(saved)
    if rank >= saved_world:                 # a rank the saved run did not have: streams of its own
        seed = derive_seed(t.cfg.seed, f"resume:rank{rank}:step{t.progress.step}")
        torch.manual_seed(seed)
        t.latent_rng.manual_seed(derive_seed(seed, "latent"))
        t.objective.reseed(derive_seed(seed, "objective"))
    else:
        set_rng(t, state["rng"], c.path)
    t.last_checkpoint = c.path
    t._saved_step = t._snapshot_step = t.progress.step


def set_rng(t: Trainer, rng: dict[str, str], where: Path) -> None:
    """Restore this rank's random streams; a run moved between CPU and CUDA reseeds the ones that moved."""
    from ganvas.seeds import derive_seed

    torch.set_rng_state(seeds.rng_from_json(rng["torch"]))
    if t.device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(seeds.rng_from_json(rng["cuda"]), t.device)
    try:
        t.latent_rng.set_state(seeds.rng_from_json(rng["latent"]))
    except RuntimeError:                    # a CPU generator's state does not fit a CUDA generator, nor back
        t.latent_rng.manual_seed(derive_seed(t.cfg.seed, f"latent:{t.device.type}:step{t.progress.step}"))
        info(f"note: {where} was written on another kind of device; the latent stream was reseeded")


def check_meta(meta: dict[str, Any], where: Path) -> None:
    """Refuse a checkpoint that lacks what resuming reads, or whose per-rank records are inconsistent
    (a hand-edited or truncated file)."""
    check_fields(meta, where / "checkpoint.json", LOADING + RESUMING)
    world = int((meta.get("distributed") or {}).get("world_size", 1))
    if world > 1 and len(meta.get("ranks") or []) != world - 1:
        raise GanvasError(f"checkpoint {where} says it was written by {world} processes but holds the state of "
                          f"{len(meta.get('ranks') or []) + 1}; it is damaged")
