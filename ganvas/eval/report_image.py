"""The image domain's part of the report: a sample grid, the distance-ratio histogram, and each
generated image beside its nearest training images (red when it looks copied), the least and the
most novel samples."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ganvas.domains.image import make_grid
from ganvas.eval.novelty import MEMORIZED_RATIO
from ganvas.eval.report import Section, esc, png_data_uri

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation

SHOW = 64           # pixels per thumbnail on the page (small images are enlarged without smoothing)


def _img(a: np.ndarray, cls: str = "", title: str = "") -> str:
    side = max(SHOW, a.shape[0])
    return (f"<img class='px {cls}' width='{side}' height='{side}' title='{esc(title)}' "
            f"src='{png_data_uri(Image.fromarray(a))}'>")


def typical_distance(ev: Evaluation, limit: int = 500) -> float:
    """How far a new real image sits from its nearest training image (the median, over up to `limit` held-out
    images, else training images against the others): a generated sample's neighbour is worth showing only
    when it is closer than that, otherwise the "neighbour" is just the least unlike of many unlike images."""
    from ganvas.eval.neighbours import nearest

    ref = ev.reference
    train = ref.features[ref.train_idx]
    rng = np.random.default_rng(ref.seed)
    if len(ref.heldout_idx):
        pick = ref.heldout_idx[rng.permutation(len(ref.heldout_idx))[:limit]]
        return float(np.median(nearest(ref.features[pick], train, k=1)[0][:, 0]))
    pick = rng.permutation(len(train))[:limit]
    return float(np.median(nearest(train[pick], train, k=2)[0][:, 1]))     # the first is the image itself


def _neighbour_row(ev: Evaluation, i: int, neighbours: bool = True) -> str:
    d, idx, ratio = ev.details["nn_distances"][i], ev.details["nn_indices"][i], ev.details["nn_ratio"][i]
    train_x = ev.reference.dataset.arrays["x"]
    train_idx = ev.reference.train_idx
    seed = ev.metrics["generator"]["seeds"][0] + i
    memorized = ratio < MEMORIZED_RATIO
    cells = [f"<div class='cell'>{_img(ev.fake_images[i], 'flag' if memorized else 'fake', f'seed {seed}')}"
             f"<br>seed {seed}<br>{'<span class=mem>memorized</span>' if memorized else f'ratio {ratio:.2f}'}</div>"]
    for dist, j in zip(d if neighbours else [], idx, strict=False):
        cells.append(f"<div class='cell'>{_img(train_x[train_idx[j]], title=f'training image {train_idx[j]}')}"
                     f"<br>#{train_idx[j]}<br>d {dist:.3g}</div>")
    return "<div class='row'>" + "".join(cells) + "</div>"


def _histogram_svg(ratio: np.ndarray, bins: int = 30) -> str:
    counts, edges = np.histogram(np.clip(ratio, 0, 1), bins=bins, range=(0, 1))
    w, h, top = 600, 160, max(int(counts.max()), 1)
    bars = "".join(f"<rect x='{40 + i * (w - 50) / bins:.1f}' y='{h - 20 - c / top * (h - 40):.1f}' "
                   f"width='{(w - 50) / bins - 1:.1f}' height='{c / top * (h - 40):.1f}' "
                   f"fill='{'#d33' if edges[i + 1] <= MEMORIZED_RATIO + 1e-9 else '#6a9'}'/>"
                   for i, c in enumerate(counts))
    x_thr = 40 + MEMORIZED_RATIO * (w - 50)
    return (f"<svg width='{w}' height='{h}' font-size='11' font-family='sans-serif'>{bars}"
            f"<line x1='{x_thr:.1f}' x2='{x_thr:.1f}' y1='10' y2='{h - 20}' stroke='#d00' stroke-dasharray='4'/>"
            f"<text x='{x_thr + 4:.1f}' y='20' fill='#d00'>1/3: memorized below</text>"
            f"<text x='40' y='{h - 5}'>0</text><text x='{w - 20}' y='{h - 5}'>1</text>"
            f"<text x='{w / 2 - 60:.0f}' y='{h - 5}'>d(NN1) / d(NN2) to the training set</text>"
            f"<text x='2' y='20'>{top}</text></svg>")


def sections(ev: Evaluation) -> list[Section]:
    n = len(ev.fake_images)
    grid = make_grid(ev.fake_images[:64])
    scale = max(1, 512 // max(grid.size))
    grid = grid.resize((grid.width * scale, grid.height * scale), Image.Resampling.NEAREST)
    seeds = ev.metrics["generator"]["seeds"]
    out = [Section("Samples", f"<p>Seeds {seeds[0]}–{seeds[0] + min(n, 64) - 1} of the {n} evaluated.</p>"
                              f"<img class='px' src='{png_data_uri(grid)}'>")]
    if "control" in ev.metrics:
        out.append(control_section(ev))
    ratio = ev.details.get("nn_ratio")
    if ratio is None:
        return out
    near = ev.details["nn_distances"][:, 0]
    out.append(Section("How close to the training set", _histogram_svg(ratio) +
                       "<p class='small'>Each generated sample's distance to its nearest training image divided by "
                       "the distance to the second nearest. Near 1: the sample is as close to several training "
                       "images as to one (it combines what it learnt). Near 0: it sits on one training image.</p>"))
    flagged = np.flatnonzero(ratio < MEMORIZED_RATIO)
    order = flagged[np.argsort(ratio[flagged], kind="stable")][:24]
    body = ("<p>None: no generated sample sits on a single training image.</p>" if not len(flagged) else
            f"<p>{len(flagged)} of {n} samples (the {len(order)} closest shown), each beside its nearest training "
            "images with their feature distances.</p>" + "".join(_neighbour_row(ev, i) for i in order))
    out.append(Section("Memorized samples", body))
    typical = typical_distance(ev)
    close = np.flatnonzero(near < typical)
    least = close[np.argsort(near[close], kind="stable")][:8]
    body = (f"<p>{len(close)} of {n} samples are closer to a training image than a new real image typically is "
            f"(feature distance {typical:.3g}); the {len(least)} closest, each beside its three nearest training "
            "images (green frame; red when memorized).</p>" + "".join(_neighbour_row(ev, i) for i in least)
            if len(close) else
            f"<p>No sample is closer to a training image than a new real image typically is (feature distance "
            f"{typical:.3g}): their nearest training images would only be the least unlike of many, so none are "
            "shown.</p>")
    out.append(Section("Samples close to a training image", body))
    most = np.argsort(-near, kind="stable")[:8]
    out.append(Section("Most novel samples", "<p>Largest distance to any training image: new, or broken.</p>" +
                       "<div class='row'>" + "".join(_neighbour_row(ev, i, neighbours=False) for i in most) +
                       "</div>"))
    return out


def control_section(ev: Evaluation) -> Section:
    """Control accuracy beside the classifier's own on real images, per-class figures, the class × sample grid."""
    c = ev.metrics["control"]
    verdict = (f"<p>Asked for a class, the model makes something the dataset's own classifier puts in that class "
               f"<b>{c['control_accuracy']:.0%}</b> of the time (chance {c['chance']:.0%}); on its held-out real "
               f"images of the same classes the classifier is right {c['classifier_heldout_accuracy']:.0%} of the "
               f"time, so the model's classes are {c['control_ratio']:.0%} as recognisable as real ones. Both are "
               f"averaged per class first, so a small class counts as much as a large one. {c['n_per_class']} "
               "samples per class.</p>")
    fd = next((k for k in ("FD_domain", "FID", "FD_random") if any(k in r for r in c["classes"])), None)
    head = ("<tr><th>class</th><th>control accuracy</th><th>classifier on held-out reals</th><th>real images</th>"
            + (f"<th>{esc(fd)}</th><th>precision</th><th>recall</th>" if fd else "") + "</tr>")
    rows = []
    for r in c["classes"]:
        real = f"{r['real_accuracy']:.0%} of {r['n_heldout_real']}" if "real_accuracy" in r else "–"
        cells = [esc(r["class"]), f"{r['control_accuracy']:.0%}", real, str(r["n_real"])]
        if fd:
            cells += [f"{r[k]:.3g}" if k in r else "– (too few reals)" for k in (fd, "precision", "recall")]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    note = ("" if not c["unchecked_classes"] else
            f"<p class='small'>Not checked (not a class of the data's classifier): "
            f"{esc(', '.join(c['unchecked_classes']))}.</p>")
    grid = ""
    if "class_grid" in ev.details:
        picture = make_grid(ev.details["class_grid"], nrow=8)
        scale = max(1, 512 // max(picture.size))
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
        grid = (f"<p>One row per class ({esc(', '.join(r['class'] for r in c['classes']))}), the same eight seeds "
                f"in every row.</p><img class='px' src='{png_data_uri(picture)}'>")
    return Section("Control: does it make the class asked for?",
                   verdict + f"<table>{head}{''.join(rows)}</table>" + note + grid)
