"""`ganvas sample`."""

from __future__ import annotations

from pathlib import Path

import click

from ganvas.commands import PathArg


@click.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--n", type=click.IntRange(1, 10000), default=64, show_default=True, help="how many outputs")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="seed of the first output; output i is seed SEED+i")
@click.option("--truncation", type=float, help="ψ in [0, 1]: 1 = none, 0 = the average")
@click.option("--grid", type=PathArg, help="write all outputs as one grid picture here")
@click.option("--out-dir", type=PathArg, help="write each output as its own file(s) here")
@click.option("--format", "formats", metavar="LIST",
              help="comma-separated file formats for --out-dir, as the data's domain allows "
                   "(images: png; music: midi,wav,png — the default is all of them)")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE",
              help="change an output option of the domain, e.g. tempo=90, programs=[0,0,32,33] or "
                   "audio=builtin (music)")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
def sample(checkpoint, n, seed, truncation, grid, out_dir, formats, set_, device) -> None:
    """Generate from a trained model; the same command gives the same files."""
    from ganvas.api import load
    from ganvas.config import parse_assignment
    from ganvas.domains import get_domain
    from ganvas.errors import GanvasError, unknown_name
    from ganvas.files import save_image
    from ganvas.train.run import pick_device

    G = load(checkpoint, pick_device(device))
    if set_:
        changes = dict(parse_assignment(s) for s in set_)
        for key in changes:
            if key not in G.domain.output_options:
                raise unknown_name(f"output option of the {G.domain.name} domain", key,
                                   list(G.domain.output_options))
        G.domain = get_domain(G.domain.name, {**G.model.spec.domain_args, **changes})
    wanted = tuple(f.strip().lower() for f in formats.split(",") if f.strip()) if formats else None
    wanted = G.domain.check_formats(wanted)
    if formats and out_dir is None:
        raise GanvasError("--format chooses the files written to --out-dir; add --out-dir DIR")
    if grid is None and out_dir is None:
        grid = Path(f"samples-seed{seed}.png")
    outputs = G.sample(n, seed=seed, truncation=truncation)
    if out_dir is not None:
        paths = G.domain.save(outputs, out_dir, [f"seed{seed + i:04d}" for i in range(n)], wanted)
        print(f"wrote {len(paths)} files to {out_dir}")
    if grid is not None:
        save_image(grid, G.domain.preview(outputs))
        print(f"wrote {grid}")
