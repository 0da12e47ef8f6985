"""The music part of an evaluation report: metrics of generated against training phrases, with sound.

`music_report` computes every metric of `music_metrics` on both sets and returns them as a table (a
dict, for JSON) and as an HTML fragment: the table, then a few generated and training phrases each as
an audio player (WAV embedded as base64) above its piano-roll picture, so a reader can hear and see
what the numbers describe. The fragment is self-contained (no external files, no scripts).
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ganvas.domains.music import MusicDomain
from ganvas.eval.music_metrics import LABELS, PER_TRACK, music_metrics
from ganvas.eval.report import Section

if TYPE_CHECKING:
    from ganvas.eval.evaluate import Evaluation


@dataclass
class MusicReport:
    metrics: dict       # {"generated": ..., "training": ..., "table": [rows]} (see music_report)
    html: str           # a self-contained HTML fragment (a <section>)

    def to_dict(self) -> dict:
        return self.metrics


def _fmt(v: float) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def metric_table(generated: dict, training: dict) -> list[dict]:
    """One row per (metric, track) and per track pair: label, generated value, training value."""
    rows = []
    for key in PER_TRACK:
        for i, track in enumerate(generated["tracks"]):
            rows.append({"metric": key, "label": LABELS[key], "track": track,
                         "generated": generated["per_track"][key][i], "training": training["per_track"][key][i]})
    for pair, value in generated["tonal_distance"].items():
        rows.append({"metric": "tonal_distance", "label": LABELS["tonal_distance"], "track": pair,
                     "generated": value, "training": training["tonal_distance"].get(pair, math.nan)})
    return rows


def _clip_html(domain: MusicDomain, roll: np.ndarray, caption: str, audio: str) -> str:
    from ganvas.music.audio import compact_wav

    wav, engine = compact_wav(domain.notes(roll), domain.tracks, domain.tempo, domain.beat_steps, audio)
    buf = io.BytesIO()
    Image.fromarray(domain.picture(roll)).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure class="music-clip"><audio controls preload="none" '
            f'src="data:audio/wav;base64,{base64.b64encode(wav).decode("ascii")}"></audio>'
            f'<img alt="piano-roll: {html.escape(caption)}" src="data:image/png;base64,{png}">'
            f'<figcaption>{html.escape(caption)} <small>({engine} audio)</small></figcaption></figure>')


def music_report(generated: np.ndarray, training: np.ndarray, domain_args: dict, n_audio: int = 3,
                 audio: str = "auto", seed: int = 0) -> MusicReport:
    """Metrics of `generated` against `training` phrases, as a table and as an HTML fragment.

    generated, training: ``N × tracks × steps × pitches`` arrays in the music domain's stored form
        (uint8 0/1 or velocities; ``Generator.domain.to_array(G.sample(n))`` gives it for a model;
        ``load_dataset(name, 0).arrays["x"]`` for the training data).
    domain_args: the layout both share (``dataset.domain_args`` or ``Generator.model.spec.domain_args``).
    n_audio: how many phrases of each set get a player and a picture (the first generated ones and
        evenly spaced training ones); 0 for none.
    audio: WAV engine, auto | fluidsynth | builtin.
    """
    domain = MusicDomain(**{**domain_args, "audio": audio})
    names = [t.name for t in domain.tracks]
    kw = {"low": domain.low, "track_names": names, "beat_steps": domain.beat_steps, "bar_steps": domain.bar_steps}
    gen, real = music_metrics(generated, **kw), music_metrics(training, **kw)
    table = metric_table(gen, real)
    parts = ['<section class="music-report"><h2>Music metrics</h2>',
             f"<p>{gen['count']} generated phrases against {real['count']} training phrases. Definitions: "
             "<code>ganvas/eval/music_metrics.py</code>. Closer to the training column is better.</p>",
             '<table class="music-metrics"><thead><tr><th>metric</th><th>track</th><th>generated</th>'
             "<th>training</th></tr></thead><tbody>"]
    for r in table:
        parts.append(f"<tr><td>{html.escape(r['label'])}</td><td>{html.escape(r['track'])}</td>"
                     f"<td>{_fmt(r['generated'])}</td><td>{_fmt(r['training'])}</td></tr>")
    parts.append("</tbody></table>")
    if n_audio > 0:
        picks = np.random.default_rng(seed).choice(len(training), size=min(n_audio, len(training)), replace=False)
        for title, rolls, idx in (("Generated", generated, range(min(n_audio, len(generated)))),
                                  ("Training", training, sorted(picks.tolist()))):
            parts.append(f"<h3>{title} phrases</h3><div class=\"music-clips\">")
            parts += [_clip_html(domain, np.asarray(rolls[i]), f"{title.lower()} phrase {i}", audio) for i in idx]
            parts.append("</div>")
    parts.append("</section>")
    return MusicReport({"generated": gen, "training": real, "table": table}, "\n".join(parts))


def sections(ev: Evaluation) -> list[Section]:
    """The music part of `ganvas evaluate`'s report (REPORT_SECTIONS "music"): the metric table and phrases to hear."""
    data = ev.reference.dataset
    part = music_report(ev.fake_images, data.arrays[data.sample_key], data.domain_args, n_audio=2)
    return [Section("Music metrics", part.html.replace("<h2>Music metrics</h2>", "", 1))]
