"""The musegan model: its three variants, binarisation, training dry runs, sampling and the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, content_digest, run_cli

from ganvas.cli import main
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec

SPEC = DataSpec("music", (4, 64, 46), 0, {"beat_steps": 4, "bar_steps": 16})
SMALL = {"g_width": 32, "d_width": 8, "z_dim": 8, "temporal_width": 16}


def build(**options):
    return MODELS.get("musegan").build(SPEC, {**SMALL, **options}).eval()


@pytest.mark.parametrize(("variant", "latent"), [("composer", 2 * 8), ("jamming", 2 * 4 * 8),
                                                 ("hybrid", 2 * 8 + 2 * 4 * 8)])
def test_variants_shapes_and_latent_parts(variant: str, latent: int) -> None:
    model = build(variant=variant)
    z = model.sample_latent(3, torch.Generator().manual_seed(0))
    assert z.shape == (3, latent)
    raw = model.G(z)
    assert raw.shape == (3, 4, 64, 46) and raw.abs().max() <= 1
    assert model.D(raw).shape == (3,)
    x = model.generate(z)
    assert set(x.unique().tolist()) <= {-1.0, 1.0} and torch.equal(x, torch.where(raw > 0, 1.0, -1.0))


def test_private_codes_reach_only_their_track_and_shared_codes_reach_all() -> None:
    model = build(variant="hybrid")
    z = model.sample_latent(2, torch.Generator().manual_seed(1))
    base = model.G(z)
    d = 8
    private = z.clone()
    private[:, 2 * d: 3 * d] += 1.0                  # z_0, the time-independent code of track 0
    changed = (model.G(private) - base).abs().amax((0, 2, 3))
    assert changed[0] > 0 and torch.all(changed[1:] == 0)
    shared = z.clone()
    shared[:, :d] += 1.0                             # z, shared by every track
    assert torch.all((model.G(shared) - base).abs().amax((0, 2, 3)) > 0)
    temporal = z.clone()
    temporal[:, d: 2 * d] += 1.0                     # z_t: through the temporal generator, per bar
    per_bar = (model.G(temporal) - base).abs().view(2, 4, 4, 16, 46).amax((0, 1, 3, 4))
    assert torch.all(per_bar > 0)


def test_bernoulli_sampling_is_seeded_by_the_latent_and_straight_through_passes_gradients() -> None:
    model = build(binarize="bernoulli")
    z = model.latents_for_seeds([4, 5])
    a, b = model.generate(z), model.generate(z)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    p_on = ((model.G(z) + 1) / 2).mean()
    assert abs(((a + 1) / 2).mean() - p_on) < 0.02       # about as many notes as the probabilities say
    model = MODELS.get("musegan").build(SPEC, {**SMALL, "straight_through": "threshold"}).train()
    x = model.generate(z)
    assert set(x.unique().tolist()) <= {-1.0, 1.0}
    model.D(x).sum().backward()
    grads = [p.grad for p in model.G.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)


def test_data_that_is_not_whole_bars_is_refused() -> None:
    with pytest.raises(GanvasError, match="needs whole bars of 16 steps, got 40 steps"):
        MODELS.get("musegan").build(DataSpec("music", (4, 40, 46), 0, {}), {})
    with pytest.raises(GanvasError, match="works on music data, not image"):
        MODELS.get("musegan").build(DataSpec("image", (3, 32, 32)), {})
    with pytest.raises(GanvasError, match="unknown value for musegan option 'variant' 'soloist'"):
        MODELS.get("musegan").build(SPEC, {"variant": "soloist"})


@pytest.mark.parametrize("variant", ["hybrid", "jamming", "composer"])
def test_dry_run_of_each_preset(variant: str, tmp_path: Path, chorales_built, capsys) -> None:
    out = tmp_path / variant
    assert main(["train", "--preset", f"chorales-musegan-{variant}", "--dry-run", "--out", str(out),
                 "--set", "model_args.g_width=64", "--set", "model_args.d_width=16"]) == 0
    assert "dry run ok: 3 steps of musegan on chorales" in capsys.readouterr().err
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 3 and '"D/gp"' in rows[0]                  # WGAN-GP, as the paper
    assert (out / "final.png").exists()


@pytest.fixture(scope="module")
def music_run(tmp_path_factory, chorales_built) -> Path:
    out = tmp_path_factory.mktemp("runs") / "m"
    assert main(["train", "--preset", "chorales-musegan-hybrid", "--kimg", "0.1", "--minutes", "0",
                 "--set", "model_args.g_width=32", "--set", "model_args.d_width=8", "--set", "batch_size=16",
                 "--set", "sample_count=4", "--out", str(out)]) == 0
    return out


def test_sample_writes_midi_wav_and_png_the_same_twice(music_run: Path, tmp_path: Path) -> None:
    digest = content_digest                             # content and signed claim, without the time

    for run in ("a", "b"):
        proc = run_cli("sample", str(music_run), "--n", "2", "--seed", "3", "--format", "midi,wav,png",
                       "--out-dir", str(tmp_path / run), "--set", "tempo=90")
        assert proc.returncode == 0, proc.stderr
    a = digest(tmp_path / "a")
    assert sorted(a) == [f"seed000{i}.{s}" for i in (3, 4) for s in ("mid", "png", "wav")]
    assert a == digest(tmp_path / "b")
    from ganvas.music.midi import read_midi

    parts, length, tempo = read_midi(tmp_path / "a" / "seed0003.mid")
    assert abs(tempo - 90) < 1e-3 and length <= 64 and {p.program for p in parts} == {19}
    assert_one_line_error(run_cli("sample", str(music_run), "--format", "mp3", "--out-dir", str(tmp_path / "c")),
                          "music outputs can be written as midi, wav, png; got mp3")
    assert_one_line_error(run_cli("sample", str(music_run), "--set", "colour=red", "--out-dir", str(tmp_path / "c")),
                          "unknown output option of the music domain 'colour'")
    proc = run_cli("sample", str(music_run), "--n", "1", "--format", "wav", "--out-dir", str(tmp_path / "d"),
                   "--set", "audio=fluidsynth", env_path="")
    assert_one_line_error(proc, "fluidsynth is not installed", "fluid-soundfont-gm")


def test_python_api_and_the_music_report(music_run: Path) -> None:
    import ganvas
    from ganvas.data.dataset import load_dataset
    from ganvas.eval.music_metrics import music_metrics
    from ganvas.eval.music_report import music_report

    G = ganvas.load(music_run)
    pics = G.sample(2, seed=0, pil=True)
    assert len(pics) == 2 and pics[0].size[0] == 64 * 3
    generated = G.domain.to_array(G.sample(8, seed=0))
    assert generated.shape == (8, 4, 64, 46) and generated.max() <= 1
    training = load_dataset("chorales", 0).arrays["x"]
    report = music_report(generated, training, G.model.spec.domain_args, n_audio=1, audio="builtin")
    table = report.metrics["table"]
    assert len(table) == 8 * 4 + 6                                 # 8 metrics × 4 voices + 6 voice pairs
    real = music_metrics(training, 36, ["Soprano", "Alto", "Tenor", "Bass"])
    row = next(r for r in table if r["metric"] == "empty_bar_rate" and r["track"] == "Bass")
    assert row["training"] == real["per_track"]["empty_bar_rate"][3]
    html = report.html
    assert html.count("<audio controls") == 2 and html.count('src="data:audio/wav;base64,') == 2
    assert html.count('src="data:image/png;base64,') == 2 and "tonal distance (TD)" in html
    assert "<script" not in html
