"""Every way an output leaves ganvas — `ganvas sample` (images, music, text, style mixes, sheets), `translate`,
`explore` (interpolate, directions, breed, render, project), the studio's downloads and the REST API — writes
a watermarked picture or a file with its signed manifest: each file is checked with `ganvas verify`'s code."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.cli import main
from ganvas.publish.verify import VERIFIED, verify_file

DC, SG, MU, PX = "emoji-dcgan", "nested/emoji-stylegan", "chorales-musegan", "fonts-pix2pix"
PICTURES = (".png", ".gif", ".webp")
STUB = False


def published(folder: Path, *, expect: int | None = None, watermark: bool = True) -> list[Path]:
    """Every output file in `folder` (sidecars aside): verified, pictures watermarked with the manifest's payload."""
    kinds = (".png", ".gif", ".webp", ".mid", ".wav", ".txt", ".json")
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.endswith(".ganvas.json")
                   and p.name != "provenance.json" and p.suffix in kinds)
    assert files, f"nothing written in {folder}"
    if expect is not None:
        assert len(files) == expect, [f.name for f in files]
    for f in files:
        check(f, watermark)
    return files


def check(path: Path, watermark: bool = True) -> None:
    v = verify_file(path)
    assert v.status == VERIFIED, (path.name, v.problems)
    assert v.made_by["dataset"], path.name
    if path.suffix in PICTURES:
        assert v.watermark is not None
        assert v.watermark["found"] is watermark or STUB, (path.name, v.watermark)
        if watermark and not STUB:
            assert v.watermark["agrees"] == "matches the manifest", (path.name, v.watermark)
    if path.suffix in (".png", ".wav"):
        assert v.c2pa["present"] and v.c2pa["valid"], (path.name, v.c2pa)


def test_sample_images_grids_sheets_and_style_mixes(studio_runs: Path, tmp_path: Path) -> None:
    assert main(["sample", str(studio_runs / DC), "--n", "3", "--out-dir", str(tmp_path / "each"),
                 "--grid", str(tmp_path / "grid" / "grid.png")]) == 0
    published(tmp_path / "each", expect=3)
    published(tmp_path / "grid", expect=1)
    assert main(["sample", str(studio_runs / DC), "--n", "4", "--pixel-scale", "2",
                 "--sheet", str(tmp_path / "sheet" / "sheet.png")]) == 0
    check(tmp_path / "sheet" / "sheet.png", watermark=False)           # pixel art: its palette stays exact
    claim = json.loads(Image.open(tmp_path / "sheet" / "sheet.png").text["ganvas:manifest"])["claim"]
    assert claim["watermark"]["reason"].startswith("pixel art")
    assert json.loads((tmp_path / "sheet" / "sheet.json").read_text())["meta"]["image"] == "sheet.png"
    assert main(["sample", str(studio_runs / SG), "--style-mix", "1,2", "3", "--out-dir", str(tmp_path / "mix"),
                 "--grid", str(tmp_path / "mixgrid" / "mix.png")]) == 0
    published(tmp_path / "mix", expect=2)
    published(tmp_path / "mixgrid", expect=1)


def test_no_watermark_is_a_choice_the_manifest_records(studio_runs: Path, tmp_path: Path) -> None:
    assert main(["sample", str(studio_runs / DC), "--n", "1", "--out-dir", str(tmp_path), "--no-watermark"]) == 0
    (path,) = published(tmp_path, watermark=False)
    claim = json.loads(Image.open(path).text["ganvas:manifest"])["claim"]
    assert claim["watermark"] == {"embedded": False, "reason": "turned off (--no-watermark)"}
    assert claim["provenance"]["publish"] == {"watermark": False, "guard": "flag"}


def test_the_watermark_is_invisible(studio_runs: Path, tmp_path: Path) -> None:
    import ganvas

    G = ganvas.load(studio_runs / DC)
    assert main(["sample", str(studio_runs / DC), "--n", "2", "--seed", "4", "--out-dir", str(tmp_path)]) == 0
    plain = G.domain.to_array(G.sample(2, seed=4))
    for i, want in enumerate(plain):
        got = np.asarray(Image.open(tmp_path / f"seed{4 + i:04d}.png").convert("RGB")).astype(float)
        mse = ((got - want) ** 2).mean()
        assert 10 * np.log10(255 ** 2 / max(mse, 1e-9)) > 30


def test_sample_music_and_text(studio_runs: Path, text_run: Path, tmp_path: Path) -> None:
    assert main(["sample", str(studio_runs / MU), "--n", "1", "--out-dir", str(tmp_path / "music"),
                 "--set", "audio=builtin"]) == 0
    files = published(tmp_path / "music", expect=3)
    assert sorted(p.suffix for p in files) == [".mid", ".png", ".wav"]
    assert main(["sample", str(text_run), "--n", "2", "--out-dir", str(tmp_path / "text"),
                 "--format", "txt,png,json", "--guard", "off"]) == 0
    files = published(tmp_path / "text", expect=6)
    assert all((tmp_path / "text" / f"{p.name}.ganvas.json").exists() for p in files if p.suffix != ".png")


def test_translate_and_explore(studio_runs: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 60 + 100 * i, np.uint8)).save(inputs / f"in{i}.png")
    assert main(["translate", str(studio_runs / PX), str(inputs), "--out-dir", str(tmp_path / "tr"),
                 "--sheet", str(tmp_path / "trsheet" / "sheet.png")]) == 0
    published(tmp_path / "tr", expect=2)
    published(tmp_path / "trsheet", expect=1)
    run = str(studio_runs / DC)
    assert main(["explore", "interpolate", run, "1", "2", "--steps", "3", "--animation", str(tmp_path / "i" / "a.gif"),
                 "--strip", str(tmp_path / "i" / "strip.png"), "--out-dir", str(tmp_path / "i" / "frames")]) == 0
    published(tmp_path / "i", expect=5)
    assert (tmp_path / "i" / "a.gif.ganvas.json").exists()
    assert main(["explore", "directions", run, "--count", "2", "--steps", "3", "--samples", "256",
                 "--grid", str(tmp_path / "d" / "dirs.png")]) == 0
    assert main(["explore", "breed", run, "1", "2", "--n", "2", "--save", str(tmp_path / "children.safetensors"),
                 "--out-dir", str(tmp_path / "b")]) == 0
    assert main(["explore", "render", run, "--seed", "5", "--edit", "0:1", "--out", str(tmp_path / "r" / "r.png")]) == 0
    assert main(["explore", "project", run, str(inputs / "in1.png"), "--steps", "3", "--out-dir",
                 str(tmp_path / "p")]) == 0
    for folder, n in (("d", 1), ("b", 2), ("r", 1)):
        published(tmp_path / folder, expect=n)
    check(tmp_path / "p" / "reconstruction.png")
    check(tmp_path / "p" / "compare.png")


def test_music_morph_is_published(studio_runs: Path, tmp_path: Path) -> None:
    assert main(["explore", "interpolate", str(studio_runs / MU), "1", "2", "--steps", "2", "--out-dir",
                 str(tmp_path), "--format", "midi"]) == 0
    assert [p.name for p in published(tmp_path, expect=3)] == ["frame000.mid", "frame001.mid", "morph.mid"]


@pytest.fixture(scope="module")
def services(studio_runs: Path):
    from ganvas.studio.services import Services
    from ganvas.studio.state import StudioState

    return Services.over(StudioState(studio_runs))


def unzip(data: bytes, where: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(where)
    return where


def test_studio_exports_downloads_and_the_rest_api(services, tmp_path: Path) -> None:
    from ganvas.studio import schemas as S

    for model, fmt in ((DC, "png"), (MU, "midi"), (MU, "wav")):
        f = services.export.export(model, S.RecipeIn(seed=3), fmt)
        path = tmp_path / f"export-{model.replace('/', '_')}.{'mid' if fmt == 'midi' else fmt}"
        path.write_bytes(f.data)
        check(path)
    png = services.export.render_png(SG, S.RecipeIn(seed=2, truncation=0.7))      # REST: ?format=png
    (tmp_path / "render.png").write_bytes(png.data)
    check(tmp_path / "render.png")
    z = services.export.download(DC, S.DownloadIn(items=[S.RecipeIn(seed=1), S.RecipeIn(seed=2)]))
    published(unzip(z.data, tmp_path / "zip"), expect=2)


def test_studio_text_and_sketch_downloads(text_run: Path, sketch_runs: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ganvas.studio.app import create_app

    runs = tmp_path / "runs"
    shutil.copytree(text_run, runs / "poems")
    with TestClient(create_app(runs), base_url="http://127.0.0.1") as c:
        r = c.post("/api/models/poems/write/download", json={"items": [{"seed": 1}, {"seed": 2}]})
        assert r.status_code == 200, r.text
    published(unzip(r.content, tmp_path / "texts"))
    model = "emoji-sketch"
    buf = io.BytesIO()
    im = Image.new("RGB", (64, 64), "white")
    from PIL import ImageDraw

    ImageDraw.Draw(im).ellipse((10, 10, 54, 54), outline="black", width=3)
    im.save(buf, "PNG")
    with TestClient(create_app(sketch_runs), base_url="http://127.0.0.1") as c:
        z = c.post(f"/api/models/{model}/sketch?download=true", content=buf.getvalue(),
                   headers={"Content-Type": "image/png"})
        assert z.status_code == 200, z.text
    check(unzip(z.content, tmp_path / "sketch") / "output.png")


def test_the_studio_verifies_an_uploaded_file_as_the_command_does(studio_runs: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ganvas.studio.app import create_app

    with TestClient(create_app(studio_runs, max_upload_pixels=1_000_000), base_url="http://127.0.0.1") as c:
        made = c.post(f"/api/models/{DC}/export?format=png", json={"seed": 4})
        assert made.status_code == 200
        r = c.post("/api/verify?filename=seed4.png", content=made.content,
                   headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        v = r.json()
        assert v["status"] == VERIFIED and v["watermark"]["found"] and v["made_by"]["model"] == DC
        assert v["lines"][0] == "seed4.png: VERIFIED"
        form = c.post("/api/verify", files={"file": ("x.png", made.content, "image/png")})
        assert form.json()["status"] == VERIFIED
        stripped = io.BytesIO()
        Image.open(io.BytesIO(made.content)).save(stripped, "JPEG", quality=90)
        v = c.post("/api/verify", files={"file": ("x.jpg", stripped.getvalue(), "image/jpeg")}).json()
        assert v["status"] == "not verified" and v["manifest"] == "absent" and v["watermark"]["found"]
        assert c.post("/api/verify", content=b"nonsense").json()["status"] == "error"
        bomb = io.BytesIO()
        Image.new("L", (2000, 2000)).save(bomb, "PNG")
        assert c.post("/api/verify", content=bomb.getvalue()).status_code == 413
        g = c.post(f"/api/models/{DC}/guard", json={"seed": 4})
        assert g.status_code == 200 and "describe" in g.json()
