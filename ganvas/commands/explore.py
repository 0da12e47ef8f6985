"""`ganvas explore`: interpolation, GANSpace directions, unit dissection, breeding, projection and rendering
recipes."""

from __future__ import annotations

from pathlib import Path

import click

from ganvas.commands import FullHelpGroup, PathArg, make_publisher, publish_options

common_truncation = click.option("--truncation", type=float, help="ψ in [0, 1]: 1 = none, 0 = the average")


@click.group(cls=FullHelpGroup)
def explore() -> None:
    """Move through a trained model's latent space (the studio's tools, on the command line)."""


def _load(checkpoint: Path, device: str):
    from ganvas.accel import pick_device
    from ganvas.api import Generator, load
    from ganvas.errors import GanvasError

    G = load(checkpoint, pick_device(device))
    if not isinstance(G, Generator):
        raise GanvasError(f"{checkpoint} is a {G.name} translation model; `ganvas explore` needs a model that "
                          "generates from codes (use `ganvas translate`)")
    return G


def _end(G, text: str, what: str):
    """A seed number, or FILE / FILE#INDEX of a latent file, as a base code [1, …] in the edit space."""
    from ganvas.errors import GanvasError
    from ganvas.explore import latent as L

    if text.isdigit():
        return L.seed_codes(G, [int(text)])
    name, _, idx = text.partition("#")
    codes = _codes_file(G, Path(name))
    i = int(idx) if idx.isdigit() else 0
    if not 0 <= i < codes.shape[0]:
        raise GanvasError(f"{what} '{text}': the file holds codes 0-{codes.shape[0] - 1}")
    return codes[i:i + 1]


def _codes_file(G, path: Path):
    """Base codes [n, …] (edit space) of a latent file: a download's latent.safetensors, `breed --save`, .npy."""
    from ganvas.explore import latent as L
    from ganvas.explore.provenance import read_latent

    codes, meta = read_latent(path)
    space = meta.get("space") or L.edit_space(G)
    if codes.dim() == len(L.code_shape(G, space)):
        codes = codes[None]
    return L.to_space(G, L.from_batch(G, codes, space, f"codes in '{path}'"), space, L.edit_space(G))


def _save_outputs(G, pub, outputs, grid: Path | None, out_dir: Path | None, stems: list[str], default_grid: str,
                  recipes: list[dict], codes=None, formats: tuple[str, ...] | None = None) -> None:
    """Each output as its own file(s) in `out_dir` and/or all in one picture, published (see ganvas.publish)."""
    from ganvas.publish.publisher import report

    if out_dir is not None:
        print(report(pub.save(outputs, out_dir, stems, formats, recipes, codes), out_dir))
    if grid is None and out_dir is None:
        grid = Path(default_grid)
    if grid is not None:
        one = outputs.shape[0] == 1
        pub.save_picture(grid, G.domain.to_pil(outputs)[0] if one else
                         G.domain.preview(outputs, nrow=len(stems) if len(stems) <= 16 else None),
                         recipes[0] if one else {"grid": recipes}, outputs)
        print(f"wrote {grid}")


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.argument("a")
@click.argument("b")
@click.option("--steps", type=click.IntRange(2, 256), default=8, show_default=True, help="frames, both ends included")
@click.option("--space", type=click.Choice(["z", "w"]), help="where to move (default: w for style models, z "
              "otherwise; z needs seeds at both ends)")
@click.option("--method", type=click.Choice(["slerp", "lerp"]), help="default: slerp in z, lerp in w")
@common_truncation
@click.option("--strip", type=PathArg, help="the frames side by side (default interpolate-A-B.png)")
@click.option("--animation", type=PathArg, help="an animated .gif or .webp of the frames (images only)")
@click.option("--fps", type=click.FloatRange(0.1, 60), default=12, show_default=True)
@click.option("--boomerang/--no-boomerang", default=True, show_default=True, help="animation plays there and back")
@click.option("--scale", type=click.IntRange(1, 16), default=1, show_default=True, help="animation pixel scale")
@click.option("--out-dir", type=PathArg, help="each frame as its own file(s); for music also morph.mid/.wav, "
              "the frames played one after another")
@click.option("--format", "formats", metavar="LIST", help="file formats for --out-dir, as the domain allows "
              "(images: png; music: midi,wav,png — the default is all of them)")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def interpolate(checkpoint, a, b, steps, space, method, truncation, strip, animation, fps, boomerang, scale,
                out_dir, formats, device, no_watermark, guard) -> None:
    """Frames from A to B: each a seed number or a latent file (FILE or FILE#INDEX)."""
    from ganvas import explore as X
    from ganvas.errors import GanvasError

    G = _load(checkpoint, device)
    pub = make_publisher(G, no_watermark, guard)
    wanted = G.domain.check_formats(tuple(f.strip().lower() for f in formats.split(",") if f.strip())
                                    if formats else None)
    ends = [int(t) if t.isdigit() else _end(G, t, what) for t, what in ((a, "A"), (b, "B"))]
    codes, frames = X.interpolate(G, ends[0], ends[1], steps, truncation, space, method)
    recipe = {"interpolate": {"a": a, "b": b, "steps": steps, "space": space, "method": method},
              "truncation": truncation}
    if animation is not None:
        if G.domain.name != "image":
            raise GanvasError(f"--animation makes a moving picture; '{G.name}' makes {G.domain.name}: use --out-dir "
                              "(music: morph.mid and morph.wav)")
        import io

        from ganvas.explore.interpolation import ANIMATION_FORMATS, animation_frames, write_animation

        fmt = Path(animation).suffix.lower().lstrip(".")
        if fmt not in ANIMATION_FORMATS:
            raise GanvasError(f"animation '{animation}' must end in .gif or .webp")
        record = pub.record({**recipe, "animation": {"fps": fps, "boomerang": boomerang, "scale": scale}})
        buf = io.BytesIO()
        write_animation(buf, pub.mark_frames(animation_frames(G.domain.to_pil(frames), boomerang, scale), record),
                        fmt, fps)
        pub.write_file(animation, buf.getvalue(), record, frames_marked=True)
        print(f"wrote {animation} (its signed manifest beside it: {Path(animation).name}.ganvas.json)")
    if out_dir is not None:
        from ganvas.publish.publisher import report

        recipes = [{**recipe, "frame": i} for i in range(steps)]
        print(report(pub.save(frames, out_dir, [f"frame{i:03d}" for i in range(steps)], wanted, recipes, codes),
                     out_dir, "frame files"))
        if G.domain.name == "music":
            _morph(G, pub, frames, Path(out_dir), tuple(f for f in wanted if f != "png") or ("midi",), recipe)
    if strip is not None or (animation is None and out_dir is None):
        strip = strip or Path(f"interpolate-{Path(a).stem}-{Path(b).stem}.png")
        pub.save_picture(strip, G.domain.preview(frames, nrow=steps), recipe, frames)
        print(f"wrote {strip}")


def _morph(G, pub, frames, out_dir: Path, formats: tuple[str, ...], recipe: dict) -> None:
    """Music frames one after another as one piece: phrase A turning into phrase B."""
    import numpy as np
    import torch

    rolls = G.domain.to_array(frames)
    whole = np.concatenate(list(rolls), axis=1)[None]
    x = G.domain.to_tensor(whole)
    x = torch.where(x > 0, x, torch.full_like(x, -1.0))
    done = pub.save(x, out_dir, ["morph"], formats, [{**recipe, "morph": True}])
    print(f"wrote {', '.join(str(p) for p in done[0].paths)}")


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--method", type=click.Choice(["w", "z", "activations"]), help="default: w for style models, "
              "activations (of an early layer) otherwise")
@click.option("--components", type=click.IntRange(1, 64), default=16, show_default=True, help="directions computed")
@click.option("--samples", type=click.IntRange(32, 200000), help="codes sampled (default 10000; activations 2000)")
@click.option("--layer", help="activations: G's layer (a module name, e.g. net.2)")
@click.option("--count", type=click.IntRange(1, 64), default=8, show_default=True, help="directions shown (rows)")
@click.option("--steps", type=click.IntRange(2, 31), default=7, show_default=True, help="columns per direction")
@click.option("--span", type=click.FloatRange(0, 20, min_open=True), default=2.0, show_default=True,
              help="columns run from −span·σ to +span·σ")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="the output moved")
@common_truncation
@click.option("--layers", help="style models: move only these style layers, e.g. 0-3 or 4- (default all)")
@click.option("--grid", type=PathArg, help="where to write the picture (default directions-METHOD.png)")
@click.option("--no-cache", is_flag=True, help="recompute even if the run folder has them")
@click.option("--describe", is_flag=True, help="name each direction by what moving along it measurably changes")
@click.option("--classes/--no-classes", default=True, show_default=True,
              help="--describe of labelled images: measure the domain classifier's class probabilities too "
                   "(trained once per dataset on first use)")
@click.option("--json", "json_path", type=PathArg, help="--describe: also write the names and effect sizes here")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def directions(checkpoint, method, components, samples, layer, count, steps, span, seed, truncation, layers, grid,
               no_cache, describe, classes, json_path, device, no_watermark, guard) -> None:
    """GANSpace: principal directions of CHECKPOINT's latent space, as a grid (−σ … +σ per row)."""
    from ganvas import explore as X
    from ganvas.errors import GanvasError
    from ganvas.explore import ganspace
    from ganvas.explore.recipe import _layers

    if json_path is not None and not describe:
        raise GanvasError("--json writes the directions' names: add --describe")
    G = _load(checkpoint, device)
    pub = make_publisher(G, no_watermark, guard)
    d = X.directions(G, method, components, samples, 0, layer, cache=not no_cache)
    where = f", layer {d.layer}" if d.layer else ""
    print(f"{len(d)} directions ({d.method}{where}, {d.n_samples} samples); cached in {ganspace.cache_dir(G)}")
    if describe:
        _describe(G, d, count, classes, not no_cache, json_path)
    else:
        for row in d.describe()[:count]:
            print(f"  {row['index']:2d}  σ = {row['sigma']:.4g}  variance share {100 * row['explained']:.2f}%")
    pic = ganspace.picture(G, d, count, steps, span, seed, truncation, _layers(layers, G))
    grid = grid or Path(f"directions-{d.method}.png")
    pub.save_picture(grid, pic, {"directions": {"method": d.method, "count": count, "steps": steps, "span": span,
                                                "layers": layers}, "seed": seed, "truncation": truncation})
    print(f"wrote {grid}: rows = directions 0-{min(count, len(d)) - 1}, "
          f"columns = −{span:g}σ … +{span:g}σ of seed {seed}")


def _describe(G, d, count: int, classes: bool, cache: bool, json_path: Path | None) -> None:
    """Each direction's name and largest effects (ganvas.explore.naming), as a table."""
    from ganvas.explore import naming

    cp, note = naming.classes_for(G, train=True) if classes else (None, "")
    named = naming.get(G, d, classes=cp, cache=cache, note=note)
    print(f"names from {named.seeds} seeds moved ±{named.amount:g}σ; effect = change per σ / spread over samples")
    for n in named.directions[:count]:
        effects = ", ".join(f"{a} {e:+.2f}" for a, e in n.top(3))
        print(f"  {n.index:2d}  {n.name:<36s} σ = {float(d.sigma[n.index]):.4g}  "
              f"variance {100 * float(d.explained[n.index]):.1f}%  ({effects})")
    if named.note:
        print(named.note)
    if json_path is not None:
        from ganvas.files import write_json

        write_json(json_path, {**named.to_json(), "checkpoint": str(G.path)})
        print(f"wrote {json_path}")


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--layer", help="G's layer whose units are dissected (default: a middle one; see --list-layers)")
@click.option("--list-layers", is_flag=True, help="list G's layers with units and stop")
@click.option("--concept", help="the concept whose top units are switched (default: the first class, else "
              "foreground)")
@click.option("--off", "off", type=click.IntRange(1, 4096), help="switch the concept's top K units off (default 8)")
@click.option("--up", "up", type=click.IntRange(1, 4096), help="switch the concept's top K units up instead")
@click.option("--amount", type=click.FloatRange(0, 20), help="--up: the factor (default 3)")
@click.option("--samples", type=click.IntRange(8, 4096), default=256, show_default=True,
              help="seeds the units are scored on")
@click.option("--effect-samples", type=click.IntRange(1, 4096), default=64, show_default=True,
              help="held-out seeds the switching is measured on")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=0, show_default=True,
              help="first seed the units are scored on")
@click.option("--top", type=click.IntRange(1, 64), default=8, show_default=True, help="units listed per concept")
@click.option("--no-classes", is_flag=True, help="score the foreground mask only (no domain classifier)")
@click.option("--grid", type=PathArg, help="the before/after picture (default dissect-CONCEPT.png): drawn; top "
              "units switched; random units switched")
@click.option("--json", "json_out", type=PathArg, help="also write the scores and the measured effect as JSON")
@click.option("--no-cache", is_flag=True, help="recompute even if the run folder has it")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def dissect(checkpoint, layer, list_layers, concept, off, up, amount, samples, effect_samples, seed, top,
            no_classes, grid, json_out, no_cache, device, no_watermark, guard) -> None:
    """Units of a layer of CHECKPOINT's G scored against concepts (the foreground, each class), and one
    concept's top units switched off (or up) on held-out seeds: a table and a before/after picture."""
    from ganvas.errors import GanvasError
    from ganvas.explore import dissect as DS
    from ganvas.explore import units as U
    from ganvas.files import write_json

    if off is not None and up is not None:
        raise GanvasError("give --off K or --up K, not both")
    if amount is not None and up is None:
        raise GanvasError("--amount is the factor of --up K; without --up the units are switched off")
    G = _load(checkpoint, device)
    if list_layers:
        default = U.default_layer(G)
        for info in U.layers(G):
            mark = "  (default)" if info.name == default else ""
            print(f"  {info.name:<24} {info.kind:<16} {info.units:>5} units  {info.height}×{info.width}{mark}")
        return
    mode, k = ("up", up) if up is not None else ("off", off or DS.TOP)
    d = DS.get(G, layer, samples, seed, classes=not no_classes, cache=not no_cache)
    print(DS.table(d, top))
    if d.info.get("classes_skipped"):
        print(f"no class concepts: {d.info['classes_skipped']}")
    names = list(d.concepts)
    concept = concept or (names[1] if len(names) > 1 else names[0])
    d.concept(concept)
    if k > d.units:
        raise GanvasError(f"--{mode} {k}: layer '{d.layer}' has {d.units} units")
    e = DS.effect(G, d, concept, k, mode, amount, effect_samples)
    print(DS.effect_table(e))
    pub = make_publisher(G, no_watermark, guard)
    grid = grid or Path(f"dissect-{''.join(c if c.isalnum() or c in '-_' else '_' for c in concept)}.png")
    edit = U.UnitEdit(d.layer, tuple(e.units), mode, amount).to_dict()
    outputs = DS.before_after(G, d, concept, k, mode, amount)
    pub.save_picture(grid, G.domain.preview(outputs, nrow=outputs.shape[0] // 3),
                     {"dissect": {"concept": concept, "k": k, "random_units": e.random_units,
                                  "seeds": [DS.EFFECT_SEED, DS.EFFECT_SEED + outputs.shape[0] // 3 - 1]},
                      "units": [edit]}, outputs)
    print(f"wrote {grid}: rows = as drawn; {concept}'s top {k} units {mode}; {k} random units {mode}")
    if json_out is not None:
        write_json(json_out, {"dissection": d.to_json(top), "effect": e.to_json()})
        print(f"wrote {json_out}")


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.argument("parents", nargs=-1, required=True)
@click.option("--pick", help="with one latent file as PARENTS: the codes to breed from, e.g. 0,3,5")
@click.option("--n", "count", type=click.IntRange(1, 64), default=8, show_default=True, help="children")
@click.option("--mutation", type=click.FloatRange(0, 4), default=0.3, show_default=True,
              help="Gaussian mutation, as a share of the codes' spread")
@click.option("--mode", type=click.Choice(["uniform", "layers"]), help="crossover: uniform mask, or per style layer "
              "(the default for style models)")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="fixes every random choice")
@common_truncation
@click.option("--save", type=PathArg, help="the children's codes (.safetensors): breed from them next with "
              "--pick (default children.safetensors)")
@click.option("--grid", type=PathArg, help="the children side by side (default children.png)")
@click.option("--out-dir", type=PathArg, help="each child as its own file(s)")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def breed(checkpoint, parents, pick, count, mutation, mode, seed, truncation, save, grid, out_dir, device,
          no_watermark, guard) -> None:
    """Children of PARENTS (seed numbers or latent files) by crossover and mutation; pick, breed again."""
    import torch

    from ganvas.errors import GanvasError
    from ganvas.explore import breeding
    from ganvas.explore import latent as L
    from ganvas.explore.provenance import save_latent
    from ganvas.style import parse_int_list

    G = _load(checkpoint, device)
    pub = make_publisher(G, no_watermark, guard)
    codes = []
    for p in parents:
        if p.isdigit():
            codes.append(L.seed_codes(G, [int(p)]))
        else:
            codes.append(_codes_file(G, Path(p)))
    parent_codes = torch.cat(codes)
    if pick is not None:
        idx = parse_int_list(pick, "--pick")
        bad = [i for i in idx if i >= parent_codes.shape[0]]
        if bad:
            raise GanvasError(f"--pick {pick}: there are codes 0-{parent_codes.shape[0] - 1} only")
        parent_codes = parent_codes[idx]
    children = breeding.breed(G, parent_codes, count, mutation, mode, seed)
    outputs = L.draw(G, L.truncate(G, children, truncation))
    save = save or Path("children.safetensors")
    save_latent(save, children, L.edit_space(G), {"model": G.name, "checkpoint": str(G.path), "seed": seed,
                                                    "mode": mode or breeding.default_mode(G), "mutation": mutation,
                                                    "parents": list(parents), "pick": pick})
    print(f"wrote {save}: breed again with `ganvas explore breed {checkpoint} {save} --pick 0,3`")
    how = {"seed": seed, "mode": mode or breeding.default_mode(G), "mutation": mutation, "parents": list(parents),
           "pick": pick}
    recipes = [{"breed": {**how, "child": i}, "truncation": truncation, "space": L.edit_space(G)} for i in range(count)]
    _save_outputs(G, pub, outputs, grid, out_dir, [f"child{i:02d}" for i in range(count)], "children.png", recipes,
                  children)


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.argument("image", type=PathArg)
@click.option("--steps", type=click.IntRange(1, 2000), default=200, show_default=True)
@click.option("--space", type=click.Choice(["w", "w+", "z"]), help="default w for style models, z otherwise")
@click.option("--features", type=click.Choice(["random", "domain", "none"]), default="random", show_default=True,
              help="feature network of the loss (ganvas.eval's extractors; domain trains once on the run's data)")
@click.option("--feature-weight", type=click.FloatRange(0), default=1.0, show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), help="peak learning rate (default 0.1 in w, 0.05 in z)")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--out-dir", type=PathArg, default=Path("projection"), show_default=True,
              help="target.png, reconstruction.png, compare.png, latent.safetensors")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def project(checkpoint, image, steps, space, features, feature_weight, lr, seed, out_dir, device, no_watermark,
            guard) -> None:
    """Find the code whose output reproduces IMAGE (an image file)."""
    import torch
    from tqdm import tqdm

    from ganvas.data.imageprep import SkipFile, open_image
    from ganvas.errors import GanvasError
    from ganvas.explore import latent as L
    from ganvas.explore import projection
    from ganvas.explore.provenance import provenance, save_latent
    from ganvas.files import save_image, write_json

    if not Path(image).is_file():
        raise GanvasError(f"image '{image}' does not exist")
    G = _load(checkpoint, device)
    pub = make_publisher(G, no_watermark, guard)
    try:
        picture = open_image(Path(image))
    except SkipFile as exc:
        raise GanvasError(f"image '{image}' cannot be used: {exc}") from None
    space = space or projection.default_space(G)
    projection.check(G, steps, space, features)                  # before the progress bar starts
    with tqdm(total=steps, desc="projecting", unit="step", leave=False) as bar:
        def progress(step, loss, _current):
            bar.update(1)
            bar.set_postfix_str(f"loss {loss:.4f}", refresh=False)

        p = projection.project(G, picture, steps, space, features, feature_weight, lr, seed, callback=progress)
    out_dir = Path(out_dir)
    recipe = {"latent": L.compact(G, p.code[0]), "space": L.edit_space(G), "truncation": 1.0, "edits": []}
    recipe["projection"] = {"image": Path(image).name, "steps": p.steps, "space": p.space, "features": p.features,
                            "pixel_error": round(p.pixel_error, 5), "loss": round(p.losses[-1], 6)}
    record = provenance(G, recipe, p.code)
    record["projection"] = recipe["projection"]
    pics = G.domain.to_pil(torch.cat([p.target, p.output]))
    save_image(out_dir / "target.png", pics[0])
    pub.save_picture(out_dir / "reconstruction.png", pics[1], recipe, p.output)
    pub.save_picture(out_dir / "compare.png", G.domain.preview(torch.cat([p.target, p.output]), nrow=2),
                     {**recipe, "picture": "target beside reconstruction"})
    save_latent(out_dir / "latent.safetensors", p.code, L.edit_space(G), {"provenance": record})
    write_json(out_dir / "provenance.json", record)
    print(f"projected in {p.steps} steps ({p.space}, {p.features} features): mean pixel error {p.pixel_error:.4f} "
          f"(intensities in [0, 1]); wrote {out_dir}/reconstruction.png, compare.png, latent.safetensors")


@explore.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="the output of this seed …")
@click.option("--latent", type=PathArg, help="… or of the codes in this file (a download's latent.safetensors "
              "brings its recipe: truncation and edits)")
@common_truncation
@click.option("--truncation-cutoff", type=click.IntRange(1), help="style models: truncate the first N layers only")
@click.option("--edit", "edits", multiple=True, metavar="K:AMOUNT[:LAYERS]",
              help="move AMOUNT σ along direction K (on style LAYERS, e.g. 0-3); repeatable")
@click.option("--method", type=click.Choice(["w", "z", "activations"]), help="the directions --edit refers to")
@click.option("--units", "unit_edits", multiple=True, metavar="[LAYER:]U,U…[:off|up[:AMOUNT]]",
              help="switch units of G's LAYER (default: the dissected middle one) off or up, e.g. 3,17 or "
                   "net.5:3,17:up:2; repeatable (see `ganvas explore dissect`)")
@click.option("--out", type=PathArg, help="a grid picture (default render.png)")
@click.option("--out-dir", type=PathArg, help="each output as its own file(s) (music: midi, wav, png)")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def render(checkpoint, seed, latent, truncation, truncation_cutoff, edits, method, unit_edits, out, out_dir, device,
           no_watermark, guard) -> None:
    """Draw a recipe: a seed or latent file, truncation, direction and unit edits (what the studio downloads)."""
    import torch

    from ganvas.errors import GanvasError
    from ganvas.explore import latent as L
    from ganvas.explore.provenance import read_latent
    from ganvas.explore.recipe import Recipe

    if (seed is None) == (latent is None):
        raise GanvasError("give --seed or --latent (one of them)")
    G = _load(checkpoint, device)
    pub = make_publisher(G, no_watermark, guard)
    stored: dict = {}
    if latent is not None:
        _, meta = read_latent(latent)
        stored = meta.get("provenance", {}).get("recipe", {}) or {}
        base = _codes_file(G, Path(latent))
    else:
        base = L.seed_codes(G, [seed])
    fields = {"seed": 0, "truncation": stored.get("truncation"), "truncation_cutoff": stored.get("truncation_cutoff"),
              "edits": stored.get("edits") or [], "directions": stored.get("directions"),
              "units": stored.get("units") or None}
    if truncation is not None:
        fields["truncation"], fields["truncation_cutoff"] = truncation, truncation_cutoff
    if edits:
        fields["edits"] = [_edit(e) for e in edits]
        fields["directions"] = {"method": method} if method else None
    if unit_edits:
        fields["units"] = [_unit_edit(u) for u in unit_edits]
    recipe = Recipe.from_dict({k: v for k, v in fields.items() if v is not None}, G)
    dirs = recipe.directions.get(G) if recipe.edits else None
    final = torch.cat([recipe.final(G, base[i:i + 1], dirs) for i in range(base.shape[0])])
    outputs = recipe.draw(G, final)
    stems = [f"seed{seed}" if seed is not None else f"{Path(latent).stem}-{i:02d}" for i in range(base.shape[0])]
    if dirs is not None:
        print(f"edits along {dirs.method} directions: {', '.join(edits) or 'from the file'}")
    drawn = {k: v for k, v in recipe.to_dict(G, dirs, latent=False).items() if k != "seed"}
    recipes = [{**drawn, **({"seed": seed} if seed is not None else {"latent_file": Path(latent).name,
                                                                                 "index": i})}
               for i in range(base.shape[0])]
    _save_outputs(G, pub, outputs, out, out_dir, stems, "render.png", recipes, final)


def _unit_edit(text: str) -> dict:
    """--units [LAYER:]U,U…[:off|up[:AMOUNT]] as a recipe's unit edit."""
    from ganvas.errors import GanvasError

    parts = text.split(":")
    out: dict = {}
    if parts and not all(p.strip().isdigit() for p in parts[0].split(",")):
        out["layer"] = parts.pop(0)
    try:
        out["units"] = [int(u) for u in parts[0].split(",")]
        if len(parts) > 1:
            out["mode"] = parts[1]
        if len(parts) > 2:
            out["amount"] = float(parts[2])
        if len(parts) > 3:
            raise ValueError
    except (ValueError, IndexError):
        raise GanvasError(f"--units {text!r}: expected [LAYER:]U,U…[:off|up[:AMOUNT]], e.g. 3,17 or "
                          "net.5:3,17:up:2") from None
    return out


def _edit(text: str) -> dict:
    from ganvas.errors import GanvasError

    parts = text.split(":")
    try:
        out = {"index": int(parts[0]), "amount": float(parts[1])}
    except (ValueError, IndexError):
        raise GanvasError(f"--edit {text!r}: expected K:AMOUNT or K:AMOUNT:LAYERS, e.g. 0:1.5 or 3:-2:0-3") from None
    if len(parts) > 2:
        out["layers"] = ":".join(parts[2:])
    return out


from ganvas.commands.explore_why import why  # noqa: E402 -- its own file: `ganvas explore why`

explore.add_command(why)
