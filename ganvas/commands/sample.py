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
@click.option("--truncation-cutoff", type=click.IntRange(1), help="style models: truncate only the first N style "
              "layers (default all)")
@click.option("--style-mix", nargs=2, metavar="ROWS COLS", help="style models: the mixing grid of row seeds with "
              "--layers taken from column seeds; each a seed or a list such as 1,2,5-7")
@click.option("--layers", help="style layers to take from the column seeds, e.g. 0-3, 4-, 0,2,5 or all "
              "(default: the coarse half)")
@click.option("--save-w", type=PathArg, help="style models: also save the outputs' w codes (.safetensors or .npy)")
@click.option("--from-w", type=PathArg, help="style models: generate from the w codes in this file instead of seeds")
@click.option("--grid", type=PathArg, help="write all outputs as one grid picture here")
@click.option("--out-dir", type=PathArg, help="write each output as its own file(s) here")
@click.option("--format", "formats", metavar="LIST",
              help="comma-separated file formats for --out-dir, as the data's domain allows "
                   "(images: png; music: midi,wav,png — the default is all of them)")
@click.option("--set", "set_", multiple=True, metavar="KEY=VALUE",
              help="change an output option of the domain, e.g. tempo=90, programs=[0,0,32,33] or "
                   "audio=builtin (music)")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
def sample(checkpoint, n, seed, truncation, truncation_cutoff, style_mix, layers, save_w, from_w, grid, out_dir,
           formats, set_, device) -> None:
    """Generate from a trained model; the same command gives the same files."""
    from ganvas.accel import pick_device
    from ganvas.api import load
    from ganvas.config import parse_assignment
    from ganvas.domains import get_domain
    from ganvas.errors import GanvasError, unknown_name
    from ganvas.files import save_image

    if layers is not None and style_mix is None:
        raise GanvasError("--layers chooses the layers of a style mix: give --style-mix ROWS COLS too")
    if truncation_cutoff is not None and truncation is None:
        raise GanvasError("--truncation-cutoff needs --truncation ψ")
    if style_mix is not None and (from_w is not None or save_w is not None):
        raise GanvasError("--style-mix draws its own seeds: it cannot be combined with --from-w or --save-w")
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
    if style_mix is not None:
        style_mix_grid(G, style_mix, layers, truncation, truncation_cutoff, grid, out_dir)
        return
    from ganvas import style

    stems = [f"seed{seed + i:04d}" for i in range(n)]
    if from_w is not None:
        ws = style.load_ws(from_w, G)
        outputs, stems = G.synthesize(ws), [f"w{i:04d}" for i in range(ws.shape[0])]
    elif truncation_cutoff is not None or save_w is not None:
        ws = G.ws(n, seed, truncation, truncation_cutoff)
        outputs = G.synthesize(ws)
        if save_w is not None:
            style.save_ws(save_w, ws, G, seeds=range(seed, seed + n), truncation=truncation,
                          truncation_cutoff=truncation_cutoff)
            print(f"wrote {save_w}")
    else:
        outputs = G.sample(n, seed=seed, truncation=truncation)
    if grid is None and out_dir is None:
        grid = Path(f"samples-seed{seed}.png" if from_w is None else f"samples-{Path(from_w).stem}.png")
    if out_dir is not None:
        paths = G.domain.save(outputs, out_dir, stems, wanted)
        print(f"wrote {len(paths)} files to {out_dir}")
    if grid is not None:
        save_image(grid, G.domain.preview(outputs))
        print(f"wrote {grid}")


def style_mix_grid(G, spec, layers, truncation, cutoff, grid, out_dir) -> None:
    from ganvas import style
    from ganvas.files import save_image

    model = style.require_style(G)
    rows = style.parse_int_list(spec[0], "--style-mix row seeds")
    cols = style.parse_int_list(spec[1], "--style-mix column seeds")
    num_ws = model.code_shape("w")[0]
    idx = style.coarse_layers(num_ws) if layers is None else style.parse_layers(layers, num_ws)
    images, nrow = style.mixing_grid(G, rows, cols, idx, truncation, cutoff)
    if out_dir is not None:
        cells = [(r, c) for r in rows for c in cols]
        mixed = [images[(i + 1) * nrow + 1 + j] for i in range(len(rows)) for j in range(len(cols))]
        import torch

        paths = G.domain.save(torch.stack(mixed), out_dir, [f"mix-row{r}-col{c}" for r, c in cells])
        print(f"wrote {len(paths)} files to {out_dir}")
    if grid is None and out_dir is None:
        grid = Path(f"style-mix-{spec[0]}-{spec[1]}.png".replace(",", "_"))
    if grid is not None:
        save_image(grid, G.domain.preview(images, nrow=nrow))
        span = ",".join(map(str, idx))
        print(f"wrote {grid}: rows = seeds {spec[0]}, columns = seeds {spec[1]}, layers {span} from the columns")
