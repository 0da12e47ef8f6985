"""`ganvas translate` and the translation metrics: SSIM against scikit-image and hand cases, the
held-out evaluation, a typed line through a font model, image files, and the bad-input errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_cli
from PIL import Image
from skimage.metrics import structural_similarity
from torch import nn

from ganvas.cli import main
from ganvas.eval.translation import K1, evaluate, l1, ssim, unit


def cli_error(capsys, *args: str) -> str:
    """Run `ganvas ARGS` in-process (main() is the command's entry point) and return its one error line."""
    capsys.readouterr()
    assert main(list(args)) != 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# --- SSIM ----------------------------------------------------------------------------------------------


def test_ssim_hand_cases() -> None:
    x = torch.rand(3, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=torch.float64))
    # two flat images: no variance, so SSIM is the luminance term alone, (2μxμy + C1) / (μx² + μy² + C1)
    a, b = torch.full((1, 1, 12, 12), 0.2), torch.full((1, 1, 12, 12), 0.6)
    c1 = K1 ** 2
    assert ssim(a, b).item() == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2 ** 2 + 0.6 ** 2 + c1))
    # a pattern against its negative around the same mean: structure term −1, luminance 1, contrast 1
    stripes = torch.zeros(1, 1, 16, 16)
    stripes[..., ::2, :] = 1
    assert ssim(0.5 + 0.4 * (stripes - 0.5), 0.5 - 0.4 * (stripes - 0.5)).item() < -0.9
    with pytest.raises(ValueError, match="at least 11 px"):
        ssim(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8))


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_matches_scikit_image(channels: int) -> None:
    rng = np.random.default_rng(channels)
    x = rng.integers(0, 256, (4, 37, 29, channels), dtype=np.uint8)
    noise = rng.normal(0, 40, x.shape)
    y = np.clip(x + noise, 0, 255).astype(np.uint8)
    y[1] = 255 - x[1]                                           # and one strongly unlike pair
    ours = ssim(unit(x), unit(y)).numpy()
    theirs = [structural_similarity(xi / 255.0, yi / 255.0, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, channel_axis=2) for xi, yi in zip(x, y, strict=True)]
    np.testing.assert_allclose(ours, theirs, atol=1e-9)


def test_l1_is_on_unit_intensities() -> None:
    a = np.zeros((2, 4, 4, 1), np.uint8)
    b = np.full((2, 4, 4, 1), 51, np.uint8)
    assert l1(a, b).tolist() == pytest.approx([0.2, 0.2])


# --- a trained (a little) font model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def font_run(tmp_path_factory, cjk_built) -> Path:
    out = tmp_path_factory.mktemp("p2p") / "run"
    assert main(["train", "--model", "pix2pix", "--data", "cjk-fonts", "--resolution", "32", "--kimg", "0.016",
                 "--batch-size", "4", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                 "--set", "sample_count=4", "--out", str(out)]) == 0
    return out


def test_evaluation_scores_held_out_pairs_against_the_input_unchanged_baseline(font_run: Path, cjk_built) -> None:
    import ganvas
    from ganvas.data.dataset import load_dataset

    T = ganvas.load(font_run)
    ds = load_dataset("cjk-fonts", 32)
    real = evaluate(T, ds, sheet_count=3)
    e = real.metrics["directions"]["AtoB"]
    assert (e["from"], e["to"], e["count"]) == ("ming", "kai", len(ds.arrays["a_test"]))
    base = e["l1"]["input_unchanged"]
    assert base == pytest.approx(l1(ds.arrays["a_test"], ds.arrays["b_test"]).mean())
    assert 0 < base < 0.5 and 0 < e["ssim"]["input_unchanged"] < 1
    assert real.outputs["AtoB"].shape == ds.arrays["b_test"].shape
    assert real.sheets["AtoB"].width > 3 * 3 * 32                      # three triptychs side by side
    assert "input unchanged (baseline)" in real.html and "data:image/png;base64," in real.html
    T.model.G = nn.Identity()                                          # a model that changes nothing...
    same = evaluate(T, ds, sheet_count=3).metrics["directions"]["AtoB"]
    assert same["l1"]["model"] == pytest.approx(base)                  # ...scores exactly the baseline
    assert same["ssim"]["model"] == pytest.approx(same["ssim"]["input_unchanged"])


def test_the_report_entry_gives_metrics_and_an_html_section(font_run: Path) -> None:
    from ganvas.eval.translation import translation_report

    metrics, section = translation_report(font_run, sheet_count=2)
    assert metrics["data_unchanged"] and metrics["directions"]["AtoB"]["count"] > 0
    assert section.startswith('<section class="ganvas-translation">') and section.count("<img ") == 1
    json.dumps(metrics)                                                   # JSON-able as it is


def test_translate_evaluate_writes_metrics_triptychs_and_html(font_run: Path, tmp_path: Path) -> None:
    proc = run_cli("translate", str(font_run), "--evaluate", "--count", "4", "--out-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "AtoB ming → kai" in proc.stdout and "input unchanged" in proc.stdout
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["split"] == "held-out" and metrics["paired"]
    assert Image.open(tmp_path / "triptychs-AtoB.png").size[0] > 4 * 3 * 32
    assert "<section" in (tmp_path / "translation.html").read_text()


def test_a_typed_line_is_drawn_in_the_source_font_and_translated(font_run: Path, tmp_path: Path) -> None:
    proc = run_cli("translate", str(font_run), "--text", "春眠 不觉晓𠀀", "--out-dir", str(tmp_path),
                   "--no-watermark")                   # blank cells compared exactly below
    assert proc.returncode == 0, proc.stderr
    assert "ming → kai" in proc.stdout
    assert proc.stderr.strip() == "the font lacks 1 of 7 characters (𠀀): left blank"
    drawn = np.asarray(Image.open(tmp_path / "text-input.png"))
    out = np.asarray(Image.open(tmp_path / "text.png"))
    assert drawn.shape == out.shape == (32, 7 * 32)                   # one 32 px cell per character
    ink = [bool((drawn[:, i * 32:(i + 1) * 32] < 128).any()) for i in range(7)]
    assert ink == [True, True, False, True, True, True, False]
    assert (out[:, 2 * 32:3 * 32] == 255).all() and (out[:, 6 * 32:] == 255).all()   # space and missing: blank
    # the input is exactly what the dataset holds for these characters (same drawing, same resize)
    from ganvas.data.cjk_fonts import font_face
    from ganvas.data.dataset import resize_images
    from ganvas.data.glyphs import render_glyph

    want = resize_images(render_glyph(font_face("ming"), "春", 128)[None], 32)[0, ..., 0]
    assert np.array_equal(drawn[:, :32], want)


def test_other_fonts_and_wrong_ways_round(font_run: Path, tmp_path: Path, capsys) -> None:
    proc = run_cli("translate", str(font_run), "--text", "永", "--font", "sans", "--out-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr                           # any other source font may be used
    err = cli_error(capsys, "translate", str(font_run), "--text", "永", "--font", "kai")
    assert "turns ming → kai" in err and "AR PL UKai CN is what it writes, not what it reads" in err
    assert "translates AtoB (ming → kai) only, not BtoA" in cli_error(
        capsys, "translate", str(font_run), "--text", "永", "--direction", "BtoA")
    assert "font file '/no/font.ttf' does not exist" in cli_error(
        capsys, "translate", str(font_run), "--text", "永", "--font", "/no/font.ttf")
    assert "has none of the characters" in cli_error(capsys, "translate", str(font_run), "--text", "😀")
    assert "give exactly one of: INPUT" in cli_error(capsys, "translate", str(font_run))
    assert "got INPUT and --evaluate" in cli_error(capsys, "translate", str(font_run), "x.png", "--evaluate")
    assert_one_line_error(run_cli("sample", str(font_run)), "is a pix2pix model: it translates images")


def test_translate_refuses_a_noise_model(tmp_path: Path, emoji_built) -> None:
    run = tmp_path / "dc"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--dry-run",
                 "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--out", str(run)]) == 0
    assert_one_line_error(run_cli("translate", str(run), "--text", "永"),
                          "is a dcgan model, which generates from noise")


# --- image files through a two-way model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes_run(tmp_path_factory, translation_folder) -> Path:
    out = tmp_path_factory.mktemp("cyc") / "run"
    assert main(["train", "--model", "cyclegan", "--data", str(translation_folder), "--resolution", "32",
                 "--kimg", "0.008", "--set", "model_args.ngf=4", "--set", "model_args.ndf=4",
                 "--set", "sample_count=4", "--out", str(out)]) == 0
    return out


def test_translate_image_files_both_ways(shapes_run: Path, translation_folder: Path, tmp_path: Path,
                                        capsys) -> None:
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    for i, p in enumerate(sorted((translation_folder / "testA").iterdir())[:3]):
        Image.open(p).resize((50, 60)).save(inputs / f"icon{i}.png")    # any size: squared like the training data
    Image.open(p).save(inputs / "sub" / "icon0.png")                    # the same name in another folder
    (inputs / "notes.txt").write_text("not an image")
    whole = (inputs / "icon0.png").read_bytes()
    (inputs / "broken.png").write_bytes(whole[: len(whole) // 2])      # truncated
    proc = run_cli("translate", str(shapes_run), str(inputs), "--out-dir", str(tmp_path / "out"),
                   "--sheet", str(tmp_path / "sheet.png"))
    assert proc.returncode == 0, proc.stderr
    assert "wrote 4 translated images (A → B)" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == "skipped 2 of 6 files in the inputs: 1 not an image, 1 unreadable"
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["icon0-2.png", "icon0.png", "icon1.png", "icon2.png"]
    assert Image.open(tmp_path / "out" / "icon1.png").size == (32, 32)
    assert (tmp_path / "sheet.png").exists()
    capsys.readouterr()
    assert main(["translate", str(shapes_run), str(inputs / "icon1.png"), "--direction", "BtoA",
                 "--out-dir", str(tmp_path / "back")]) == 0
    assert "(B → A)" in capsys.readouterr().out
    assert "does not exist" in cli_error(capsys, "translate", str(shapes_run), str(tmp_path / "nothing.png"))
    assert "no usable input images (skipped 1 of 1 files in the inputs: 1 not an image)" in cli_error(
        capsys, "translate", str(shapes_run), str(inputs / "notes.txt"))
    assert "not from a font; give --font" in cli_error(capsys, "translate", str(shapes_run), "--text", "永")
    assert "unknown direction 'sideways'" in cli_error(
        capsys, "translate", str(shapes_run), str(inputs), "--direction", "sideways")


def test_unpaired_evaluation_shows_the_round_trip(shapes_run: Path, tmp_path: Path) -> None:
    import ganvas
    from ganvas.data.dataset import load_dataset

    T = ganvas.load(shapes_run)
    assert T.directions == ["AtoB", "BtoA"]
    ds = load_dataset(T.meta["config"]["data"], 32, layout="unpaired")
    result = evaluate(T, ds, sheet_count=2)
    for direction in ("AtoB", "BtoA"):
        e = result.metrics["directions"][direction]
        assert 0 <= e["round_trip_l1"] <= 1 and 0 <= e["change_l1"] <= 1 and "l1" not in e
    assert "translated back" in result.html
