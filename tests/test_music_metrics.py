"""The music metrics on hand-made phrases, and against muspy on real chorale phrases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ganvas.eval.music_metrics import music_metrics, tonal_matrix
from ganvas.music.pianoroll import Note, notes_to_roll

LOW = 60                     # one octave, C4..B4: row k is pitch class k
C, Cs, D, E, G = 60, 61, 62, 64, 67


def roll(*tracks: list[Note], steps: int = 32) -> np.ndarray:
    """One phrase (1 × tracks × steps × 12), repeats not separated so runs are exactly the notes given."""
    return notes_to_roll(tracks, steps, LOW, 12, separate_repeats=False)[0][None]


def m(x: np.ndarray, **kw) -> dict:
    out = music_metrics(x, LOW, **kw)
    return {**out["per_track"], "td": list(out["tonal_distance"].values())}


def test_a_note_ending_exactly_on_the_barline_leaves_the_next_bar_empty() -> None:
    r = m(roll([Note(C, 8, 16)], []))
    assert r["empty_bar_rate"] == [0.5, 1.0]              # bar 2 of track 0 is empty; track 1 never sounds
    assert r["used_pitch_classes"][0] == 1.0 and math.isnan(r["used_pitch_classes"][1])
    assert r["qualified_note_rate"][0] == 1.0 and math.isnan(r["qualified_note_rate"][1])
    assert r["polyphonicity"][0] == 0.0


def test_a_note_across_the_barline_sounds_in_both_bars_and_counts_once() -> None:
    r = m(roll([Note(E, 14, 18)]))
    assert r["empty_bar_rate"] == [0.0] and r["used_pitch_classes"] == [1.0]
    assert r["qualified_note_rate"] == [1.0]              # one 4-step note, not two 2-step halves


def test_qualified_notes_are_at_least_three_steps() -> None:
    notes = [Note(C, 0, 1), Note(D, 2, 4), Note(E, 5, 8), Note(G, 9, 13)]   # 1, 2, 3, 4 steps
    assert m(roll(notes))["qualified_note_rate"] == [0.5]
    assert m(roll(notes), min_note_steps=2)["qualified_note_rate"] == [0.75]


def test_used_pitch_classes_polyphonicity_and_polyphony() -> None:
    x = roll([Note(C, 0, 8), Note(E, 0, 4), Note(C + 12 - 12, 20, 24), Note(G, 20, 22)], steps=48)
    r = m(x)
    # bars: 0 = C held 8 steps with E over the first 4; 1 = C and G at steps 20..23; 2 = empty
    assert r["empty_bar_rate"] == [pytest.approx(1 / 3)]
    assert r["used_pitch_classes"] == [2.0]                # {C, E} and {C, G}
    assert r["polyphonicity"] == [(4 + 2) / 32]            # ≥2 pitches at 6 of the 32 steps of sounding bars
    assert r["polyphony"] == [(4 * 2 + 4 + 2 * 2 + 2) / (8 + 4)]


def test_in_scale_rate_is_weighted_by_duration_and_scale_consistency_counts_notes() -> None:
    r = m(roll([Note(C, 0, 3), Note(Cs, 3, 4), Note(D, 4, 8)]))
    assert r["in_scale_rate"] == [(3 + 4) / 8]
    assert r["scale_consistency"] == [pytest.approx(2 / 3)]   # no major scale holds C, C# and D
    assert r["pitch_class_entropy"] == [pytest.approx(math.log2(3))]
    assert m(roll([Note(Cs, 0, 8)]), scale=(1, 3, 5, 6, 8, 10, 0))["in_scale_rate"] == [1.0]


def test_tonal_distance_follows_harte_et_al() -> None:
    phi = tonal_matrix()
    assert phi.shape == (6, 12)
    assert np.allclose(phi[:, 0], [0, 1, 0, 1, 0, 0.5])              # C: every angle 0
    assert np.allclose(phi[:, 7], [0.5, math.sqrt(3) / 2, 1, 0, math.sqrt(3) / 4, -0.25])   # G: 7·θ
    # beat 1: C against G; beat 2: C against C; beat 3: C+E against C (chroma normalised to sum 1); beat 4: alone
    x = roll([Note(C, 0, 12), Note(E, 8, 12), Note(C, 12, 16)], [Note(G, 0, 4), Note(C, 4, 12)], steps=16)
    c_g = math.sqrt(0.5 ** 2 + (1 - math.sqrt(3) / 2) ** 2 + 1 + 1 + (math.sqrt(3) / 4) ** 2 + 0.75 ** 2)
    c_ce = 0.5 * np.linalg.norm(phi[:, 4] - phi[:, 0])
    assert m(x)["td"] == [pytest.approx((c_g + 0 + c_ce) / 3)]
    assert math.isnan(m(roll([Note(C, 0, 4)], []))["td"][0])         # never both sounding: undefined


def test_velocity_rolls_count_sounding_cells_and_shapes_are_checked() -> None:
    x = roll([Note(C, 0, 4, 20)]) * 50
    assert m(x)["qualified_note_rate"] == [1.0]
    with pytest.raises(ValueError, match="not whole bars"):
        music_metrics(np.zeros((1, 1, 20, 12)), LOW)


def test_against_muspy_on_real_chorale_phrases(chorales_built: Path, tmp_path: Path) -> None:
    """pitch-class entropy, scale consistency, polyphony and polyphony rate agree with muspy's on the
    same phrases, read back by muspy from the MIDI files ganvas writes."""
    import muspy

    from ganvas.data.dataset import load_dataset
    from ganvas.domains import get_domain
    from ganvas.music.midi import write_midi

    ds = load_dataset("chorales", 0)
    domain = get_domain("music", ds.domain_args)
    phrases = ds.arrays["x"][:: max(1, len(ds) // 12)][:12]
    compared = 0
    for i, phrase in enumerate(phrases):
        path = tmp_path / f"{i}.mid"
        write_midi(domain.to_midi(phrase), path)
        music = muspy.read_midi(path).adjust_resolution(4)
        for t in range(4):
            one = muspy.Music(resolution=4, tracks=[music.tracks[t]])
            mine = music_metrics(phrase[None, t:t + 1], 36)["per_track"]
            assert mine["pitch_class_entropy"][0] == pytest.approx(muspy.pitch_class_entropy(one), abs=1e-9)
            assert mine["scale_consistency"][0] == pytest.approx(muspy.scale_consistency(one), abs=1e-9)
            assert mine["polyphony"][0] == pytest.approx(muspy.polyphony(one), abs=1e-9)
        # all four voices as one keyboard part: a polyphonic texture
        merged = phrase.max(0)[None, None]
        mine = music_metrics(merged, 36)["per_track"]
        assert mine["polyphony"][0] == pytest.approx(muspy.polyphony(music), abs=1e-9)
        if merged[0, 0, -1].any() and merged.reshape(4, 16, -1).any((1, 2)).all():
            # muspy divides by every step up to the last note's end, ganvas by the steps of sounding
            # bars: the same here. muspy counts steps with more than `threshold` pitches.
            assert mine["polyphonicity"][0] == pytest.approx(muspy.polyphony_rate(music, threshold=1), abs=1e-9)
            compared += 1
    assert compared >= 3
