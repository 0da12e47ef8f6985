"""The report's creativity section (`image.creativity`): novelty, value and style ambiguity of the evaluated
samples (ganvas.eval.creativity), the novelty–value map, and which measures predict what a person kept in
the studio. It lives in explore because kept outputs are drawn again from their recipes."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ganvas.errors import GanvasError
from ganvas.eval.creativity import MEASURES, CreativityScores, Scorer, keep_predictors, predictor_sentence, summary
from ganvas.eval.creativity_map import map_for
from ganvas.eval.report import Section, esc, png_data_uri
from ganvas.explore.kept import kept_path, read_kept, score_kept

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation


def summary_rows(s: dict[str, Any], held: dict[str, Any] | None = None) -> str:
    """Table rows: measure, median [q1, q3] of the samples (and of held-out reals, when given), meaning."""
    def cells(v: dict[str, float] | None) -> str:
        if v is None:
            return "<td class='v'>–</td>"
        return f"<td class='v'>{v['median']:.3g} [{v['q1']:.3g}, {v['q3']:.3g}]</td>"

    names = {m: (name, meaning) for m, (name, meaning) in MEASURES.items()}
    names["distance"] = ("feature distance", "to the nearest training item, before dividing")
    rows = []
    for m, (name, meaning) in names.items():
        if m in s:
            rows.append(f"<tr><td>{esc(name)}</td>{cells(s[m])}" + (cells(held.get(m)) if held else "") +
                        f"<td class='small'>{esc(meaning)}</td></tr>")
    inside = f"<td class='v'>{held['inside_real_manifold']:.0%}</td>" if held else ""
    rows.append(f"<tr><td>inside the real manifold</td><td class='v'>{s['inside_real_manifold']:.0%}</td>{inside}"
                "<td class='small'>share inside some reference real's k=3 neighbourhood (what precision counts)</td>"
                "</tr>")
    return "".join(rows)


def heldout_summary(ev: Evaluation, scorer: Scorer) -> dict[str, Any] | None:
    """The same measures of as many held-out reals as samples (None without a held-out split): the yardstick."""
    ref = ev.reference
    if not len(ref.heldout_idx):
        return None
    idx = ref.heldout_idx[:len(ev.fake_images)]
    return summary(scorer.score_features(ref.features[idx], *scorer.d_outputs(ref.dataset.arrays["x"][idx]),
                                         what="held-out features"))


def kept_body(ev: Evaluation, scorer: Scorer, scores: CreativityScores) -> str:
    """What the keeps say: each measure's AUC for kept outputs against the report's samples, or why none."""
    G = ev.generator
    path = kept_path(G.path)
    try:
        records = read_kept(G.path)
    except GanvasError as exc:
        return f"<p class='note'>{esc(exc)}</p>"
    step = G.meta.get("progress", {}).get("step")
    mine = [r for r in records if r.get("step") in (None, step)]
    other = len(records) - len(mine)
    elsewhere = (f" ({other} keep{'s' if other != 1 else ''} of other checkpoints of this run left out: their "
                 "outputs differ at this step)") if other else ""
    if not mine:
        return (f"<p>No keeps recorded{esc(elsewhere)}. The studio's Explore tab records each output a person "
                f"keeps in <code>{esc(path)}</code>, with its measures.</p>")
    try:
        _, kept = score_kept(G, scorer, mine)
    except GanvasError as exc:
        return f"<p class='note'>The keeps could not be drawn again: {esc(exc)}</p>"
    seed0, seed1 = ev.metrics["generator"]["seeds"]
    same = {r["recipe"]["seed"] - seed0 for r in mine                 # kept samples are not their own reference
            if plain_seed(r["recipe"]) and seed0 <= r["recipe"]["seed"] <= seed1}
    others = scores.subset(np.array([i for i in range(len(scores)) if i not in same], dtype=np.int64))
    rows = keep_predictors(kept, others)
    table = "".join(
        f"<tr><td>{esc(MEASURES.get(r['measure'], ('inside the real manifold',))[0])}</td>"
        f"<td class='v'>{'n/a' if math.isnan(r['auc']) else format(r['auc'], '.2f')}</td></tr>" for r in rows)
    return (f"<p>{esc(predictor_sentence(rows))}</p><p class='small'>{len(mine)} kept outputs{esc(elsewhere)}, drawn "
            f"again from their recipes, against the {len(others)} other samples above. AUC: the chance that a kept "
            "output scores higher than one of the others (0.5: the measure says nothing about what is kept).</p>"
            f"<table><tr><th>measure</th><th>AUC, kept vs the others</th></tr>{table}</table>")


def plain_seed(recipe: dict[str, Any]) -> bool:
    """A recipe that is just a seed's output (no class, truncation or edits): one of the report's own samples."""
    return (isinstance(recipe.get("seed"), int) and not recipe.get("edits") and recipe.get("label") is None
            and recipe.get("truncation") in (None, 1, 1.0))


def sections(ev: Evaluation) -> list[Section]:
    G = ev.generator
    if G is None or ev.fake_images.ndim != 4:
        return []
    scorer = Scorer(ev.reference, G)
    scores = scorer.score_features(ev.fake_features, *scorer.d_outputs(ev.fake_images))
    s = summary(scores)
    seeds = ev.metrics["generator"]["seeds"]
    picture = map_for(ev, scores, f"{G.meta['model']['name']} at step {G.meta.get('progress', {}).get('step')}, "
                                  f"seeds {seeds[0]}-{seeds[1]}", scorer.real_logits)
    held = heldout_summary(ev, scorer)
    head = "<th>held-out reals</th>" if held else ""
    body = (f"<p>Measured in {esc(scorer.features_note)}. Novelty is the distance to the nearest training item "
            "divided by that item's own distance to its nearest other training item: 0 is a copy, about 1 is as "
            "far out as a new real item. Value is D's judgement and membership of the real manifold; style "
            "ambiguity is how unsure the data's classifier is of the label. Median [quartiles] over the samples"
            + (", and over as many held-out reals scored the same way (what a real item looks like)" if held else "")
            + ".</p>"
            f"<table><tr><th>measure</th><th>samples</th>{head}<th>meaning</th></tr>{summary_rows(s, held)}"
            f"</table><p><img src='{png_data_uri(picture)}' style='max-width:100%'></p>")
    return [Section("Creativity: novelty, value, style ambiguity", body),
            Section("What was kept in the studio", kept_body(ev, scorer, scores))]

