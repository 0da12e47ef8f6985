"""How good a translation model is, on data it never trained on.

For paired data (the same character in two fonts) each output has a true target, so the output can
be scored against it pixel by pixel: mean absolute error (L1, on intensities in [0, 1]) and SSIM
(Wang, Bovik, Sheikh and Simoncelli 2004: 11×11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03),
next to the trivial baseline of returning the input unchanged; a model that does not beat that
baseline has learned nothing worth having. Pictures show input | output | target triptychs.
When the input side is a line drawing made from the target (the sketch sets, whose card records how
the lines were drawn), the output's edges are also compared with the drawing (`ganvas.eval.sketch`:
Chamfer distance and edge F-score, next to the true picture's own edges as the reference).

For unpaired data there is no target: the report shows input | output | round trip (F(G(a)))
triptychs and the round-trip L1, which says whether the translation keeps enough of its input to
be undone, not whether it looks like the other domain. How close the outputs come to the target
domain as a whole is a job for the distribution metrics (`outputs` gives the translated images).

Everything is computed on the uint8 images a user would get as files.
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganvas.domains.image import make_grid
from ganvas.errors import GanvasError
from ganvas.objectives.ssim import K1, SSIM_RADIUS, SSIM_SIGMA  # noqa: F401  (K1: re-exported)
from ganvas.objectives.ssim import ssim as structural_similarity


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, sigma: float = SSIM_SIGMA,
         radius: int = SSIM_RADIUS) -> torch.Tensor:
    """Mean SSIM of each image pair, in float64 (the shared definition: `ganvas.objectives.ssim`)."""
    return structural_similarity(x.to(torch.float64), y.to(torch.float64), data_range, sigma, radius)


def unit(images: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×C images as float64 N×C×H×W in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float64) / 255.0


def l1(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-image mean absolute difference of uint8 images, on intensities in [0, 1]."""
    return np.abs(x.astype(np.float64) - y.astype(np.float64)).reshape(len(x), -1).mean(1) / 255.0


def pick_rows(n_rows: int, n: int) -> np.ndarray:
    """`n` evenly spaced row indices of `n_rows` (all of them when there are fewer)."""
    if n_rows <= n:
        return np.arange(n_rows)
    return np.linspace(0, n_rows - 1, n).round().astype(int)


def triptych_sheet(columns: list[np.ndarray], labels: list[str], per_row: int = 4, gap: int = 10) -> Image.Image:
    """Triptychs (row i of each of the `columns` arrays side by side), `per_row` to a line, labelled on top."""
    n, side = len(columns[0]), columns[0].shape[2]
    per_row = max(1, min(per_row, n))
    tiles = [make_grid(np.stack([c[i] for c in columns]), nrow=len(columns), pad=1).convert("RGB") for i in range(n)]
    tw, th = tiles[0].size
    head = 13
    rows = math.ceil(n / per_row)
    sheet = Image.new("RGB", (per_row * tw + (per_row + 1) * gap, head + rows * (th + gap) + gap - 4), "white")
    draw = ImageDraw.Draw(sheet)
    for k, label in enumerate(labels):
        while len(label) > 1 and draw.textlength(label) > side - 2:      # shorten labels over small images
            label = label[:-1]
        for t in range(per_row):
            draw.text((gap + t * (tw + gap) + 1 + k * (side + 1) + 1, 2), label, fill=(90, 90, 90))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, per_row)
        sheet.paste(tile, (gap + c * (tw + gap), head + r * (th + gap)))
    return sheet


def png_data_uri(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class TranslationEval:
    """What `evaluate` found: numbers, pictures, and the translated images themselves."""

    metrics: dict[str, Any]                                            # JSON-able (metrics.json)
    sheets: dict[str, Image.Image] = field(default_factory=dict)        # direction -> triptych picture
    outputs: dict[str, np.ndarray] = field(default_factory=dict)        # direction -> translated uint8 images

    @property
    def html(self) -> str:
        return html_fragment(self)


def evaluate(translator: Any, dataset: Any, directions: list[str] | None = None, sheet_count: int = 24,
             batch_size: int = 64) -> TranslationEval:
    """Translate the held-out rows of `dataset` each way the model can and score them.

    `dataset` is the model's training data as loaded by `load_dataset` (``a``, ``b``, ``a_test``,
    ``b_test``); with no held-out rows (a user folder without testA/ and testB/) the training rows
    are used, and the metrics say so.
    """
    directions = directions or translator.directions
    held_out = len(dataset.arrays["a_test"]) > 0 and len(dataset.arrays["b_test"]) > 0
    suffix = "_test" if held_out else ""
    paired = dataset.layout == "paired"
    metrics: dict[str, Any] = {
        "model": translator.name, "checkpoint": str(translator.path),
        "step": int(translator.meta.get("progress", {}).get("step", 0)), "data": dataset.name,
        "split": "held-out" if held_out else "training (no held-out rows: add testA/ and testB/ folders)",
        "paired": paired, "directions": {},
    }
    result = TranslationEval(metrics)
    domain = translator.domain
    for direction in directions:
        src, dst = ("a", "b") if direction == "AtoB" else ("b", "a")
        inputs = dataset.arrays[src + suffix]
        if not len(inputs):
            raise GanvasError(f"no {src.upper()} images to evaluate {direction} on in '{dataset.name}'")
        x = domain.to_tensor(inputs, translator.device)
        out = domain.to_array(translator.translate(x, direction, batch_size=batch_size))
        result.outputs[direction] = out
        names = (translator.side(src.upper())["name"], translator.side(dst.upper())["name"])
        entry: dict[str, Any] = {"from": names[0], "to": names[1], "count": int(len(out))}
        rows = pick_rows(len(out), sheet_count)
        if paired:
            target = dataset.arrays[dst + suffix]
            entry["l1"] = {"model": float(l1(out, target).mean()), "input_unchanged": float(l1(inputs, target).mean())}
            entry["ssim"] = {"model": float(ssim(unit(out), unit(target)).mean()),
                             "input_unchanged": float(ssim(unit(inputs), unit(target)).mean())}
            lines = dataset.card.get("translation", {}).get(src, {}).get("lines")
            if lines:                   # a drawing made from the target: does the output follow its lines?
                from ganvas.eval.sketch import edge_agreement

                entry["edges"] = edge_agreement(inputs, out, target, lines["method"])
            result.sheets[direction] = triptych_sheet([inputs[rows], out[rows], target[rows]],
                                                      ["input", "output", "target"])
        else:
            back = "BtoA" if direction == "AtoB" else "AtoB"
            if back in translator.directions:
                round_trip = domain.to_array(translator.translate(domain.to_tensor(out, translator.device), back,
                                                                  batch_size=batch_size))
                entry["round_trip_l1"] = float(l1(round_trip, inputs).mean())
                columns, labels = [inputs[rows], out[rows], round_trip[rows]], ["input", "output", "back"]
            else:
                columns, labels = [inputs[rows], out[rows]], ["input", "output"]
            entry["change_l1"] = float(l1(out, inputs).mean())
            result.sheets[direction] = triptych_sheet(columns, labels)
        metrics["directions"][direction] = entry
    return result


def _num(v: float) -> str:
    return f"{v:.4f}" if math.isfinite(v) else "–"


def html_fragment(result: TranslationEval) -> str:
    """A self-contained HTML section (pictures embedded) for a report page."""
    m = result.metrics
    parts = [f'<section class="ganvas-translation"><h2>Translation: {html.escape(m["model"])}, step {m["step"]}</h2>',
             f"<p>Data <code>{html.escape(m['data'])}</code>, {html.escape(m['split'])} rows. "
             "Scores on uint8 outputs; L1 is the mean absolute difference of intensities in [0, 1].</p>"]
    for direction, e in m["directions"].items():
        title = f"{html.escape(e['from'])} → {html.escape(e['to'])} ({direction}), {e['count']} images"
        parts.append(f"<h3>{title}</h3>")
        if "l1" in e:
            parts.append("<table><tr><th></th><th>L1 ↓</th><th>SSIM ↑</th></tr>"
                         f"<tr><td>{html.escape(m['model'])}</td><td>{_num(e['l1']['model'])}</td>"
                         f"<td>{_num(e['ssim']['model'])}</td></tr>"
                         f"<tr><td>input unchanged (baseline)</td><td>{_num(e['l1']['input_unchanged'])}</td>"
                         f"<td>{_num(e['ssim']['input_unchanged'])}</td></tr></table>")
            if "edges" in e:
                g = e["edges"]
                parts.append(f"<p>Edge agreement with the input drawing ({html.escape(g['method'])} edges of the "
                             f"output; F-score within {g['tolerance_px']:g} px):</p>"
                             "<table><tr><th></th><th>Chamfer px ↓</th><th>edge F ↑</th></tr>"
                             f"<tr><td>{html.escape(m['model'])}</td><td>{_num(g['model']['chamfer_px'])}</td>"
                             f"<td>{_num(g['model']['f_score'])}</td></tr>"
                             f"<tr><td>the true picture (reference)</td><td>{_num(g['target']['chamfer_px'])}</td>"
                             f"<td>{_num(g['target']['f_score'])}</td></tr></table>")
            caption = "input | output | target"
        else:
            rows = [f"<tr><td>change from the input (L1)</td><td>{_num(e['change_l1'])}</td></tr>"]
            if "round_trip_l1" in e:
                rows.append(f"<tr><td>round trip back to the input (L1 ↓)</td><td>{_num(e['round_trip_l1'])}</td></tr>")
            parts.append("<table>" + "".join(rows) + "</table>")
            caption = "input | output | translated back" if "round_trip_l1" in e else "input | output"
        if direction in result.sheets:
            parts.append(f'<figure><img src="{png_data_uri(result.sheets[direction])}" alt="{html.escape(caption)}">'
                         f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</section>")
    return "\n".join(parts)


def held_out_data(translator: Any) -> tuple[Any, bool]:
    """The data `translator` was trained on, at its resolution, and whether it is unchanged since."""
    from ganvas.data.dataset import load_dataset

    cfg = translator.meta["config"]
    dataset = load_dataset(cfg["data"], translator.resolution, fit=cfg.get("fit", "crop"),
                           layout=translator.model.data_layout, exclude=cfg.get("exclude") or None)
    return dataset, dataset.fingerprint == translator.meta["dataset"]["fingerprint"]


def translation_report(checkpoint: Any, sheet_count: int = 24, device: str = "cpu") -> tuple[dict[str, Any], str]:
    """Metrics (a JSON-able dict) and an HTML section with the triptychs embedded, for a report page.

    `checkpoint` is a run folder, a checkpoint folder, or a loaded `Translator`.
    """
    from ganvas.api import load
    from ganvas.translator import Translator

    translator = checkpoint if isinstance(checkpoint, Translator) else load(checkpoint, device)
    if not isinstance(translator, Translator):
        raise GanvasError(f"{checkpoint} is a {translator.name} model, not a translation model (pix2pix, cyclegan)")
    dataset, same = held_out_data(translator)
    result = evaluate(translator, dataset, sheet_count=sheet_count)
    result.metrics["data_unchanged"] = same
    return result.metrics, result.html

