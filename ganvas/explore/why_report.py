"""The report's "Why fake?" section (``image.why``, ``music.why``): how the trained D judges the evaluated
samples, the worst- and best-judged ones with their maps, and the model-randomisation sanity check.

D judges the samples as stored (the uint8 pictures or piano-rolls the report shows), in eval mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from ganvas.errors import GanvasError
from ganvas.eval.report import Section, esc, png_data_uri
from ganvas.explore import why
from ganvas.explore import why_picture as P
from ganvas.explore import why_sanity as S

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation

SCORED = 256        # generated (and real) samples D scores for the ranking and the AUC
SHOWN = 4           # worst- and best-judged samples shown with their maps


def _conditions(ev: Evaluation, seeds: list[int]) -> torch.Tensor | None:
    """The class weights the evaluated samples were made with (the evaluation's labels, else seed mod K)."""
    from ganvas.eval.evaluate import matched_labels
    from ganvas.nets.conditional import one_hot

    G = ev.generator
    if not G.model.num_classes:
        return None
    labels = matched_labels(G, ev.reference)
    if labels is None:
        return G.model.condition_for(seeds)
    return one_hot(torch.as_tensor(labels[:len(seeds)]), G.model.num_classes)


def _real_labels(ev: Evaluation, idx: np.ndarray) -> torch.Tensor | None:
    from ganvas.nets.conditional import one_hot

    G = ev.generator
    y = ev.reference.dataset.arrays.get("y")
    if not G.model.num_classes or y is None:
        return None
    names = list(ev.reference.dataset.label_names)
    classes = list(G.classes)
    if any(n not in classes for n in names):      # data of other classes: D judges the reals without a class
        return None
    return one_hot(torch.as_tensor([classes.index(names[int(v)]) for v in y[idx]]), G.model.num_classes)


def _cascade_svg(sc: S.SanityCheck) -> str:
    """Median ρ after randomising D from the top layer down to each layer (bars), the bound dashed."""
    rows = [("trained", 1.0)] + [(f"down to {name}", r) for name, r in sc.cascade]
    w, bar, h = 560, 18, 24 + 20 * len(rows)
    parts = [f"<svg width='{w}' height='{h}' font-size='11' font-family='sans-serif'>"]
    x0, span = 150, w - 200
    for i, (name, r) in enumerate(rows):
        y = 10 + 20 * i
        v = max(0.0, min(1.0, r))
        parts.append(f"<text x='4' y='{y + 13}'>{esc(name)}</text><rect x='{x0}' y='{y}' width='{v * span:.1f}' "
                     f"height='{bar - 4}' fill='{'#999' if i == 0 else '#0072b2'}'/><text x='{x0 + v * span + 4:.1f}' "
                     f"y='{y + 13}'>{r:.2f}</text>")
    bound = x0 + S.SANITY_BOUND * span
    parts.append(f"<line x1='{bound:.1f}' x2='{bound:.1f}' y1='6' y2='{h - 4}' stroke='#d00' "
                 "stroke-dasharray='4'/></svg>")
    return "".join(parts)


def sections(ev: Evaluation) -> list[Section]:
    G = ev.generator
    if G is None or getattr(G.model, "D", None) is None:
        return []
    try:
        return [_section(ev)]
    except GanvasError as exc:
        return [Section("Why fake? The discriminator's view", f"<p class='note'>Not drawn: {esc(exc)}</p>")]
    except (RuntimeError, ValueError, IndexError) as exc:     # a section never takes the whole report down
        return [Section("Why fake? The discriminator's view",
                        f"<p class='note'>Not drawn: {esc(type(exc).__name__)}: {esc(exc)}</p>")]


def _section(ev: Evaluation) -> Section:
    G = ev.generator
    n = min(SCORED, len(ev.fake_images))
    first_seed = int(ev.metrics["generator"]["seeds"][0])
    seeds = list(range(first_seed, first_seed + n))
    fake = G.domain.to_tensor(ev.fake_images[:n], G.device)
    cond = _conditions(ev, seeds)
    scores = why.judge_scores(G, fake, cond)
    data_x = ev.reference.dataset.arrays["x"]
    real_idx = np.asarray(ev.reference.real_idx)[:n]
    real_scores = why.judge_scores(G, G.domain.to_tensor(data_x[real_idx], G.device), _real_labels(ev, real_idx))
    diff = real_scores[:, None] - scores[None, :]
    auc = float((diff > 0).mean() + 0.5 * (diff == 0).mean())
    order = np.argsort(scores, kind="stable")
    k = min(SHOWN, n // 2) or 1
    chosen = [int(i) for i in list(order[:k]) + list(order[::-1][:k])]
    method = why.default_method(G)
    sub_cond = None if cond is None else cond[chosen]
    labels = [f"seed {seeds[i]}" for i in chosen]
    maps = why.explain(G, fake[chosen], method, condition=sub_cond, labels=labels)
    worst = P.sheet(G, maps, list(range(k)), columns=2)
    best = P.sheet(G, maps, list(range(k, 2 * k)), columns=2)
    sc = S.sanity_check(G, fake[chosen], method, condition=sub_cond)
    intro = (f"<p>The trained discriminator D scored {n} generated samples and {len(real_scores)} real ones (its "
             f"logit; higher = more real-looking to D, in eval mode). Mean logit: real {real_scores.mean():+.2f}, "
             f"generated {scores.mean():+.2f}; D ranks a real sample above a generated one {auc:.0%} of the time "
             "(AUC). Each map shows where D's verdict comes from "
             f"({esc(method)}{'' if maps.baseline is None else f', baseline {maps.baseline:g}'}"
             f"{f', {maps.steps} steps' if method == 'integrated-gradients' else ''}): orange pushes towards "
             "“real”, blue towards “fake”.</p>")
    body = (intro + f"<h3>Judged most fake ({k})</h3><img class='px' src='{png_data_uri(worst)}'>"
            f"<h3>Judged most real ({k})</h3><img class='px' src='{png_data_uri(best)}'>")
    verdict = "pass" if sc.passed else "fail"
    drawn = P.sanity_picture(G, sc.trained, sc.random, list(range(min(3, len(chosen)))))
    top, rnd = S.deletion(G, maps, 0.05, condition=sub_cond)
    deletion_note = (f" Setting the 5% of cells each map ranks most “towards real” to the baseline lowers D's logit by "
                     f"{np.median(top):.2f} (median), as many random cells by {np.median(rnd):.2f}: the maps find "
                     "what D's verdict rests on." if np.median(top) > np.median(rnd) else
                     f" Setting the 5% of cells each map ranks most “towards real” to the baseline lowers D's logit by "
                     f"{np.median(top):.2f} (median), no more than as many random cells ({np.median(rnd):.2f}).")
    edge_note = ("" if not len(sc.rho_edges_trained) else
                 f" Rank correlation of |map| with the samples' edge strength (an edge detector's map would follow "
                 f"it): trained {np.median(sc.rho_edges_trained):+.2f}, randomised "
                 f"{np.median(sc.rho_edges_random):+.2f}.")
    body += (f"<h3>Sanity check: model randomisation</h3><p>D's weights re-initialised (all layers at once, the "
             f"model's own initialisation, seed {sc.seed}) and the maps of these {len(sc.rho)} samples recomputed "
             f"(Adebayo et al. 2018): the median Spearman rank correlation of |map| between trained and "
             f"randomised D is <b>{sc.median:.2f}</b> (range {sc.rho.min():.2f}–{sc.rho.max():.2f}); the maps "
             f"{verdict} the check (below {S.SANITY_BOUND:g}: they depend on what D learnt, not only on the "
             f"sample).{edge_note}{deletion_note}</p>"
             f"<p class='small'>Cascading from the top layer down (median ρ after each):</p>{_cascade_svg(sc)}"
             f"<p class='small'>Samples, their maps from the trained D and from the re-initialised D (ρ "
             f"{', '.join(f'{r:.2f}' for r in sc.rho[:3])}):</p><img class='px' src='{png_data_uri(drawn)}'>")
    return Section("Why fake? The discriminator's view", body)
