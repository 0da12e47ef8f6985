"""The command line as a person uses it: dry runs, sampling, and one-line errors for bad input."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_cli
from conftest import content_digest as digest

from ganvas.cli import main
from ganvas.config import load_preset, preset_names
from ganvas.nets import MODELS

SHIPPED_MODELS = [n for n in MODELS.names() if MODELS.get(n).__module__.startswith("ganvas.")]
TINY = ["--set", "sample_count=4"]


@pytest.mark.parametrize("model", SHIPPED_MODELS)
def test_dry_run_of_every_registered_model(model: str, tmp_path: Path, request, capsys) -> None:
    cls = MODELS.get(model)
    if cls.data_layout != "single":
        data = str(request.getfixturevalue("translation_folder"))               # A/ and B/
    else:
        data = {"image": "emoji", "music": "chorales", "text": "tang-poems"}[cls.domain]
        request.getfixturevalue(f"{data.replace('-', '_')}_built")
    out = tmp_path / model
    assert main(["train", "--model", model, "--data", data, "--dry-run", "--out", str(out)]) == 0
    assert "dry run ok" in capsys.readouterr().err
    assert (out / "final.png").exists() and (out / "metrics.jsonl").exists()
    assert list((out / "checkpoints").glob("step-*/nets.safetensors"))


def test_every_preset_is_valid_and_refers_to_registered_names() -> None:
    from ganvas.data import DATASETS

    assert "emoji-dcgan-32" in preset_names()
    for name in preset_names():
        values = load_preset(name)
        assert values["model"] in MODELS and values["data"] in DATASETS, name
        assert values.get("kimg") or values.get("minutes"), f"{name} sets no training length"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, emoji_built) -> Path:
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                 "--batch-size", "16", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8", *TINY,
                 "--out", str(out)]) == 0
    return out


def test_sample_twice_gives_identical_files(trained_run: Path, tmp_path: Path) -> None:
    for run in ("a", "b"):
        proc = run_cli("sample", str(trained_run), "--n", "6", "--seed", "5", "--truncation", "0.8",
                       "--grid", str(tmp_path / run / "grid" / "grid.png"), "--out-dir", str(tmp_path / run / "each"))
        assert proc.returncode == 0, proc.stderr
    a, b = digest(tmp_path / "a" / "each"), digest(tmp_path / "b" / "each")
    assert len(a) == 6 and a == b
    assert digest(tmp_path / "a" / "grid") == digest(tmp_path / "b" / "grid")
    proc = run_cli("sample", str(trained_run), "--n", "6", "--seed", "6", "--out-dir", str(tmp_path / "c"))
    assert digest(tmp_path / "c") != a                                     # another seed, other images


def test_python_api_matches_the_cli(trained_run: Path) -> None:
    import torch

    import ganvas

    G = ganvas.load(trained_run)
    x = G.sample(4, seed=5)
    assert x.shape == (4, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(G.sample(2, seed=5), x[:2])                         # output i is seed 5+i, whatever n
    assert torch.equal(G.sample(1, seed=7)[0], x[2])
    pics = G.sample(3, seed=1, pil=True)
    assert [p.size for p in pics] == [(32, 32)] * 3
    average = G.sample(3, seed=1, truncation=0.0)                          # ψ = 0: every latent is the mean
    assert torch.equal(average[0], average[1]) and torch.equal(average[1], average[2])
    assert G.meta["dataset"]["name"] == "emoji" and "licence" in G.meta["dataset"]


BAD = [
    (["train", "--model", "dcgna", "--dry-run"], ["unknown model 'dcgna'", "did you mean 'dcgan'"]),
    (["train", "--preset", "emoji-dcgan-33"], ["unknown preset 'emoji-dcgan-33'"]),
    (["train", "--kimg", "-1"], ["'kimg' must be >= 0"]),
    (["train", "--kimg", "abc"], ["'--kimg'", "'abc' is not a valid float"]),
    (["train", "--batch-size", "0", "--dry-run"], ["'batch_size' must be >= 1"]),
    (["train", "--resolution", "48", "--dry-run"], ["supports resolution 32 | 64 | 128, got 48"]),
    (["train", "--data", "/no/such/folder", "--dry-run"], ["data folder '/no/such/folder' does not exist"]),
    (["train", "--set", "ngf=3", "--dry-run"], ["unknown field in command line 'ngf'"]),
    (["train", "--set", "model_args.ngff=3", "--dry-run"], ["option of model 'dcgan' 'ngff'", "did you mean 'ngf'"]),
    (["train", "--loss", "wasserstein", "--dry-run"], ["unknown value for config field 'loss'"]),
    (["train", "--device", "cuda", "--dry-run"], ["--device cuda", "no CUDA device"]),
    (["train", "--model", "seed-dcgan", "--resolution", "32", "--dry-run"], ["supports resolution 64, got 32"]),
    (["sample", "nowhere"], ["checkpoint 'nowhere' does not exist"]),
    (["sample", ".", "--n", "-3"], ["'--n'", "-3 is not in the range"]),
    (["frobnicate"], ["No such command 'frobnicate'"]),
]


@pytest.mark.parametrize(("args", "needles"), BAD, ids=[" ".join(a[:3]) for a, _ in BAD])
def test_bad_input_is_one_line(args: list[str], needles: list[str], emoji_built, tmp_path: Path) -> None:
    assert_one_line_error(run_cli(*args, cwd=tmp_path), *needles)


def test_bad_data_folders_and_checkpoints_are_one_line(tmp_path: Path, trained_run: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("train", "--data", str(tmp_path / "empty"), "--dry-run"), "holds no usable images")
    (tmp_path / "model.pt").write_bytes(pickle.dumps({"weights": [1, 2]}))
    assert_one_line_error(run_cli("sample", str(tmp_path / "model.pt")), "pickle", "never unpickles")
    assert_one_line_error(run_cli("train", "--resolution", "64", "--resume", "--out", str(trained_run)),
                          "resolution=32", "cannot resume with resolution=64")
    # a checkpoint whose JSON claims another resolution than its weights
    import shutil

    forged = tmp_path / "forged"
    shutil.copytree(trained_run, forged)
    meta_path = next(forged.glob("checkpoints/step-*/checkpoint.json"))
    meta = json.loads(meta_path.read_text())
    meta["model"]["spec"]["shape"] = [3, 64, 64]
    meta_path.write_text(json.dumps(meta))
    assert_one_line_error(run_cli("sample", str(forged)), "network G_ema does not match this model")
    assert_one_line_error(run_cli("sample", str(trained_run), "--truncation", "1.5"), "ψ must be in [0, 1]")


def test_folder_with_bad_files_trains_and_reports_what_it_skipped(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "art"
    folder.mkdir()
    for i in range(5):
        Image.new("RGB", (40, 30), (40 * i, 100, 200)).save(folder / f"{i}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 garbage")
    (folder / "zero.png").write_bytes(b"")
    proc = run_cli("train", "--data", str(folder), "--resolution", "32", "--dry-run", "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "skipped 2 of 7 files" in proc.stderr and "1 zero-byte" in proc.stderr


def test_listing_commands(emoji_built, capsys) -> None:
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "emoji        built: 3655 images" in out and "openclipart" in out and "papirus" in out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "dcgan" in out and "seed-dcgan" in out and "ngf = 64" in out
    assert main(["presets"]) == 0
    assert "emoji-dcgan-32" in capsys.readouterr().out
    assert main(["config"]) == 0
    assert "loss = 'ns'  # minimax | ns" in capsys.readouterr().out
