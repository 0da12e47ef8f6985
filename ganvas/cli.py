"""The ``ganvas`` command line: train, sample, and manage datasets.

Every user error ends as one line on stderr (``error: ...``) and a non-zero exit status; tracebacks
are reserved for bugs in ganvas itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ganvas.console import info
from ganvas.errors import GanvasError

PathArg = click.Path(path_type=Path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganvas")
def app() -> None:
    """Generative adversarial networks for creative work."""


@app.command(epilog="Any config field can be set with --set KEY=VALUE; `ganvas config` lists them all.")
@click.option("--preset", help="built-in preset name (`ganvas presets`) or a .toml file")
@click.option("--model", help="model name (`ganvas models`)")
@click.option("--data", help="built-in dataset name (`ganvas data list`) or a folder of images")
@click.option("--resolution", type=int, help="image side in pixels")
@click.option("--kimg", type=float, help="train until this many thousand real images were shown to D")
@click.option("--minutes", type=float, help="train for this many minutes")
@click.option("--batch-size", type=int, help="images per step")
@click.option("--loss", help="minimax | ns | hinge | wgan-gp | lsgan")
@click.option("--seed", type=int, help="seed of every random choice")
@click.option("--threads", type=int, help="CPU threads (0 = one per core)")
@click.option("--device", help="cpu | cuda | auto")
@click.option("--out", type=PathArg, help="run folder (default runs/<preset or data-model-res>)")
@click.option("--resume", is_flag=True, help="continue the run in --out (or the newest matching one)")
@click.option("--dry-run", is_flag=True, help="run the whole path for a few steps, in seconds")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE", help="set any config field")
def train(preset, model, data, resolution, kimg, minutes, batch_size, loss, seed, threads, device, out,
          resume, dry_run, set_) -> None:
    """Train a GAN on a built-in dataset or a folder of images."""
    from ganvas.config import parse_assignment
    from ganvas.train.run import train as run_train

    overrides = {k: v for k, v in {
        "model": model, "data": data, "resolution": resolution, "kimg": kimg, "minutes": minutes,
        "batch_size": batch_size, "loss": loss, "seed": seed, "threads": threads, "device": device,
    }.items() if v is not None}
    overrides.update(parse_assignment(s) for s in set_)
    result = run_train(preset, overrides, out, resume=resume, dry_run=dry_run)
    if not dry_run:
        info(f"done: {result.step} steps, {result.kimg:.1f} kimg in {result.elapsed_s / 60:.1f} min")
        info(f"  final grid:  {result.final_grid}")
        info(f"  samples:     {result.run_dir / 'samples'}")
        info(f"  checkpoint:  {result.checkpoint}")
        info(f"  logs:        {result.run_dir / 'metrics.jsonl'}  (tensorboard --logdir {result.run_dir})")
        info(f"  more images: ganvas sample {result.run_dir} --n 64 --seed 1 --grid grid.png")


@app.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--n", type=click.IntRange(1, 10000), default=64, show_default=True, help="how many outputs")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="seed of the first output; output i is seed SEED+i")
@click.option("--truncation", type=float, help="ψ in [0, 1]: 1 = none, 0 = the average")
@click.option("--grid", type=PathArg, help="write all outputs as one grid picture here")
@click.option("--out-dir", type=PathArg, help="write each output as its own file here")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
def sample(checkpoint, n, seed, truncation, grid, out_dir, device) -> None:
    """Generate from a trained model; the same command gives the same files."""
    from ganvas.api import load
    from ganvas.files import save_image
    from ganvas.train.run import pick_device

    G = load(checkpoint, pick_device(device))
    if grid is None and out_dir is None:
        grid = Path(f"samples-seed{seed}.png")
    outputs = G.sample(n, seed=seed, truncation=truncation)
    if out_dir is not None:
        paths = G.domain.save(outputs, out_dir, [f"seed{seed + i:04d}" for i in range(n)])
        print(f"wrote {len(paths)} files to {out_dir}")
    if grid is not None:
        save_image(grid, G.domain.preview(outputs))
        print(f"wrote {grid}")


@app.command()
def models() -> None:
    """List the registered models and their options."""
    import dataclasses

    from ganvas.nets import MODELS

    for name in MODELS.names():
        cls = MODELS.get(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} {doc}")
        for f in dataclasses.fields(cls.Options):
            print(f"    {f.name} = {f.default!r:<8} # {f.metadata.get('help', '')}")


@app.command()
def presets() -> None:
    """List the built-in presets."""
    from importlib import resources

    from ganvas.config import preset_names

    for name in preset_names():
        text = (resources.files("ganvas") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
        first = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), "")
        print(f"{name:<24} {first}")


@app.command()
def config() -> None:
    """List every config field with its default and allowed values."""
    from ganvas.config import TrainConfig

    print(TrainConfig.help_text())


@app.group()
def data() -> None:
    """Built-in datasets: list and build them."""


@data.command("list")
def data_list() -> None:
    """Show which built-in datasets are built, which can be built, and what is missing."""
    import json

    from ganvas.data import DATASETS, data_home
    from ganvas.data.dataset import builtin_root

    print(f"data home: {data_home()}")
    for name in DATASETS.names():
        root = builtin_root(name)
        builder = DATASETS.get(name)()
        if (root / "card.json").exists():
            card = json.loads((root / "card.json").read_text(encoding="utf-8"))
            part = f" (a subset of {card['available']})" if card.get("available", 0) > card["count"] else ""
            state = f"built: {card['count']} images{part} at {card['native_size']} px in {root}"
        else:
            problem = builder.missing()
            state = f"can be built: ganvas data build {name}" if problem is None else f"missing: {problem}"
        print(f"{name:<12} {state}\n{'':<12} {builder.title}; licence: {builder.licence}")


@data.command("build")
@click.argument("name")
@click.option("--force", is_flag=True, help="rebuild even if already built")
@click.option("--limit", type=click.IntRange(1), help="build only this many items, evenly spaced (a quick look)")
def data_build(name, force, limit) -> None:
    """Build a built-in dataset from its Debian package into the data home."""
    import json

    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root

    builder = DATASETS.get(name)()
    root = builtin_root(name)
    if (root / "card.json").exists() and not force:
        print(f"{name} is already built in {root} (use --force to rebuild)")
        return
    builder.build(root, limit=limit)
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    skipped = sum(card.get("skipped", {}).values())
    print(f"built {name}: {card['count']} images in {root}" + (f" ({skipped} skipped)" if skipped else ""))


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and turn user errors into one line and an exit status."""
    # Idle OpenMP threads sleep instead of spinning: with another busy process on the machine,
    # spinning threads ran 3× slower (bench/train_throughput.py measures both settings).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        result = app.main(args=argv, prog_name="ganvas", standalone_mode=False)
        return int(result or 0)
    except click.exceptions.UsageError as exc:
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 2
    except click.exceptions.ClickException as exc:
        print(f"error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("error: interrupted (the last checkpoint is intact; add --resume to continue)", file=sys.stderr)
        return 130
    except GanvasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
