"""`ganvas sample`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ganvas.commands import PathArg, RegistryChoice, make_publisher, publish_options

if TYPE_CHECKING:
    from typing import Any

    import numpy as np
    import torch

    from ganvas.api import Generator


class ScaleFilters:
    """The names of `ganvas.domains.image.SCALE_FILTERS`, read when click asks (not at `ganvas --help`: torch)."""

    def __iter__(self):
        from ganvas.domains.image import SCALE_FILTERS

        return iter(SCALE_FILTERS)


@click.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--n", type=click.IntRange(1, 10000), default=64, show_default=True, help="how many outputs")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="seed of the first output; output i is seed SEED+i")
@click.option("--truncation", type=float, help="ψ in [0, 1]: 1 = none, 0 = the average")
@click.option("--class", "label", metavar="NAME|BLEND", help="conditional models: the class to make, by name, or a "
              "blend summing to 1 such as \"Flags:0.5,Objects:0.5\" (default: seed s makes class s mod K)")
@click.option("--grid-by-class", is_flag=True, help="conditional models: one row per class, --n outputs each "
              "(seeds SEED … SEED+n−1 in every row)")
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
@click.option("--tile-preview", is_flag=True, help="images: write each output tiled 3×3 (to --out-dir, else "
              "tiles-seedSEED/) and print the seam score of the outputs and of the training images")
@click.option("--palette", metavar="DATASET|N", help="images: quantise to the palette of a dataset (built-in name "
              "or folder; --colours of its colours) or to N colours (2-256) fitted to the outputs")
@click.option("--colours", type=int, default=32, show_default=True, help="colours of a --palette DATASET")
@click.option("--pixel-scale", type=int, default=1, show_default=True,
              help="images: upscale by repeating each pixel K×K (pixel art)")
@click.option("--scale", type=int, default=1, show_default=True,
              help="images: enlarge every output N times (--filter), e.g. a 32 px model's outputs to 128 px with "
                   "--scale 4; still watermarked and signed")
@click.option("--filter", "filter_name", type=RegistryChoice(ScaleFilters()),
              help="how --scale enlarges: lanczos (smooth, the default) or nearest (hard pixel edges)")
@click.option("--sheet", type=PathArg, help="images: write all outputs as one sprite sheet PNG here, with its "
              "frame boxes in a .json beside it")
@click.option("--code", "codes", metavar="CODES", help="text models: control codes, e.g. 七绝 or form=七律,era=song "
              "(default: seed s writes form s mod 4)")
@click.option("--acrostic", metavar="TEXT", help="text models: the first character of each verse (藏头诗)")
@click.option("--keywords", metavar="LIST", help="text models: comma-separated words the text must contain")
@click.option("--first-line", metavar="TEXT", help="text models: the first verse, to be continued")
@click.option("--temperature", type=float, default=0.8, show_default=True,
              help="text models: sampling temperature (lower: safer, higher: wilder)")
@click.option("--free", is_flag=True, help="text models: sample freely, without the form, rhyme and tone constraints")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
@publish_options
def sample(checkpoint, n, seed, truncation, label, grid_by_class, truncation_cutoff, style_mix, layers, save_w, from_w,
           grid, out_dir, formats, set_, tile_preview, palette, colours, pixel_scale, scale, filter_name, sheet, codes,
           acrostic, keywords, first_line, temperature, free, device, no_watermark, guard) -> None:
    """Generate from a trained model; the same command gives the same outputs, every pixel, note and character.

    A conditional model makes the class given by --class; without it, seed s makes class s mod K, so a
    grid cycles through the classes (a wrong --class name prints them all); --grid-by-class gives a row each.
    Every file is watermarked (pictures) and carries a signed manifest; `ganvas verify FILE` checks it."""
    from ganvas.accel import pick_device
    from ganvas.api import load
    from ganvas.config import parse_assignment
    from ganvas.domains import get_domain
    from ganvas.errors import GanvasError, unknown_name

    if layers is not None and style_mix is None:
        raise GanvasError("--layers chooses the layers of a style mix: give --style-mix ROWS COLS too")
    if truncation_cutoff is not None and truncation is None:
        raise GanvasError("--truncation-cutoff needs --truncation ψ")
    if grid_by_class and (label is not None or style_mix is not None or from_w is not None or save_w is not None):
        raise GanvasError("--grid-by-class draws every class: it cannot be combined with --class, --style-mix, "
                          "--from-w or --save-w")
    if style_mix is not None and (from_w is not None or save_w is not None):
        raise GanvasError("--style-mix draws its own seeds: it cannot be combined with --from-w or --save-w")
    assets = AssetOptions.check(tile_preview, palette, colours, pixel_scale, sheet)
    if style_mix is not None and assets.wanted:
        raise GanvasError("--style-mix draws its own grid: it cannot be combined with --tile-preview, --palette, "
                          "--pixel-scale or --sheet")
    check_scale(scale, filter_name, assets.wanted or style_mix is not None)
    G = load(checkpoint, pick_device(device))
    pub = make_publisher(G, no_watermark, guard)
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
    text_options = {"codes": codes, "acrostic": acrostic, "keywords": keywords, "first_line": first_line,
                    "free": free or None}
    from ganvas.writer import Writer

    if isinstance(G, Writer):
        from ganvas.commands.sample_text import sample_text

        image_only = {"--truncation": truncation, "--class": label, "--grid-by-class": grid_by_class or None,
                      "--style-mix": style_mix, "--from-w": from_w, "--save-w": save_w, "--set": set_ or None,
                      "--tile-preview": tile_preview or None, "--palette": palette, "--sheet": sheet,
                      "--scale": scale if scale != 1 else None}
        given = [k for k, v in image_only.items() if v is not None]
        if given:
            raise GanvasError(f"{', '.join(given)} apply to image and music models; {checkpoint} writes text "
                              "(use --code, --acrostic, --keywords, --first-line, --temperature)")
        sample_text(G, pub, n, seed, codes, acrostic, keywords, first_line, temperature, not free, grid, out_dir,
                    wanted)
        return
    used = [f"--{k.replace('_', '-')}" for k, v in text_options.items() if v is not None]
    if used:
        raise GanvasError(f"{', '.join(used)} apply to text models; {checkpoint} is a {G.model.name} model")
    if scale != 1 and G.domain.name != "image":
        raise GanvasError(f"--scale enlarges pictures; {checkpoint} makes {G.domain.name}")
    if (label is not None or grid_by_class) and not G.classes:
        raise GanvasError(f"{checkpoint} is not conditional: it takes no --class (train with --conditional on "
                          "labelled data to choose classes)")
    if style_mix is not None:
        style_mix_grid(G, pub, style_mix, layers, truncation, truncation_cutoff, grid, out_dir)
        return
    import torch

    from ganvas import style

    stems = [f"seed{seed + i:04d}" for i in range(n)]
    rows = [label] if not grid_by_class else G.classes
    if grid_by_class:
        stems = [f"{slug(name)}-seed{seed + i:04d}" for name in rows for i in range(n)]
    classes = getattr(G, "classes", None)
    recipes = [{"seed": seed + i, "truncation": truncation, "truncation_cutoff": truncation_cutoff,
                "class": row if row is not None else (classes[(seed + i) % len(classes)] if classes else None)}
               for row in rows for i in range(n)]
    if from_w is not None:
        ws = style.load_ws(from_w, G)
        outputs, stems = G.synthesize(ws), [f"w{i:04d}" for i in range(ws.shape[0])]
        recipes = [{"from_w": Path(from_w).name, "index": i, "space": "w"} for i in range(ws.shape[0])]
    elif truncation_cutoff is not None or save_w is not None:
        ws = torch.cat([G.ws(n, seed, truncation, truncation_cutoff, row) for row in rows])
        outputs = G.synthesize(ws)
        if save_w is not None:
            style.save_ws(save_w, ws, G, seeds=range(seed, seed + n), truncation=truncation,
                          truncation_cutoff=truncation_cutoff)
            print(f"wrote {save_w}")
    else:
        outputs = torch.cat([G.sample(n, seed=seed, truncation=truncation, label=row) for row in rows])
    if assets.palette is not None or assets.pixel_scale != 1:
        # pixel art keeps its exact palette and its hard pixel edges: a watermark would add colours and blur
        # the blocks, so these outputs carry the signed manifest only (and it says why)
        pub.watermark = False
        pub.unmarked_because = "pixel art (--palette, --pixel-scale): a watermark would add colours"
    if assets.wanted:
        outputs = assets.apply(G, pub, outputs, stems, recipes, out_dir or Path(f"tiles-seed{seed}"))
        for r in recipes:
            r.update(assets.recipe())
    if scale != 1:          # watermarked at the enlarged size, like any picture (the Publisher, below)
        from ganvas.domains.image import upscale

        outputs = G.domain.to_tensor(upscale(G.domain.to_array(outputs), scale, filter_name or "lanczos"),
                                     outputs.device)
        for r in recipes:
            r.update(scale=scale, filter=filter_name or "lanczos")
    if grid is None and out_dir is None and sheet is None:
        grid = Path(f"samples-seed{seed}.png" if from_w is None else f"samples-{Path(from_w).stem}.png")
    if out_dir is not None:
        from ganvas.publish.publisher import report

        print(report(pub.save(outputs, out_dir, stems, wanted, recipes), out_dir))
    if grid is not None:
        pub.save_picture(grid, G.domain.preview(outputs, nrow=n if grid_by_class else None),
                         {"grid": recipes}, outputs)
        print(f"wrote {grid}" + (f": one row per class ({', '.join(rows)})" if grid_by_class else ""))


def check_scale(scale: int, filter_name: str | None, other_layouts: bool) -> None:
    """--scale and --filter, checked before a model is loaded: one line naming the option."""
    from ganvas.domains.image import MAX_UPSCALE
    from ganvas.errors import GanvasError

    if not 1 <= scale <= MAX_UPSCALE:
        raise GanvasError(f"--scale must be a whole number from 1 to {MAX_UPSCALE}, got {scale}")
    if filter_name is not None and scale == 1:
        raise GanvasError("--filter chooses how --scale enlarges the outputs: add --scale N (e.g. --scale 4)")
    if scale != 1 and other_layouts:
        raise GanvasError("--scale enlarges --grid and --out-dir outputs; it cannot be combined with --style-mix, "
                          "--tile-preview, --palette, --pixel-scale or --sheet (pixel art: --pixel-scale K keeps exact "
                          "blocks, without a watermark)")


def slug(name: str) -> str:
    """A class name as part of a file name: "Smileys & Emotion" → "smileys-emotion"."""
    return "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split()) or "class"


def style_mix_grid(G, pub, spec, layers, truncation, cutoff, grid, out_dir) -> None:
    from ganvas import style

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

        from ganvas.publish.publisher import report

        recipes = [{"style_mix": {"row_seed": r, "column_seed": c, "layers": list(idx)}, "truncation": truncation,
                    "truncation_cutoff": cutoff} for r, c in cells]
        written = pub.save(torch.stack(mixed), out_dir, [f"mix-row{r}-col{c}" for r, c in cells], None, recipes)
        print(report(written, out_dir))
    if grid is None and out_dir is None:
        grid = Path(f"style-mix-{spec[0]}-{spec[1]}.png".replace(",", "_"))
    if grid is not None:
        pub.save_picture(grid, G.domain.preview(images, nrow=nrow),
                         {"style_mix": {"rows": spec[0], "columns": spec[1], "layers": list(idx)},
                          "truncation": truncation, "truncation_cutoff": cutoff})
        span = ",".join(map(str, idx))
        print(f"wrote {grid}: rows = seeds {spec[0]}, columns = seeds {spec[1]}, layers {span} from the columns")


class AssetOptions:
    """--tile-preview, --palette, --pixel-scale and --sheet: outputs made into game and textile assets."""

    def __init__(self, tile_preview: bool, palette: int | str | None, colours: int, pixel_scale: int,
                 sheet: Path | None) -> None:
        self.tile_preview, self.palette, self.colours = tile_preview, palette, colours
        self.pixel_scale, self.sheet = pixel_scale, sheet

    @property
    def wanted(self) -> bool:
        return self.tile_preview or self.palette is not None or self.pixel_scale != 1 or self.sheet is not None

    @classmethod
    def check(cls, tile_preview: bool, palette: str | None, colours: int, pixel_scale: int,
              sheet: Path | None) -> AssetOptions:
        """The options, checked before a model is loaded: each bad value is a one-line error naming its option."""
        from ganvas.data.dataset import is_builtin
        from ganvas.data.palette import MAX_COLOURS, MIN_COLOURS, check_colours
        from ganvas.domains.pixelart import MAX_SCALE
        from ganvas.errors import GanvasError

        if not 1 <= pixel_scale <= MAX_SCALE:
            raise GanvasError(f"--pixel-scale must be a whole number from 1 to {MAX_SCALE}, got {pixel_scale}")
        check_colours(colours, "--colours")
        choice: int | str | None = None
        if palette is not None:
            text = palette.strip()
            if text.lstrip("+-").isdigit():
                choice = check_colours(int(text), "--palette N (a number of colours)")
            elif is_builtin(text) or Path(text).expanduser().is_dir():
                choice = text
            else:
                raise GanvasError(f"--palette expects a built-in dataset (`ganvas data list`), a folder of images "
                                  f"or a number of colours from {MIN_COLOURS} to {MAX_COLOURS}, got {palette!r}")
        if sheet is not None and Path(sheet).suffix.lower() != ".png":
            raise GanvasError(f"--sheet writes a PNG file: give a name ending in .png, got '{sheet}'")
        return cls(tile_preview, choice, colours, pixel_scale, sheet)

    def recipe(self) -> dict:
        """What the asset options changed, for each output's record."""
        return {k: v for k, v in {"palette": self.palette, "colours": self.colours if self.palette else None,
                                   "pixel_scale": self.pixel_scale if self.pixel_scale != 1 else None}.items()
                if v is not None}

    def apply(self, G: Generator, pub: Any, outputs: torch.Tensor, stems: list[str], recipes: list[dict],
              tiles_dir: Path) -> torch.Tensor:
        """The outputs quantised and upscaled as asked, with the tilings, seam scores and sheet written."""
        from ganvas.errors import GanvasError

        if G.domain.name != "image":
            raise GanvasError(f"--tile-preview, --palette, --pixel-scale and --sheet work on images; this model "
                              f"makes {G.domain.name}")
        if self.tile_preview:
            report_seams(G, outputs)
        if self.palette is not None or self.pixel_scale != 1:
            from ganvas.data.palette import quantise
            from ganvas.domains.pixelart import pixel_repeat

            arrays = G.domain.to_array(outputs)
            if self.palette is not None:
                arrays = quantise(arrays, self.fit_palette(G, arrays))
            outputs = G.domain.to_tensor(pixel_repeat(arrays, self.pixel_scale), outputs.device)
        arrays = G.domain.to_array(outputs)
        if self.tile_preview:
            from PIL import Image

            from ganvas.eval.seams import tile_3x3

            for image, stem, recipe in zip(arrays, stems, recipes, strict=True):
                pub.save_picture(tiles_dir / f"{stem}-3x3.png", Image.fromarray(tile_3x3(image).squeeze()),
                                 {**recipe, **self.recipe(), "tiled": "3x3"})
            print(f"wrote {len(stems)} 3×3 tilings to {tiles_dir}")
        if self.sheet is not None:
            from ganvas.domains.pixelart import sprite_sheet
            from ganvas.files import write_json

            picture, boxes_json = sprite_sheet(arrays, stems)
            boxes_json["meta"]["image"] = Path(self.sheet).name
            pub.save_picture(self.sheet, picture, {"sheet": recipes, **self.recipe()})
            boxes = Path(self.sheet).with_suffix(".json")
            write_json(boxes, boxes_json)
            print(f"wrote {self.sheet} ({len(stems)} frames; boxes in {boxes})")
        return outputs

    def fit_palette(self, G: Generator, arrays: np.ndarray) -> np.ndarray:
        """The palette asked for: N colours of the outputs themselves, or a dataset's (cached)."""
        from ganvas.data.palette import median_cut

        if isinstance(self.palette, int):
            palette = median_cut(arrays, self.palette)
            print(f"palette: {len(palette)} colours fitted to the outputs")
            return palette
        from ganvas.data import DATASETS, data_home
        from ganvas.data.dataset import is_builtin, load_dataset, split_spec
        from ganvas.data.palette import dataset_palette
        from ganvas.errors import GanvasError

        side = G.model.spec.shape[-1]
        res = DATASETS.get(split_spec(self.palette)[0]).native_size if is_builtin(self.palette) else side
        ds = load_dataset(self.palette, res, fit=G.meta.get("config", {}).get("fit", "crop"), progress=False)
        if ds.domain != "image":
            raise GanvasError(f"--palette {self.palette}: a palette needs an image dataset; it holds {ds.domain}")
        images = ds.arrays[ds.sample_key]
        if images.shape[-1] != arrays.shape[-1]:
            raise GanvasError(f"--palette {self.palette}: its images have {images.shape[-1]} channels, the "
                              f"outputs {arrays.shape[-1]}")
        palette = dataset_palette(images, ds.fingerprint, self.colours, data_home() / "palettes")
        print(f"palette: {len(palette)} colours of {self.palette}")
        return palette


def report_seams(G: Generator, outputs: torch.Tensor) -> None:
    """Print the seam score of the outputs, and of (up to 256 of) the training images when they are at hand."""
    import numpy as np

    from ganvas.data.dataset import builtin_root, is_builtin, load_dataset, split_spec
    from ganvas.errors import GanvasError
    from ganvas.eval.seams import seam_score, seam_score_hwc

    line = f"seam score (about 1: seamless; well above 1: a visible seam): outputs {seam_score(outputs):.2f}"
    cfg = G.meta.get("config", {})
    data = cfg.get("data", "")
    if is_builtin(data) and not (builtin_root(split_spec(data)[0]) / "card.json").exists():
        print(f"{line}; training images not built (ganvas data build {split_spec(data)[0]})")
        return
    try:
        ds = load_dataset(data, G.model.spec.shape[-1], fit=cfg.get("fit", "crop"), progress=False)
        images = ds.arrays[ds.sample_key]
    except (GanvasError, OSError, KeyError) as exc:
        print(f"{line}; training images not at hand ({exc})")
        return
    pick = images[np.linspace(0, len(images) - 1, min(256, len(images))).astype(int)]
    print(f"{line}; training images {seam_score_hwc(pick):.2f} ({len(pick)} of {len(images)} from {data})")
