"""The report's "Named directions" section: each GANSpace direction's name, its largest effects and a strip.

Registered as ``image.directions`` in REPORT_SECTIONS. The directions and their names come from the
run folder's cache when `ganvas explore directions --describe` or the studio made them before. Class
probabilities count when the data's domain classifier is trained (the evaluation does not train one
for this section); the section says so when they are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganvas.errors import GanvasError
from ganvas.eval.report import Section, esc, png_data_uri
from ganvas.explore import ganspace, naming

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation

SHOWN = 8           # directions listed
STEPS = 5           # pictures per strip: −2σ … +2σ
SPAN = 2.0


def sections(ev: Evaluation) -> list[Section]:
    G = ev.generator
    if G is None or getattr(G.model, "edit_space", None) is None:
        return []
    try:
        return [_section(G, ev)]
    except GanvasError as exc:              # the rest of the report stands without this section
        return [Section("Named directions", f"<p class='note'>directions not named: {esc(exc)}</p>")]


def _section(G: Any, ev: Evaluation) -> Section:
    d = ganspace.get(G)
    classes, note = naming.classes_for(G, train=False, dataset=ev.reference.dataset)
    named = naming.get(G, d, classes=classes, note=note)
    count = min(SHOWN, len(d))
    strips = ganspace.sweep(G, d, range(count), STEPS, SPAN, seed=0)
    rows = []
    for n in named.directions[:count]:
        strip = G.domain.preview(strips[n.index * STEPS:(n.index + 1) * STEPS], nrow=STEPS)
        effects = ", ".join(f"{esc(a)} {e:+.2f}" for a, e in n.top(3))
        rows.append(f"<tr><td>{n.index}</td><td><b>{esc(n.name)}</b></td><td class='small'>{effects}</td>"
                    f"<td class='v'>{100 * float(d.explained[n.index]):.1f}%</td>"
                    f"<td><img class='px' alt='direction {n.index}: {esc(n.name)}' "
                    f"src='{png_data_uri(strip)}'></td></tr>")
    where = f", layer {esc(d.layer)}" if d.layer else ""
    body = (f"<p class='small'>GANSpace directions ({esc(d.method)}{where}, {d.n_samples} samples), each named from "
            f"what moving {named.seeds} seeds ±{named.amount:g}σ along it measurably changes. An effect is the mean "
            "change per σ divided by the attribute's spread over unmoved samples; names read as the slider moves "
            f"right. Strips: seed 0 from −{SPAN:g}σ to +{SPAN:g}σ.</p>"
            + (f"<p class='note'>{esc(named.note)}</p>" if named.note else "")
            + "<table><tr><th>#</th><th>name</th><th>largest effects</th><th>variance</th><th>−2σ … +2σ</th></tr>"
            + "".join(rows) + "</table>")
    return Section("Named directions", body)
