"""`ganvas translate`: pictures, a typed line of text, or the held-out set through a translation model."""

from __future__ import annotations

import math
from pathlib import Path

import click

from ganvas.commands import PathArg, make_publisher, publish_options

TEXT_PER_LINE = 16         # glyphs per line of a --text strip before it wraps


@click.command()
@click.argument("checkpoint", type=PathArg)
@click.argument("inputs", nargs=-1, type=PathArg)
@click.option("--out-dir", type=PathArg, default=Path("translated"), show_default=True,
              help="where the translated files go")
@click.option("--direction", default="AtoB", show_default=True,
              help="AtoB | BtoA (cyclegan translates both ways, pix2pix A → B only)")
@click.option("--text", help="a line to draw in the source font and translate (models trained on fonts)")
@click.option("--font", help="font for --text: a cjk-fonts name (kai, ming, zenhei, sans, serif) or a font file; "
                             "default: the font the model learned from")
@click.option("--sheet", type=PathArg, help="with INPUT files: also write every input beside its output here")
@click.option("--evaluate", is_flag=True,
              help="score the model on its held-out data: metrics.json, triptychs and translation.html in --out-dir")
@click.option("--count", type=click.IntRange(1, 1000), default=24, show_default=True,
              help="triptychs in each --evaluate picture")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto")
@publish_options
def translate(checkpoint, inputs, out_dir, direction, text, font, sheet, evaluate, count, device, no_watermark,
              guard) -> None:
    """Translate images (INPUT files or folders), a typed --text line, or --evaluate on held-out data."""
    from ganvas.accel import pick_device
    from ganvas.api import load
    from ganvas.errors import GanvasError
    from ganvas.translator import Translator

    modes = [m for m, on in (("INPUT", bool(inputs)), ("--text", text is not None), ("--evaluate", evaluate)) if on]
    if len(modes) != 1:
        raise GanvasError("give exactly one of: INPUT files or folders, --text TEXT, --evaluate"
                          + (f" (got {' and '.join(modes)})" if modes else ""))
    T = load(checkpoint, pick_device(device))
    if not isinstance(T, Translator):
        raise GanvasError(f"{checkpoint} is a {T.name} model, which generates from noise; `ganvas translate` needs "
                          "a translation model (pix2pix, cyclegan): use `ganvas sample` for this one")
    if font is not None and text is None:
        raise GanvasError("--font is for --text: it names the font the typed line is drawn in")
    if sheet is not None and not inputs:
        raise GanvasError("--sheet is for INPUT files: it shows each input beside its translation")
    T.generator(direction)                      # refuse a direction the model cannot translate, before any work
    pub = make_publisher(T, no_watermark, guard)
    if text is not None:
        _text(T, pub, text, font, direction, out_dir)
    elif evaluate:
        _evaluate(T, out_dir, count)
    else:
        _images(T, pub, inputs, direction, out_dir, sheet)


def _text(T, pub, text: str, font: str | None, direction: str, out_dir: Path) -> None:
    import numpy as np

    from ganvas.console import info
    from ganvas.domains.image import make_grid
    from ganvas.files import save_image

    glyphs, missing, blank = T.render_text(text, font, direction)
    out = glyphs.copy()
    todo = [i for i, b in enumerate(blank) if not b]
    out[todo] = T.domain.to_array(T.translate(T.domain.to_tensor(glyphs[todo], T.device), direction))
    per_line = min(TEXT_PER_LINE, len(glyphs))
    lines = math.ceil(len(glyphs) / per_line)
    pad = np.full((lines * per_line - len(glyphs), *glyphs.shape[1:]), 255, np.uint8)
    save_image(out_dir / "text-input.png", make_grid(np.concatenate([glyphs, pad]), nrow=per_line, pad=0))
    recipe = {"translate": {"text": text, "font": font, "direction": direction}}
    pub.save_picture(out_dir / "text.png", make_grid(np.concatenate([out, pad]), nrow=per_line, pad=0), recipe)
    if missing:
        info(f"the font lacks {len(missing)} of {len(glyphs)} characters ({''.join(dict.fromkeys(missing))}): "
             "left blank")
    print(f"wrote {out_dir / 'text.png'} ({T.describe(direction)}; the input as drawn: "
          f"{out_dir / 'text-input.png'})")


def _images(T, pub, inputs: tuple[Path, ...], direction: str, out_dir: Path, sheet: Path | None) -> None:
    import numpy as np

    from ganvas.console import skipped_summary
    from ganvas.data.folder import scan
    from ganvas.data.imageprep import IMAGE_SUFFIXES, SkipFile, open_image
    from ganvas.errors import GanvasError
    from ganvas.eval.translation import triptych_sheet
    from ganvas.publish.publisher import guard_note

    files: list[Path] = []
    skipped: dict[str, int] = {}
    seen = 0
    for p in inputs:
        if not p.exists():
            raise GanvasError(f"input '{p}' does not exist")
        for f in (scan(p) if p.is_dir() else [p]):
            seen += 1
            if f.suffix.lower() in IMAGE_SUFFIXES:
                files.append(f)
            else:
                skipped["not an image"] = skipped.get("not an image", 0) + 1
    used: set[str] = set()
    written, pairs_in, pairs_out, results = 0, [], [], []
    for start in range(0, len(files), 32):
        pictures, stems, recipes = [], [], []
        for f in files[start:start + 32]:
            try:
                pictures.append(open_image(f))
            except SkipFile as exc:
                skipped[exc.reason] = skipped.get(exc.reason, 0) + 1
                continue
            stem, n = f.stem, 1
            while stem in used:
                n += 1
                stem = f"{f.stem}-{n}"
            used.add(stem)
            stems.append(stem)
            recipes.append({"translate": {"input": f.name, "input_sha256": file_sha256(f), "direction": direction}})
        if not pictures:
            continue
        x = T.prepare(pictures)
        y = T.translate(x, direction)
        done = pub.save(y, out_dir, stems, None, recipes)
        results += done
        written += sum(not d.withheld for d in done)
        if sheet is not None:
            pairs_in.append(T.domain.to_array(x))
            pairs_out.append(T.domain.to_array(y))
    note = skipped_summary(skipped, seen, "the inputs")
    if not written:
        raise GanvasError("no usable input images" + (f" ({note})" if note else "")
                          + f"; expected {' '.join(IMAGE_SUFFIXES)} files or folders of them")
    if note:
        from ganvas.console import info

        info(note)
    print(f"wrote {written} translated images ({T.describe(direction)}) to {out_dir}, watermarked and signed"
          + guard_note(results))
    if sheet is not None:
        pub.save_picture(sheet, triptych_sheet([np.concatenate(pairs_in), np.concatenate(pairs_out)],
                                               ["input", "output"], per_row=6),
                         {"translate": {"sheet": [f.name for f in files], "direction": direction}})
        print(f"wrote {sheet}")


def file_sha256(path: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _evaluate(T, out_dir: Path, count: int) -> None:
    from ganvas.console import info
    from ganvas.eval.translation import evaluate, held_out_data
    from ganvas.files import save_image, write_json, write_text

    dataset, same = held_out_data(T)
    if not same:
        info(f"note: the data '{dataset.name}' has changed since this model was trained; scoring today's data")
    result = evaluate(T, dataset, sheet_count=count)
    result.metrics["data_unchanged"] = same
    for direction, picture in result.sheets.items():
        save_image(out_dir / f"triptychs-{direction}.png", picture)
    write_json(out_dir / "metrics.json", result.metrics)
    write_text(out_dir / "translation.html", "<!doctype html><meta charset=utf-8><title>ganvas translation</title>\n"
               + result.html + "\n")
    m = result.metrics
    print(f"{m['model']} step {m['step']} on {m['data']} ({m['split']} rows)")
    for direction, e in m["directions"].items():
        head = f"  {direction} {e['from']} → {e['to']}, {e['count']} images:"
        if "l1" in e:
            print(f"{head} L1 {e['l1']['model']:.4f} (input unchanged {e['l1']['input_unchanged']:.4f}), "
                  f"SSIM {e['ssim']['model']:.4f} (input unchanged {e['ssim']['input_unchanged']:.4f})")
            if "edges" in e:
                g = e["edges"]
                print(f"    edges vs the input drawing: Chamfer {g['model']['chamfer_px']:.2f} px, "
                      f"F {g['model']['f_score']:.3f} within {g['tolerance_px']:g} px (the true picture: "
                      f"{g['target']['chamfer_px']:.2f} px, F {g['target']['f_score']:.3f})")
        else:
            back = f", round-trip L1 {e['round_trip_l1']:.4f}" if "round_trip_l1" in e else ""
            print(f"{head} change from input L1 {e['change_l1']:.4f}{back}")
    print(f"wrote {out_dir / 'metrics.json'}, {out_dir / 'translation.html'} and triptychs-*.png")
