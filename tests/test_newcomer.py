"""A newcomer's first hour (issue 19): what `ganvas` says before, during and after a run, read as they read it.

Each test runs the command in-process (`ganvas.cli.main`) and reads what it printed: the speed and budget
line and the too-small warning, the end-of-run hint of each kind of model, the user folder's shrunk
images and its skipped list in the run folder, an early refusal of a bad --resolution, the formats a
missing folder should hold, `sample --scale`, `--help` and `studio` on an empty folder.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_marked_copy
from PIL import Image
from test_data import huge_png

from ganvas.cli import main

TINY = ["--set", "model_args.ngf=8", "--set", "model_args.ndf=8", "--set", "sample_count=4", "--batch-size", "8",
        "--minutes", "0"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error(capsys, *args: str) -> str:
    code, _, err = cli(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def user_folder(root: Path, n: int = 12) -> Path:
    """A user's folder: `n` small pictures, a note, a HEIC the reader does not take, an empty file."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / f"pic{i:02d}.png")
    (root / "notes.txt").write_text("my notes")
    (root / "holiday.heic").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (root / "empty.jpg").write_bytes(b"")
    return root


# --- 1. expectations: the measured speed, the budget's duration, a too-small budget ------------------------

def test_a_short_run_on_a_small_set_is_told_its_speed_and_what_to_change(tmp_path: Path, capsys,
                                                                          monkeypatch) -> None:
    """With the quiet threshold and the warm-up shortened (a test cannot train for 30 s), a tiny run at 64 px
    on 12 images says its measured speed and that its budget is far too small, with the three remedies."""
    from ganvas.app import expectations
    from ganvas.train import loop

    monkeypatch.setattr(expectations, "QUIET_S", 0.0)
    warmup = loop.Warmup
    monkeypatch.setattr(loop, "Warmup", lambda: warmup(min_steps=2, min_s=0.0))
    folder = user_folder(tmp_path / "mine")
    code, _, err = cli(capsys, "train", "--data", folder, "--resolution", "64", *TINY, "--kimg", "0.04",
                       "--out", tmp_path / "run")
    assert code == 0, err
    speed = next(ln for ln in err.splitlines() if ln.startswith("speed: "))
    assert "images/s, measured on this run's first steps" in speed and "--kimg 0.04 ends the run" in speed
    warn = next(ln for ln in err.splitlines() if "kimg (thousand images shown to D)" in ln)
    assert warn.startswith("warning: ") and "far too little for a GAN: expect noise or blobs" in warn
    assert "--kimg 64" in warn and "--resolution 32" in warn and "--set augment=diffaugment (12 images" in warn


def test_the_rule_names_minutes_and_says_nothing_to_a_run_of_seconds(capsys) -> None:
    """The user's case of the issue (198 images at 64 px for 2 minutes, ~60 images/s): warned, with the
    minutes that reach 64 kimg at that speed; a budget over the floor is not warned; a 10 s run hears nothing."""
    from types import SimpleNamespace

    from ganvas.app.expectations import Expectations
    from ganvas.config import TrainConfig

    def said(images: int, rate: float, **cfg) -> str:
        capsys.readouterr()
        config = TrainConfig().with_overrides({"resolution": 64, **cfg})
        run = SimpleNamespace(progress=SimpleNamespace(nimg=0, elapsed_s=0.0, step=0), max_steps=None)
        Expectations(config, images, True, (32, 64, 128))(run, rate)
        return capsys.readouterr().err

    err = said(198, 60.0, minutes=2.0, kimg=0.0)
    assert "--minutes 2 ends the run in about 2 min, at 7.2 kimg" in err
    assert "7.2 kimg (thousand images shown to D) is far too little" in err
    assert "--minutes 18 reaches 64 kimg" in err and "--resolution 32" in err and "198 images" in err
    long = said(5000, 60.0, minutes=30.0, kimg=0.0)         # 108 kimg: a speed line, no warning
    assert "speed: 60 images/s" in long and "warning" not in long
    assert said(198, 60.0, minutes=10 / 60, kimg=0.0) == ""


def test_tiny_runs_stay_quiet_and_the_status_line_says_time_left() -> None:
    from ganvas.train.loop import Warmup, clock

    w = Warmup(min_steps=3, min_s=1.0)
    assert [w.add(0.5, 64) for _ in range(5)] == [False, False, False, True, False]   # first step left out
    assert w.images_per_s == pytest.approx(128.0)
    assert clock(42) == "0:42" and clock(3725) == "1:02:05"


# --- 2. the hint at the end of a run -------------------------------------------------------------------------

def test_the_end_of_run_hint_fits_the_kind_of_model(tmp_path: Path, capsys, translation_folder,
                                                    chorales_built, tang_poems_built) -> None:
    code, _, err = cli(capsys, "train", "--model", "pix2pix", "--data", translation_folder, "--resolution", "32",
                       "--kimg", "0.008", *TINY, "--out", tmp_path / "p2p")
    assert code == 0, err
    assert f"translate:   ganvas translate {tmp_path / 'p2p'} YOUR-IMAGES/" in err and "more images" not in err
    code, _, err = cli(capsys, "train", "--preset", "chorales-musegan-hybrid", "--kimg", "0.016", "--minutes", "0",
                       "--set", "model_args.g_width=16", "--set", "model_args.d_width=8", "--set", "batch_size=8",
                       "--set", "sample_count=4", "--out", tmp_path / "music")
    assert code == 0, err
    assert f"listen:      ganvas sample {tmp_path / 'music'} --n 8 --out-dir music --format midi,wav" in err
    code, _, err = cli(capsys, "train", "--preset", "tang-poems-ctrl", "--kimg", "0.064", "--minutes", "0",
                       "--set", "model_args.hidden=32", "--set", "model_args.embed=16", "--set", "model_args.layers=1",
                       "--set", "sample_count=4", "--out", tmp_path / "poems")
    assert code == 0, err
    assert f"more texts:  ganvas sample {tmp_path / 'poems'} --n 8 --code 七绝 --out-dir texts" in err


# --- 3. user folders ----------------------------------------------------------------------------------------

def test_images_over_the_limit_are_read_smaller_and_bombs_still_refused(tmp_path: Path, capsys) -> None:
    from ganvas.data.folder import load_folder

    root = tmp_path / "big"
    root.mkdir()
    huge_png(root / "scan.png", 7200)                                        # 52 MP: decoded, then reduced
    Image.new("RGB", (8200, 6000), (200, 30, 30)).save(root / "photo.jpg", quality=80)   # 49 MP: DCT-scaled
    huge_png(root / "bomb.png", 20000)                                       # 400 MP: never opened
    ds = load_folder(root, 32, progress=False)
    err = capsys.readouterr().err
    assert len(ds) == 2 and ds.card["shrunk"] == 2 and ds.card["skipped"] == {"too large": 1}
    assert "read 2 image(s) of over 40 million pixels at a reduced size" in err
    assert "photo.jpg (8200×6000 read at 4100×3000)" in err and "scan.png (7200×7200 read at 3600×3600)" in err
    colours = {tuple(int(v) for v in ds.arrays["x"][i, 16, 16]) for i in range(2)}
    assert colours == {(0, 0, 0), (200, 30, 30)} or all(  # JPEG rounding of the red
        min(sum(abs(a - b) for a, b in zip(c, ref, strict=True)) for ref in ((0, 0, 0), (200, 30, 30))) < 12
        for c in colours)


def test_the_files_left_out_are_listed_plainly_in_the_run_folder(tmp_path: Path, capsys) -> None:
    folder = user_folder(tmp_path / "mine")
    code, _, err = cli(capsys, "train", "--data", folder, "--resolution", "32", *TINY, "--kimg", "0.016",
                       "--out", tmp_path / "run")
    assert code == 0, err
    assert f"3 file(s) of {folder} were left out of the data; the list, with why, is in {tmp_path / 'run'}" in err
    listed = (tmp_path / "run" / "skipped.txt").read_text(encoding="utf-8").splitlines()
    assert listed[0].startswith("# 3 file(s) of") and "were left out of this run's data" in listed[0]
    lines = {ln.split(":")[0]: ln for ln in listed if ln and not ln.startswith("#")}
    assert set(lines) == {"empty.jpg", "holiday.heic", "notes.txt"}
    assert "the file is empty (0 bytes)" in lines["empty.jpg"]
    assert "not a file ganvas reads as an image (.png .jpg .jpeg .webp)" in lines["holiday.heic"]


def test_a_bad_resolution_is_refused_before_the_folder_is_read(tmp_path: Path, capsys) -> None:
    from ganvas.data import data_home

    folder = user_folder(tmp_path / "mine")
    before = set((data_home() / "folders").glob("*")) if (data_home() / "folders").exists() else set()
    line = one_error(capsys, "train", "--data", folder, "--resolution", "48", "--kimg", "1")
    assert line == "error: model 'dcgan' supports resolution 32 | 64 | 128, got 48"
    after = set((data_home() / "folders").glob("*")) if (data_home() / "folders").exists() else set()
    assert after == before                                    # nothing decoded, no cache made


def test_a_missing_folder_says_what_it_should_hold(tmp_path: Path, capsys) -> None:
    line = one_error(capsys, "train", "--data", tmp_path / "my-drawings", "--kimg", "1")
    assert f"data folder '{tmp_path / 'my-drawings'}' does not exist" in line
    assert "a folder of images (.png .jpg .jpeg .webp" in line and "built-in dataset name" in line


# --- 5. sample --scale ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, emoji_built) -> Path:
    out = tmp_path_factory.mktemp("newcomer") / "emoji"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", *TINY, "--kimg", "0.016",
                 "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("filter_name", ["nearest", "lanczos"])
def test_sample_scale_enlarges_and_still_watermarks_and_signs(tiny_run: Path, tmp_path: Path, capsys,
                                                              filter_name: str) -> None:
    import ganvas
    from ganvas.domains.image import SCALE_FILTERS

    code, out, err = cli(capsys, "sample", tiny_run, "--n", "2", "--seed", "3", "--scale", "4", "--filter",
                         filter_name, "--out-dir", tmp_path / "big", "--guard", "off")    # the guard: tested elsewhere
    assert code == 0, err
    G = ganvas.load(tiny_run)
    for i, image in enumerate(G.sample(2, seed=3, pil=True)):
        data = (tmp_path / "big" / f"seed{3 + i:04d}.png").read_bytes()
        assert Image.open(io.BytesIO(data)).size == (128, 128)
        want = np.asarray(image.resize((128, 128), SCALE_FILTERS[filter_name]))
        assert_marked_copy(data, want)          # the enlarged picture, watermarked, signed and verified


def test_sample_scale_refusals(tiny_run: Path, capsys) -> None:
    assert "--scale must be a whole number from 1 to 16, got 0" in one_error(capsys, "sample", tiny_run,
                                                                             "--scale", "0")
    assert "add --scale N" in one_error(capsys, "sample", tiny_run, "--filter", "nearest")
    assert "--pixel-scale K keeps exact blocks" in one_error(capsys, "sample", tiny_run, "--scale", "2",
                                                             "--pixel-scale", "2")


# --- 6. --help and the studio on an empty folder ----------------------------------------------------------------

def test_help_lists_every_command_with_its_whole_description(capsys) -> None:
    from ganvas.cli import app

    code, out, _ = cli(capsys, "--help")
    assert code == 0
    listing = out.split("Commands:", 1)[1]
    assert "..." not in listing
    flat = " ".join(listing.split())
    for name in ("credits", "evaluate", "sample", "train", "verify"):
        first = app.commands[name].help.split("\n\n")[0]
        sentence = " ".join(first.split(". ")[0].split())
        assert sentence.rstrip(".") in flat, name


def test_studio_on_an_empty_folder_says_how_to_train_one(tmp_path: Path, capsys, monkeypatch) -> None:
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: served.append(sockets))
    (tmp_path / "runs").mkdir()
    code, _, err = cli(capsys, "studio", tmp_path / "runs", "--port", "0")
    for sock in served[0] if served else []:
        sock.close()
    assert code == 0 and len(served) == 1                    # it still starts: runs appear as they are written
    assert "0 model(s)" in err and "no trained models here yet" in err
    assert f"ganvas train --preset emoji-dcgan-32 --out {tmp_path / 'runs' / 'emoji-dcgan-32'}" in err
    line = one_error(capsys, "studio", tmp_path / "nowhere")
    assert "runs folder" in line and "does not exist" in line and "ganvas train --preset emoji-dcgan-32" in line
