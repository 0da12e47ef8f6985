"""The music domain: piano-rolls, MIDI and WAV files, pictures, the chorales and MIDI folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CHORALES_SUBSET, assert_one_line_error, run_cli

from ganvas.data.dataset import load_dataset
from ganvas.domains import get_domain
from ganvas.errors import GanvasError
from ganvas.music import audio
from ganvas.music.midi import TrackSpec, notes_to_midi, read_midi, write_midi
from ganvas.music.pianoroll import Note, notes_to_roll, roll_to_notes

SATB = [TrackSpec("Soprano", 19), TrackSpec("Alto", 19), TrackSpec("Tenor", 19), TrackSpec("Bass", 19)]


def phrase() -> list[list[Note]]:
    """Two bars in four voices: held notes, a note ending exactly on the barline, a note across it,
    touching repeats, a sixteenth, an eighth and a rest."""
    return [[Note(72, 0, 4), Note(72, 4, 8), Note(74, 8, 16), Note(76, 16, 18), Note(77, 18, 19), Note(79, 20, 32)],
            [Note(67, 0, 12), Note(65, 12, 20), Note(64, 24, 32)],                   # 12–20 crosses the barline
            [Note(64, 0, 16), Note(60, 16, 32)],                                      # ends on the barline
            [Note(48, 0, 8), Note(43, 8, 16), Note(36, 16, 24), Note(36, 24, 32)]]   # a repeat of the lowest pitch


def write(tracks: list[list[Note]], path: Path, tempo: float = 100.0, specs=SATB) -> Path:
    write_midi(notes_to_midi(tracks, list(specs), tempo), path)
    return path


def test_midi_to_pianoroll_to_midi_keeps_notes_onsets_and_durations(tmp_path: Path) -> None:
    src = write(phrase(), tmp_path / "in.mid", tempo=73.0)
    parts, length, tempo = read_midi(src)
    assert [p.name for p in parts] == ["Soprano", "Alto", "Tenor", "Bass"] and length == 32
    assert abs(tempo - 73.0) < 1e-3
    assert [list(p.notes) for p in parts] == phrase()                 # MIDI → notes: exact at the grid
    roll, counts = notes_to_roll([p.notes for p in parts], 32, 36, 46)
    assert roll.shape == (4, 32, 46) and set(np.unique(roll)) == {0, 1} and not counts
    back = roll_to_notes(roll, 36)
    expected = phrase()
    # touching repeats keep their onsets: the earlier note gives up its last step
    expected[0][0] = Note(72, 0, 3)
    expected[3][2] = Note(36, 16, 23)
    assert back == expected
    out = write(back, tmp_path / "out.mid", tempo=73.0)
    again = [list(p.notes) for p in read_midi(out)[0]]
    assert again == expected                                           # → MIDI → the same notes again


def test_repeats_without_separation_merge_and_one_step_repeats_are_counted() -> None:
    notes = [[Note(60, 0, 4), Note(60, 4, 8), Note(62, 8, 9), Note(62, 9, 12)]]
    roll, counts = notes_to_roll(notes, 16, 36, 46, separate_repeats=False)
    assert roll_to_notes(roll, 36)[0] == [Note(60, 0, 8), Note(62, 8, 12)] and not counts
    roll, counts = notes_to_roll(notes, 16, 36, 46)
    assert roll_to_notes(roll, 36)[0] == [Note(60, 0, 3), Note(60, 4, 8), Note(62, 8, 12)]
    assert counts == {"merged repeats": 1}                             # a sixteenth cannot give up a step


def test_notes_outside_the_range_and_velocities() -> None:
    notes = [[Note(30, 0, 4, 90), Note(60, 0, 4, 90), Note(64, 4, 8, 30), Note(90, 0, 2)]]
    roll, counts = notes_to_roll(notes, 8, 36, 46, velocity=True)
    assert counts == {"outside pitch range": 2}
    assert roll[0, 0, 24] == 90 and roll[0, 5, 28] == 30
    assert roll_to_notes(roll, 36, velocity=True)[0] == [Note(60, 0, 4, 90), Note(64, 4, 8, 30)]


def test_domain_tensors_binary_and_velocity() -> None:
    d = get_domain("music", {"pitches": 46})
    roll = notes_to_roll(phrase(), 32, 36, 46)[0][None]
    x = d.to_tensor(roll)
    assert x.dtype == torch.float32 and set(x.unique().tolist()) == {-1.0, 1.0}
    assert np.array_equal(d.to_array(x), roll)
    assert np.array_equal(d.to_array(torch.where(x > 0, 0.01, -0.01)), roll)   # the sign decides
    v = get_domain("music", {"velocity": True})
    vroll = notes_to_roll([[Note(60, 0, 4, 127), Note(62, 4, 8, 1)]] * 4, 16, 36, 46, velocity=True)[0][None]
    vx = v.to_tensor(vroll)
    assert vx.max() == 1.0 and vx.min() == -1.0 and np.array_equal(v.to_array(vx), vroll)


def test_domain_arguments_are_checked() -> None:
    with pytest.raises(GanvasError, match="tempo must be a number of beats per minute"):
        get_domain("music", {"tempo": 0})
    with pytest.raises(GanvasError, match="programs must be 4 General MIDI numbers"):
        get_domain("music", {"programs": [0, 1]})
    with pytest.raises(TypeError):
        get_domain("music", {"colour": "red"})
    with pytest.raises(GanvasError, match="domain 'image' takes no arguments"):
        get_domain("image", {"low": 3})


def test_picture_colours_each_track_and_marks_bars() -> None:
    from ganvas.music.picture import track_colours

    d = get_domain("music")
    roll = notes_to_roll(phrase(), 32, 36, 46)[0]
    pic = d.picture(roll, legend=False)
    assert pic.shape == (46 * 2, 32 * 3, 3)
    colours = {tuple(c) for c in pic.reshape(-1, 3)}
    for c in track_colours(4):
        assert c in colours                                          # every voice drawn in its colour
    row = (46 - 1 - (36 - 36)) * 2                                   # the bass's lowest C, bottom rows
    assert tuple(pic[row, 16 * 3 + 1]) == track_colours(4)[3]
    assert tuple(pic[0, 16 * 3]) == (170, 170, 170)                  # a barline at step 16 (no note there)
    grid = d.preview(d.to_tensor(np.stack([roll] * 5)))
    assert grid.size[0] > 3 * pic.shape[1]                            # 5 phrases tiled 3 per row, plus a legend


def test_wav_through_fluidsynth_and_the_builtin_synthesizer(tmp_path: Path, monkeypatch) -> None:
    tracks = roll_to_notes(notes_to_roll(phrase(), 32, 36, 46)[0], 36)
    seconds = 32 * 60 / (100 * 4)
    setup = audio.fluidsynth_setup()                                 # `make test` installs both Debian packages
    assert not isinstance(setup, str), setup
    assert audio.render_wav(tracks, SATB, 100, tmp_path / "f.wav") == "fluidsynth"
    samples, rate = audio.read_wav(tmp_path / "f.wav")
    assert rate == 44100 and len(samples) / rate >= seconds and np.abs(samples).max() > 0.05
    assert audio.render_wav(tracks, SATB, 100, tmp_path / "b.wav", engine="builtin") == "builtin"
    samples, rate = audio.read_wav(tmp_path / "b.wav")
    assert abs(len(samples) / rate - seconds) < 0.2 and 0.05 < np.abs(samples).max() <= 0.91
    # the fundamental of the lone tenor E4 (330 Hz) is there
    quiet_bar = samples[int(0.1 * rate): int(1.1 * rate)]
    spectrum = np.abs(np.fft.rfft(quiet_bar))
    freqs = np.fft.rfftfreq(len(quiet_bar), 1 / rate)
    assert spectrum[np.argmin(abs(freqs - 329.6))] > 10 * np.median(spectrum)
    # without fluidsynth: the fallback, or a one-line error naming the packages when it was asked for
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    assert audio.render_wav(tracks, SATB, 100, tmp_path / "c.wav") == "builtin"
    with pytest.raises(GanvasError, match="fluidsynth is not installed; install the Debian packages fluidsynth"):
        audio.render_wav(tracks, SATB, 100, tmp_path / "d.wav", engine="fluidsynth")
    monkeypatch.setenv("GANVAS_SOUNDFONT", str(tmp_path / "missing.sf2"))
    with pytest.raises(GanvasError, match="GANVAS_SOUNDFONT=.*missing.sf2 is not a file"):
        audio.find_soundfont()


def test_domain_save_writes_each_format(tmp_path: Path) -> None:
    d = get_domain("music", {"tempo": 120, "audio": "builtin"})
    x = d.to_tensor(notes_to_roll(phrase(), 32, 36, 46)[0][None])
    paths = d.save(x, tmp_path, ["a"], ("midi", "png", "wav"))
    assert [p.name for p in paths] == ["a.mid", "a.png", "a.wav"]
    assert read_midi(tmp_path / "a.mid")[2] == pytest.approx(120.0, abs=1e-3)
    with pytest.raises(GanvasError, match="can be written as midi, wav, png; got mp3"):
        d.save(x, tmp_path, ["a"], ("mp3",))


# --- the chorales ----------------------------------------------------------------------------------

def test_chorales_builder_on_the_real_corpus(chorales_built: Path) -> None:
    card = json.loads((chorales_built / "card.json").read_text())
    ds = load_dataset("chorales", 0)
    x = ds.arrays["x"]
    assert ds.domain == "music" and x.dtype == np.uint8 and x.shape[1:] == (4, 64, 46)
    assert card["pieces"] == {"available": 433, "read": CHORALES_SUBSET, "used": card["pieces"]["used"]}
    assert card["pieces"]["used"] + sum(card["skipped"].values()) == CHORALES_SUBSET
    assert set(card["skipped"]) <= {"not four parts", "not in 4/4"} and card["skipped"]
    assert card["domain_args"]["tracks"][0] == {"name": "Soprano", "program": 19, "is_drum": False}
    assert card["source"]["pypi"]["music21"] and "public domain" in card["licence"]
    # four voices, each mostly one note at a time, barline-aligned, in C major / A minor
    assert (x.sum(-1) <= 1).mean() > 0.99 and x.any(axis=(0, 2, 3)).all()
    pcs = np.zeros(12)
    np.add.at(pcs, (36 + np.arange(46)) % 12, x.sum((0, 1, 2)))
    assert pcs[[1, 3, 6, 10]].sum() / pcs.sum() < 0.1                  # few black keys after transposition
    keys = (chorales_built / "keys.txt").read_text().splitlines()
    assert len(keys) == len(x) and "transposed" in keys[0]
    assert (chorales_built / "README.md").read_text().startswith("# Bach chorales")


def test_a_chorale_whose_parts_are_not_four_is_skipped(tmp_path: Path) -> None:
    from ganvas.data.chorales import corpus_paths, read_chorale
    from ganvas.data.music_builder import SkipPiece

    many = next(p for p in corpus_paths() if p.name == "bwv1.6.mxl")        # horn + SATB: five parts
    with pytest.raises(SkipPiece, match="not four parts: 5 parts"):
        read_chorale(many, True)
    broken = tmp_path / "broken.mxl"
    broken.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(SkipPiece, match="unreadable"):
        read_chorale(broken, True)


# --- a folder of MIDI files ------------------------------------------------------------------------

def make_midi_folder(root: Path) -> Path:
    root.mkdir(parents=True)
    band = [TrackSpec("Piano", 0), TrackSpec("Bass", 33), TrackSpec("Drums", 0, is_drum=True)]
    song = [[Note(60 + (i % 5), 4 * i, 4 * i + 4) for i in range(16)],
            [Note(36 + (i % 3), 8 * i, 8 * i + 8) for i in range(8)],
            [Note(36, 2 * i, 2 * i + 1) for i in range(32)]]
    write(song, root / "song.mid", 120.0, band)
    write(song[:2], root / "sub" / "duo.midi", 100.0, band[:2])
    write([[Note(120, 0, 64)]], root / "too_high.mid", 100.0, [TrackSpec("Piano", 0)])     # outside 24–107
    (root / "empty.mid").write_bytes(b"")
    (root / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (root / "notes.txt").write_text("not music")
    return root


def test_midi_folder_tracks_by_program_and_bad_files_counted(tmp_path: Path, capsys) -> None:
    folder = make_midi_folder(tmp_path / "midi")
    ds = load_dataset(str(folder), 0, domain="music", progress=False)
    tracks = ds.domain_args["tracks"]
    assert [t["name"] for t in tracks] == ["Acoustic Grand Piano", "Electric Bass (finger)", "Drums"]
    assert [t["is_drum"] for t in tracks] == [False, False, True]
    assert ds.card["skipped"] == {"zero-byte": 1, "unreadable": 1, "not a MIDI file": 1,
                                  "no notes in the pitch range": 1}
    assert "skipped 4 of 6 files" in capsys.readouterr().err
    # song: 4 bars → 1 phrase; duo: 4 bars → 1 phrase (its drum track is empty)
    assert ds.arrays["x"].shape == (2, 3, 64, 84) and not ds.arrays["x"][1, 2].any()
    assert ds.domain_args["tempo"] == 110.0                                # the median of 120 and 100
    again = load_dataset(str(folder), 0, domain="music", progress=False)   # cached
    assert again.fingerprint == ds.fingerprint
    fam = load_dataset(str(folder), 0, domain="music", data_args={"tracks": "family", "bars": 2, "hop": 2})
    assert [t["name"] for t in fam.domain_args["tracks"]] == ["Piano", "Bass", "Drums"]
    assert fam.arrays["x"].shape == (4, 3, 32, 84)
    single = load_dataset(str(folder), 0, domain="music", data_args={"tracks": "single", "low": 36, "high": 84})
    assert single.arrays["x"].shape[1:] == (1, 64, 49) and single.card["notes"]["notes of instruments left out"]


def test_midi_folder_errors_are_one_line(tmp_path: Path) -> None:
    folder = make_midi_folder(tmp_path / "midi")
    with pytest.raises(GanvasError, match="unknown data_args option for a MIDI folder 'bar'.*did you mean 'bars'"):
        load_dataset(str(folder), 0, domain="music", data_args={"bar": 2})
    with pytest.raises(GanvasError, match="unknown data_args value for 'tracks' 'instrument'"):
        load_dataset(str(folder), 0, domain="music", data_args={"tracks": "instrument"})
    with pytest.raises(GanvasError, match="0 <= low <= high <= 127"):
        load_dataset(str(folder), 0, domain="music", data_args={"low": 90, "high": 80})
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.mid").write_bytes(b"")
    shutil.copy(folder / "too_high.mid", bad / "b.mid")
    with pytest.raises(GanvasError, match=r"holds no usable MIDI files .*1 no notes in the pitch range, 1 zero-byte"):
        load_dataset(str(bad), 0, domain="music")
    with pytest.raises(GanvasError, match="apply to folders of MIDI files"):
        load_dataset("chorales", 0, data_args={"bars": 8})


def test_a_midi_folder_trains_with_the_same_loop(tmp_path: Path) -> None:
    folder = make_midi_folder(tmp_path / "midi")
    out = tmp_path / "run"
    proc = run_cli("train", "--data", str(folder), "--model", "musegan", "--loss", "wgan-gp", "--dry-run",
                   "--set", "model_args.g_width=32", "--set", "model_args.d_width=8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "skipped 4 of 6 files" in proc.stderr and (out / "final.png").exists()
    assert_one_line_error(run_cli("train", "--data", str(folder), "--model", "dcgan", "--dry-run"),
                          "holds no usable images")
