"""Objective metrics for multi-track piano-rolls: the MuseGAN set, per track, plus three from muspy.

All metrics take a batch of phrases, uint8 or bool ``N × tracks × steps × pitches`` (any non-zero
cell sounds; velocities are ignored), and describe the batch as a whole. They are computed the same
way on generated phrases and on training phrases, so a report can put the two side by side: what
matters is how close the generated values are to the training ones, not the values themselves.

Definitions (a *bar* is `bar_steps` consecutive steps of one phrase; a *note* is a run of
consecutive sounding steps of one pitch in one track, found over the whole phrase, so a note held
across a barline is one note, and a note that ends exactly on a barline occupies nothing of the next
bar; two touching notes of the same pitch are one run — the piano-roll cannot tell them apart):

- ``empty_bar_rate`` (EB, MuseGAN): empty bars / bars, where a bar is empty for a track when the
  track sounds nothing in it.
- ``used_pitch_classes`` (UPC, MuseGAN): the number of distinct pitch classes the track sounds in a
  bar, averaged over the bars where it sounds something (empty bars would only repeat EB).
- ``qualified_note_rate`` (QN, MuseGAN): notes at least `min_note_steps` steps long / notes. MuseGAN
  counts notes of ≥ 3 steps at 24 steps per beat (a 32nd note) to catch fragmented output; at this
  grid (4 steps per beat) we keep the issue's 3 steps, a dotted eighth: chorales' passing eighths are
  then unqualified, so the training value is well below 1 and the comparison is what counts.
- ``polyphonicity`` (PP, MuseGAN): steps where at least two pitches sound in the track / steps, over
  the track's non-empty bars (MuseGAN's per-bar ratio averaged over non-empty bars; equal bars make
  the two the same).
- ``polyphony``: the mean number of pitches sounding in the track at steps where at least one does
  (muspy's ``polyphony``).
- ``in_scale_rate`` (MuseGAN): sounding steps whose pitch class is in `scale` (default C major, the
  key the chorales are transposed to; A minor shares it) / sounding steps, i.e. weighted by duration.
- ``pitch_class_entropy`` (muspy, Wu & Yang 2020): Shannon entropy in bits of the track's
  pitch-class histogram of notes (each note counted once) in a phrase, averaged over phrases where
  the track has notes.
- ``scale_consistency`` (muspy, Mogren 2016): the largest fraction of a phrase's notes of the track
  that fall in one major or natural-minor scale, averaged over phrases where the track has notes.
- ``tonal_distance`` (TD, MuseGAN after Harte, Sandler & Gasser 2006), for each pair of tracks: per
  beat, each track's chroma (sounding steps per pitch class) normalised to sum 1 is projected to a 6-D
  tonal centroid by the matrix Φ (rows r·sin(kθ), r·cos(kθ) for pitch class k, with θ = 7π/6, 3π/2,
  2π/3 and r = 1, 1, 0.5: the circles of fifths, minor thirds and major thirds); the distance is the
  Euclidean distance between the two centroids, averaged over beats where both tracks sound.
Values are NaN where a metric is undefined (e.g. UPC of a track that never sounds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

C_MAJOR = (0, 2, 4, 5, 7, 9, 11)
MAJOR_STEPS = C_MAJOR
PER_TRACK = ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate", "polyphonicity", "polyphony",
             "in_scale_rate", "pitch_class_entropy", "scale_consistency")
LABELS = {
    "empty_bar_rate": "empty bars (EB)",
    "used_pitch_classes": "pitch classes per bar (UPC)",
    "qualified_note_rate": "qualified notes (QN)",
    "polyphonicity": "polyphonicity (PP)",
    "polyphony": "polyphony",
    "in_scale_rate": "in scale",
    "pitch_class_entropy": "pitch-class entropy (bits)",
    "scale_consistency": "scale consistency",
    "tonal_distance": "tonal distance (TD)",
}


def tonal_matrix(r1: float = 1.0, r2: float = 1.0, r3: float = 0.5) -> np.ndarray:
    """Harte et al.'s 6×12 projection of a chroma vector onto three circles (fifths, minor and major thirds)."""
    k = np.arange(12)
    rows = []
    for r, theta in ((r1, 7 * math.pi / 6), (r2, 3 * math.pi / 2), (r3, 2 * math.pi / 3)):
        rows += [r * np.sin(k * theta), r * np.cos(k * theta)]
    return np.stack(rows)


def _fold(low: int, pitches: int) -> np.ndarray:
    """P×12 matrix taking pitch rows to pitch classes."""
    m = np.zeros((pitches, 12))
    m[np.arange(pitches), (low + np.arange(pitches)) % 12] = 1
    return m


def _notes(on: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(phrase, track, pitch row, length) of every note (run of sounding steps) in `on` (N×T×S×P)."""
    n, t, s, p = on.shape
    padded = np.zeros((n, t, p, s + 2), dtype=np.int8)
    padded[..., 1:-1] = on.transpose(0, 1, 3, 2)
    diff = np.diff(padded, axis=-1)
    starts = np.nonzero(diff == 1)          # C order: sorted by (phrase, track, pitch, step)
    ends = np.nonzero(diff == -1)
    return starts[0], starts[1], starts[2], ends[3] - starts[3]


def _entropy(hist: np.ndarray) -> np.ndarray:
    """Entropy in bits of each histogram along the last axis (NaN where empty)."""
    total = hist.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = hist / total
        h = -np.nansum(np.where(prob > 0, prob * np.log2(prob), 0.0), -1)
    return np.where(total[..., 0] > 0, h, np.nan)


def _nanmean(values: np.ndarray, axis: int | tuple[int, ...]) -> np.ndarray:
    count = np.sum(~np.isnan(values), axis=axis)
    total = np.nansum(values, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def music_metrics(rolls: np.ndarray, low: int, track_names: Sequence[str] | None = None, beat_steps: int = 4,
                  bar_steps: int = 16, scale: Sequence[int] = C_MAJOR, min_note_steps: int = 3) -> dict:
    """Every metric of this module for a batch of phrases ``N × tracks × steps × pitches``.

    Returns ``{"count": N, "tracks": names, "per_track": {metric: [value per track]},
    "tonal_distance": {"A–B": value}}`` with plain floats (NaN where undefined), ready for JSON.
    """
    on = np.asarray(rolls) > 0
    if on.ndim != 4:
        raise ValueError(f"expected phrases N × tracks × steps × pitches, got shape {on.shape}")
    n, t, s, p = on.shape
    if s % bar_steps or bar_steps % beat_steps:
        raise ValueError(f"{s} steps are not whole bars of {bar_steps} steps (beats of {beat_steps})")
    names = list(track_names) if track_names is not None else [f"track {i}" for i in range(t)]
    fold = _fold(low, p)
    bars = on.reshape(n, t, s // bar_steps, bar_steps, p)
    bar_sounds = bars.any((3, 4))                                            # N × T × B
    out: dict[str, np.ndarray] = {}
    out["empty_bar_rate"] = 1.0 - bar_sounds.mean((0, 2)) if n else np.full(t, np.nan)
    pcs_per_bar = ((bars.any(3).astype(float) @ fold) > 0).sum(-1).astype(float)   # N × T × B
    out["used_pitch_classes"] = _nanmean(np.where(bar_sounds, pcs_per_bar, np.nan), (0, 2))
    ph, tr, row, length = _notes(on)
    notes = np.bincount(tr, minlength=t).astype(float)
    qualified = np.bincount(tr, weights=length >= min_note_steps, minlength=t)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["qualified_note_rate"] = np.where(notes > 0, qualified / notes, np.nan)
    sounding = on.sum(-1)                                                    # N × T × S
    poly = (sounding >= 2).reshape(n, t, -1, bar_steps).sum(-1)              # N × T × B
    with np.errstate(divide="ignore", invalid="ignore"):
        out["polyphonicity"] = np.where(bar_sounds.sum((0, 2)) > 0, (poly * bar_sounds).sum((0, 2))
                                        / (bar_sounds.sum((0, 2)) * bar_steps), np.nan)
        steps_on = (sounding > 0).sum((0, 2))
        out["polyphony"] = np.where(steps_on > 0, sounding.sum((0, 2)) / steps_on, np.nan)
    cells = on.sum((0, 2)).astype(float) @ fold                             # T × 12 sounding steps per class
    mask = np.zeros(12)
    mask[list(scale)] = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        out["in_scale_rate"] = np.where(cells.sum(1) > 0, cells @ mask / cells.sum(1), np.nan)
    hist = np.zeros((n, t, 12))
    np.add.at(hist, (ph, tr, (low + row) % 12), 1)                          # notes per pitch class, per phrase
    out["pitch_class_entropy"] = _nanmean(_entropy(hist), 0)
    scales = np.stack([np.roll(np.isin(np.arange(12), MAJOR_STEPS), k) for k in range(12)]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        best = (hist @ scales.T).max(-1) / hist.sum(-1)                    # minor scales = relative majors
    out["scale_consistency"] = _nanmean(best, 0)
    tonal = {f"{names[i]}–{names[j]}": dist for (i, j), dist in tonal_distances(on, fold, beat_steps).items()}
    return {"count": int(n), "tracks": names,
            "per_track": {k: [float(v) for v in out[k]] for k in PER_TRACK},
            "tonal_distance": tonal}


def tonal_distances(on: np.ndarray, fold: np.ndarray, beat_steps: int = 4) -> dict[tuple[int, int], float]:
    """Mean tonal-centroid distance per pair of tracks over beats where both sound (see the module doc)."""
    n, t, s, p = on.shape
    chroma = on.reshape(n, t, s // beat_steps, beat_steps, p).sum(3).astype(float) @ fold   # N × T × beats × 12
    total = chroma.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        centroid = np.where(total > 0, chroma / total, 0.0) @ tonal_matrix().T              # N × T × beats × 6
    sounds = total[..., 0] > 0
    out = {}
    for i in range(t):
        for j in range(i + 1, t):
            both = sounds[:, i] & sounds[:, j]
            d = np.linalg.norm(centroid[:, i] - centroid[:, j], axis=-1)[both]
            out[(i, j)] = float(d.mean()) if d.size else math.nan
    return out
