"""The studio's services without HTTP (typed requests in, typed results out), and the domain methods they
write files through (`Domain.encode`, `Domain.describe`, the formats a domain declares)."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_marked_copy
from PIL import Image

from ganvas.domains.image import ImageDomain
from ganvas.domains.music import MusicDomain
from ganvas.errors import GanvasError
from ganvas.explore import provenance as P
from ganvas.explore.recipe import Recipe
from ganvas.publish.containers import content_hash
from ganvas.studio import schemas as S
from ganvas.studio.results import Children, File, Interpolation, Item, ModelDetails, Translation
from ganvas.studio.services import Services
from ganvas.studio.services.projection import ProjectRequest
from ganvas.studio.services.translation import TranslateRequest
from ganvas.studio.state import StudioState

DC, SG, MU, PX = "emoji-dcgan", "nested/emoji-stylegan", "chorales-musegan", "fonts-pix2pix"


def decoded(data_url: str) -> bytes:
    return base64.b64decode(data_url.split(",", 1)[1])


# --- domains: files of one output ------------------------------------------------------------------------


def test_an_image_encodes_as_a_png_of_its_pixels_with_text_inside() -> None:
    d = ImageDomain()
    x = torch.rand(1, 3, 8, 6, generator=torch.Generator().manual_seed(0)) * 2 - 1
    data = d.encode(x, "png", text={"ganvas:note": "ünïcode"})
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (6, 8) and im.text == {"ganvas:note": "ünïcode"}
        assert np.array_equal(np.asarray(im), d.to_array(x)[0])
    record = {"recipe": {"seed": 3}}
    assert d.encode(x, "png", text=P.png_text(record)) == P.png_bytes(d.to_pil(x)[0], record)   # one writer
    assert d.describe() == {}                               # an image is described by its shape alone
    assert d.animation_formats == ("gif", "webp") and d.text_formats == ("png",)
    with pytest.raises(GanvasError, match="image outputs can be written as png; got midi"):
        d.encode(x, "midi")
    with pytest.raises(GanvasError, match=re.escape("a file holds one output: expected a batch of 1, got shape (2,")):
        d.encode(torch.cat([x, x]), "png")


def test_a_phrase_encodes_as_midi_wav_and_a_piano_roll_picture() -> None:
    import pretty_midi

    d = MusicDomain(pitches=12, tempo=120, audio="builtin")
    roll = np.zeros((1, 4, 16, 12), dtype=np.uint8)
    roll[0, 0, 0:4, 7] = 1                                  # soprano: one quarter note, 7 above the lowest row
    roll[0, 3, 8:16, 0] = 1                                 # bass: a half note on the lowest row
    x = d.to_tensor(roll)
    midi = pretty_midi.PrettyMIDI(io.BytesIO(d.encode(x, "midi")))
    notes = {(i.name, n.pitch, round(n.end - n.start, 3)) for i in midi.instruments for n in i.notes}
    assert notes == {("Soprano", d.low + 7, 0.5), ("Bass", d.low, 1.0)}  # 120 beats a minute: a beat is 0.5 s
    wav = d.encode(x, "wav")
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    with Image.open(io.BytesIO(d.encode(x, "png", text={"k": "v"}))) as im:
        assert im.text == {"k": "v"} and np.array_equal(np.asarray(im), np.asarray(d.to_pil(x)[0]))
    assert d.describe() == {"tracks": ["Soprano", "Alto", "Tenor", "Bass"], "tempo": 120.0}
    assert d.animation_formats == () and set(d.formats) == {"midi", "wav", "png"}
    with pytest.raises(GanvasError, match="music outputs can be written as midi, wav, png; got gif"):
        d.encode(x, "gif")


def test_no_studio_module_branches_on_a_domain_name() -> None:
    """What differs between domains is asked of the domain (formats, encode, describe), never of its name."""
    root = Path(__file__).resolve().parents[1] / "ganvas" / "studio"
    branches = [f"{p.relative_to(root)}: {line.strip()}" for p in root.rglob("*.py")
                for line in p.read_text(encoding="utf-8").splitlines()
                if re.search(r"domain\.name\s*(==|!=|in\b)|==\s*['\"](music|image)['\"]", line)]
    assert not branches, branches


# --- services ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(studio_runs: Path) -> Services:
    return Services.over(StudioState(studio_runs, max_models=4))


def test_seeds_and_renders_are_typed_items_of_the_same_pixels(services: Services) -> None:
    items = services.generation.seeds(DC, S.SeedsIn(start=3, count=2, truncation=0.7))
    assert all(isinstance(it, Item) for it in items) and [it.seed for it in items] == [3, 4]
    assert items[0].recipe == {"seed": 3, "space": "z", "truncation": 0.7, "edits": []} and items[0].edited is None
    again = services.generation.render(DC, S.RecipeIn(seed=3, truncation=0.7))
    assert again == items[0]
    png = services.export.render_png(DC, S.RecipeIn(seed=3, truncation=0.7))
    assert isinstance(png, File) and png.media_type == "image/png"
    assert_marked_copy(png.data, np.asarray(Image.open(io.BytesIO(decoded(items[0].image)))))   # a file: marked
    assert services.generation.seeds(DC, S.SeedsIn(seeds=[4]))[0] is not items[1]          # ψ is part of the key
    assert services.generation.seeds(DC, S.SeedsIn(start=4, count=1, truncation=0.7))[0] is items[1]   # kept


def test_an_edited_output_knows_its_directions_without_touching_the_recipe(services: Services) -> None:
    item = services.catalogue.generator(SG)
    body = S.RecipeIn.model_validate({"seed": 2, "edits": [{"index": 0, "amount": 2, "layers": "0-1"}],
                                      "directions": {"components": 4, "samples": 64}})
    recipe = Recipe.from_dict(body.model_dump(exclude_none=True), item.model)
    drawn = services.generation.draw(item, [recipe])
    assert drawn.directions[0] is not None and len(drawn.directions[0]) == 4
    assert set(vars(recipe)) == {f.name for f in dataclasses.fields(Recipe)}     # nothing bolted on
    out = services.generation.items(item, drawn)[0]
    assert out.edited is not None and out.recipe["directions"]["components"] == 4
    assert out.to_json()["edited"] == out.edited and "edited" not in services.generation.render(
        SG, S.RecipeIn(seed=2)).to_json()


def test_interpolation_and_breeding_answer_typed_results(services: Services) -> None:
    ends = {"a": S.EndIn(seed=1), "b": S.EndIn(seed=2)}
    path = services.generation.interpolate(DC, S.InterpolateIn(**ends, steps=3, animation="webp"))
    assert isinstance(path, Interpolation) and len(path.items) == 3
    assert path.animation is not None and path.animation.startswith("data:image/webp;base64,")
    assert "animation" not in services.generation.interpolate(DC, S.InterpolateIn(**ends, steps=2)).to_json()
    with pytest.raises(GanvasError, match="animations are made of images; 'chorales-musegan' makes music"):
        services.generation.interpolate(MU, S.InterpolateIn(**ends, steps=2, animation="gif"))
    kids = services.generation.breed(SG, S.BreedIn(parents=[S.EndIn(seed=1), S.EndIn(seed=5)], count=2, seed=9))
    assert isinstance(kids, Children) and kids.seed == 9 and kids.mode == "layers" and len(kids.items) == 2


def test_details_show_what_the_domain_describes(services: Services) -> None:
    music = services.catalogue.details(MU)
    assert isinstance(music, ModelDetails) and music.formats == ["midi", "wav", "png"]
    shown = music.to_json()["music"]
    assert shown == services.catalogue.load(MU).model.domain.describe()
    assert shown["tracks"] == ["Soprano", "Alto", "Tenor", "Bass"] and 10 <= shown["tempo"] <= 400
    image = services.catalogue.details(DC).to_json()
    assert image["formats"] == ["png"] and "image" not in image and image["explore"]["space"] == "z"
    fonts = services.catalogue.details(PX).to_json()
    assert fonts["translate"]["directions"][0]["name"] == "AtoB" and "formats" not in fonts


def test_exports_come_from_the_domain_and_slow_files_are_encoded_once(services: Services, monkeypatch) -> None:
    calls = []
    encode = MusicDomain.encode

    def counted(self, x, fmt, **kw):
        calls.append(fmt)
        return encode(self, x, fmt, **kw)

    monkeypatch.setattr(MusicDomain, "encode", counted)
    wav = services.export.export(MU, S.RecipeIn(seed=11), "wav")
    assert wav.media_type == "audio/wav" and wav.data[:4] == b"RIFF"
    again = services.export.export(MU, S.RecipeIn(seed=11), "wav").data          # encoded once, signed each time
    assert calls == ["wav"] and content_hash(again, "wav") == content_hash(wav.data, "wav")
    png = services.export.export(MU, S.RecipeIn(seed=11), "png")
    with Image.open(io.BytesIO(png.data)) as im:
        record = P.read_png(io.BytesIO(png.data))
        assert im.format == "PNG" and record["recipe"]["seed"] == 11 and record["model"]["name"] == MU
    with pytest.raises(GanvasError, match="'emoji-dcgan' makes image; its outputs export as png, not midi"):
        services.export.export(DC, S.RecipeIn(seed=1), "midi")


def test_a_download_zips_each_format_of_the_domain_with_provenance(services: Services) -> None:
    file = services.export.download(MU, S.DownloadIn(items=[S.RecipeIn(seed=1)]))
    assert file.media_type == "application/zip" and file.filename == "ganvas-chorales-musegan.zip"
    zf = zipfile.ZipFile(io.BytesIO(file.data))
    assert zf.namelist() == ["seed1.mid", "seed1.wav", "seed1.png", "latent.safetensors", "provenance.json"]
    two = services.export.download(DC, S.DownloadIn(items=[S.RecipeIn(seed=1), S.RecipeIn(seed=1)],
                                                    names=["my pick"]))
    assert zipfile.ZipFile(io.BytesIO(two.data)).namelist() == [
        "my-pick/my-pick.png", "my-pick/latent.safetensors", "my-pick/provenance.json",
        "seed1/seed1.png", "seed1/latent.safetensors", "seed1/provenance.json"]
    record = services.export.provenance(DC, S.RecipeIn(seed=3))
    assert record["recipe"] == {"seed": 3, "space": "z", "truncation": 1.0, "edits": []}
    assert record["model"]["checkpoint"].startswith(f"{DC}/checkpoints/step-")               # no server paths


def test_translation_and_projection_take_their_own_requests(services: Services) -> None:
    out = services.translation.translate(PX, TranslateRequest("AtoB", text="永 和"))
    assert isinstance(out, Translation) and len(out.items) == 3 and out.describe == "ming → kai"
    assert out.to_json()["items"][0].keys() == {"input", "output"}
    with pytest.raises(GanvasError, match="generates from codes"):
        services.translation.translate(DC, TranslateRequest("AtoB", text="a"))
    target = Image.open(io.BytesIO(services.export.render_png(DC, S.RecipeIn(seed=5)).data))
    with pytest.raises(GanvasError, match="features 'random' or 'none'"):
        services.projection.start(DC, ProjectRequest(target, steps=2, features="domain"))
    job = services.projection.start(DC, ProjectRequest(target, steps=3))
    assert job.done.wait(120) and job.state == "done", job.error
    assert job.step == 3 and job.result["projection_space"] == "z" and job.result["steps"] == 3
    assert services.projection.job(job.id) is job
