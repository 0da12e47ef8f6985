"""`ganvas explore why`: where the trained discriminator's verdict on each output (or real picture) comes from."""

from __future__ import annotations

from pathlib import Path

import click

from ganvas.commands import PathArg, RegistryChoice, make_publisher, publish_options
from ganvas.registry import ATTRIBUTIONS, Choices


@click.command()
@click.argument("checkpoint", type=PathArg)
@click.option("--seeds", help="outputs of these seeds, e.g. 0-7 or 1,4,9 (default 0-7 unless --images is given)")
@click.option("--images", "images", multiple=True, type=PathArg, metavar="FILE",
              help="real pictures (or .npy arrays of stored samples, e.g. piano-rolls) to judge as well; "
                   "repeatable. For a translation model: the pictures to translate, whose outputs are judged")
@click.option("--method", type=RegistryChoice(Choices(ATTRIBUTIONS)),
              help="how the map is made (default: patch for PatchGAN discriminators, integrated-gradients otherwise)")
@click.option("--steps", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="integrated-gradients steps (midpoint rule)")
@click.option("--truncation", type=float, help="ψ in [0, 1] of the seeds' outputs: 1 = none, 0 = the average")
@click.option("--label", help="conditional models: the class the outputs are made of and real pictures judged as")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default="AtoB", show_default=True,
              help="translation models: which way --images are translated")
@click.option("--sanity", is_flag=True, help="also run the model-randomisation sanity check (D re-initialised) "
              "on the first batch: sanity.json, sanity.png (sample, trained map, randomised map), the median "
              "rank correlation printed")
@click.option("--out", "out_dir", type=PathArg, default=Path("why"), show_default=True,
              help="folder: one picture per sample (the sample beside its map), sheet.png, why.json (D's scores)")
@click.option("--device", default="cpu", show_default=True)
@publish_options
def why(checkpoint, seeds, images, method, steps, truncation, label, direction, sanity, out_dir, device,
        no_watermark, guard) -> None:
    """Why fake? D's score of each sample and a map of where it comes from, drawn over the sample.

    Orange: pushes D towards "real"; blue: towards "fake". D's score is its logit (higher = more real)."""
    import numpy as np
    import torch

    from ganvas.accel import pick_device
    from ganvas.api import load
    from ganvas.errors import GanvasError
    from ganvas.explore import why as W
    from ganvas.explore import why_picture as P
    from ganvas.explore import why_sanity as S
    from ganvas.files import write_json
    from ganvas.style import parse_int_list

    model = load(checkpoint, pick_device(device))
    W.refuse_text(model)
    translates = not getattr(model.model, "has_latent", True)
    method = method or W.default_method(model)
    pub = make_publisher(model, no_watermark, guard)
    if translates:
        if seeds:
            raise GanvasError(f"'{model.name}' translates pictures and has no seeds; give --images to translate")
        if not images:
            raise GanvasError(f"'{model.name}' translates pictures: give --images FILE (the inputs to translate)")
        inputs = torch.cat([W.picture_tensor(model, p) for p in images])
        batches = [("output", W.explain_translations(model, inputs, direction, method, steps=steps,
                                                     labels=[f"{Path(p).name} → {direction}" for p in images]))]
    else:
        batches = []
        if seeds or not images:
            chosen = parse_int_list(seeds or "0-7", "--seeds")
            if len(chosen) > 256:
                raise GanvasError(f"--seeds {seeds}: at most 256 seeds at a time, got {len(chosen)}")
            batches.append(("output", W.explain_seeds(model, chosen, method, truncation=truncation, label=label,
                                                      steps=steps)))
        if images:
            x = W.from_files(model, images)
            names = [Path(p).name for p in images]
            labels = names if len(names) == x.shape[0] else [f"{names[0]}#{i}" for i in range(x.shape[0])]
            cond = model.model.condition_for([0] * x.shape[0], label) if label is not None else None
            batches.append(("real", W.explain(model, x, method, condition=cond, steps=steps, labels=labels)))
    out_dir = Path(out_dir)
    record = {"method": method, "steps": steps, "truncation": truncation, "label": label}
    written, summary = [], []
    for kind, maps in batches:
        for i, name in enumerate(maps.labels):
            base = name.replace(" ", "") if kind == "output" else f"real-{Path(name.split('#')[0]).stem}" + (
                f"-{name.split('#')[1]}" if "#" in name else "")
            stem = "why-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in base)[:80]
            outputs = maps.samples[i:i + 1] if kind == "output" else None
            pub.save_picture(out_dir / f"{stem}.png", P.panel(model, maps, i),
                             {"why": {**record, "sample": name, "kind": kind, "score": float(maps.scores[i])}},
                             outputs)
            written.append(stem)
        summary.append({"kind": kind, **maps.to_json()})
    all_maps = [m for _, m in batches]
    for kind, maps in batches:
        pub.save_picture(out_dir / f"sheet-{kind}.png", P.sheet(model, maps), {"why": {**record, "sheet": kind}})
    result = {"model": model.name, "checkpoint": str(model.path), "batches": summary}
    if sanity:
        first = all_maps[0]
        cond = (W.condition_for_seeds(model, parse_int_list(seeds or "0-7", "--seeds"), label)
                if batches[0][0] == "output" and not translates else None)
        context = inputs if translates and model.model.data_layout == "paired" else None
        sc = S.sanity_check(model, first.samples, method, condition=cond, context=context, direction=direction,
                            steps=steps)
        top, rnd = S.deletion(model, sc.trained, 0.05, condition=cond, context=context, direction=direction)
        result["sanity"] = {**sc.to_json(), "deletion": {
            "what": "D's logit drop when the 5% of cells the map ranks most towards real are set to the baseline, "
                    "against as many random cells", "median_drop_map": round(float(np.median(top)), 4),
            "median_drop_random": round(float(np.median(rnd)), 4)}}
        write_json(out_dir / "sanity.json", result["sanity"])
        pub.save_picture(out_dir / "sanity.png", P.sanity_picture(model, sc.trained, sc.random),
                         {"why": {**record, "sanity": {"median_rho": round(sc.median, 4), "seed": sc.seed}}})
        print(f"sanity check (D re-initialised): median Spearman ρ of |map| = {sc.median:.3f} over {len(sc.rho)} "
              f"samples: {'passed' if sc.passed else 'failed'} (below {S.SANITY_BOUND:g}, the maps depend on what D "
              "learnt)")
    write_json(out_dir / "why.json", result)
    for kind, maps in batches:
        worst, best = int(maps.scores.argmin()), int(maps.scores.argmax())
        print(f"{kind}: D's logit {maps.scores.min():+.2f} ({maps.labels[worst]}) … {maps.scores.max():+.2f} "
              f"({maps.labels[best]}), mean {maps.scores.mean():+.2f}")
    print(f"wrote {len(written)} maps, {len(batches)} sheet(s) and why.json to {out_dir} ({method})")
