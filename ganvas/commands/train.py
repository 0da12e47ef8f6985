"""`ganvas train`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ganvas.commands import ListedOption, PathArg
from ganvas.console import info
from ganvas.registry import LOSSES, Choices

if TYPE_CHECKING:
    from ganvas.train.loop import RunResult


@click.command(epilog="Any config field can be set with --set KEY=VALUE; `ganvas config` lists them all.")
@click.option("--preset", help="built-in preset name (`ganvas presets`) or a .toml file")
@click.option("--model", help="model name (`ganvas models`)")
@click.option("--data", help="built-in dataset name (`ganvas data list`) or a folder of images or MIDI files")
@click.option("--resolution", type=int, help="image side in pixels")
@click.option("--kimg", type=float, help="train until this many thousand real images were shown to D")
@click.option("--minutes", type=float, help="train for this many minutes")
@click.option("--batch-size", type=int, help="images per step (over all processes under torchrun)")
@click.option("--loss", cls=ListedOption, listed=Choices(LOSSES), help="adversarial loss: {choices}")
@click.option("--seed", type=int, help="seed of every random choice")
@click.option("--threads", type=int, help="CPU threads (0 = OMP_NUM_THREADS where set, else one per core)")
@click.option("--device", help="cpu | cuda | auto")
@click.option("--precision", help="fp32 | auto (bf16 or fp16 on CUDA, fp32 on a CPU) | bf16 | fp16")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile G and D")
@click.option("--tileable/--no-tileable", default=None, help="outputs that tile seamlessly (G pads circularly)")
@click.option("--conditional/--no-conditional", default=None,
              help="condition G and D on the data's labels: sample by class (`ganvas sample RUN --class NAME`)")
@click.option("--adversarial", is_flag=True, default=None,
              help="text models: after the likelihood phase, fine-tune against a discriminator (with a collapse "
                   "guard); the same as --set model_args.adversarial=true")
@click.option("--eval-every", type=click.IntRange(0), help="evaluate every K steps (logs, checkpoints/best)")
@click.option("--out", type=PathArg, help="run folder (default runs/<preset or data-model-res>)")
@click.option("--resume", is_flag=True, help="continue the run in --out (or the newest matching one)")
@click.option("--dry-run", is_flag=True, help="run the whole path for a few steps, in seconds")
@click.option("--exclude", type=click.Path(path_type=Path), metavar="FILE",
              help="leave out of the data the items FILE lists (one per line: sha256:<hex> of the stored item or "
                   "its source file, or a path/file name/key)")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE", help="set any config field")
def train(preset, model, data, resolution, kimg, minutes, batch_size, loss, seed, threads, device, precision, compile_,
          tileable, conditional, adversarial, eval_every, out, resume, dry_run, exclude, set_) -> None:
    """Train a GAN on a built-in dataset or a folder of images or MIDI files.

    Under torchrun (`torchrun --nproc_per_node=N -m ganvas train ...`) the N processes train one model
    together: --batch-size is the global batch, split evenly between them.
    """
    from ganvas.app.training import train as run_train
    from ganvas.config import parse_assignment

    overrides = {k: v for k, v in {
        "model": model, "data": data, "resolution": resolution, "kimg": kimg, "minutes": minutes,
        "batch_size": batch_size, "loss": loss, "seed": seed, "threads": threads, "device": device,
        "precision": precision, "compile": compile_, "tileable": tileable, "conditional": conditional,
        "eval_every": eval_every, "exclude": str(exclude.expanduser().resolve()) if exclude else None,
    }.items() if v is not None}
    if adversarial:
        overrides["model_args.adversarial"] = True
    overrides.update(parse_assignment(s) for s in set_)
    result = run_train(preset, overrides, out, resume=resume, dry_run=dry_run)
    if not dry_run:
        info(f"done: {result.step} steps, {result.kimg:.1f} kimg in {result.elapsed_s / 60:.1f} min")
        info(f"  final grid:  {result.final_grid}")
        info(f"  samples:     {result.run_dir / 'samples'}")
        info(f"  checkpoint:  {result.checkpoint}")
        info(f"  logs:        {result.run_dir / 'metrics.jsonl'}  (tensorboard --logdir {result.run_dir})")
        info(next_step(result))


def next_step(result: RunResult) -> str:
    """The end-of-run line saying what to do with this kind of model: translate with a translation model,
    listen to a music model, read a text model under one of its own codes, sample an image model."""
    from ganvas.nets import MODELS

    run = result.run_dir
    if not MODELS.get(result.model).has_latent:
        return (f"  translate:   ganvas translate {run} YOUR-IMAGES/ --out-dir translated   "
                f"(or: ganvas translate {run} --evaluate, on its held-out pairs)")
    if result.domain == "music":
        return f"  listen:      ganvas sample {run} --n 8 --out-dir music --format midi,wav"
    if result.domain == "text":
        return f"  more texts:  ganvas sample {run} --n 8{text_code(result)} --out-dir texts"
    return f"  more images: ganvas sample {run} --n 64 --seed 1 --grid grid.png   (--scale 4 for bigger pictures)"


def text_code(result: RunResult) -> str:
    """` --code VALUE` with one of the model's own control codes (a Chinese verse model's 七绝), or nothing."""
    from ganvas.api import load

    codes = getattr(load(result.checkpoint), "codes", {})
    if "七绝" in codes.get("form", []):
        return " --code 七绝"
    field = next((f for f, values in codes.items() if values), None)
    return f" --code {field}={codes[field][0]}" if field else ""
