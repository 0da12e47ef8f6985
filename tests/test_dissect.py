"""Units, dissected (ganvas.explore.dissect, ganvas.explore.units): layers, scoped interventions in recipes,
the cached dissection, the measured effect of switching a concept's top units off beside random units, and the
CLI, REST and studio surfaces. On the session's `shapes` DCGAN (tests/conftest.py: shapes_run)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error, run_cli, studio_page

from ganvas.errors import GanvasError


@pytest.fixture(scope="module")
def G(shapes_run: Path):
    import ganvas

    return ganvas.load(shapes_run)


@pytest.fixture(scope="module")
def dissection(G):
    from ganvas.explore import dissect as DS

    return DS.get(G)


@pytest.fixture(scope="module")
def judge(G, dissection):
    from ganvas.explore import dissect as DS

    return DS.Judge(G, True)


def test_layers_default_and_one_line_errors(G) -> None:
    from ganvas.explore import units as U
    from ganvas.explore.recipe import Recipe

    names = [i.name for i in U.layers(G)]
    assert names[:3] == ["net.0", "net.1", "net.2"] and "net.10" not in names     # the 3-channel output is no layer
    assert U.default_layer(G) == "net.5"                                          # the middle ReLU (8×8)
    info = U.layer_info(G, "net.5")
    assert (info.units, info.height, info.width) == (64, 8, 8)
    for bad, needle in [({"units": [64]}, "unit 64 does not exist: layer 'net.5' has units 0-63"),
                        ({"units": [-1]}, "unit -1 does not exist"),
                        ({"units": []}, "non-empty list"),
                        ({"layer": "net.99", "units": [0]}, "no layer 'net.99' with units; layers with units: net.0"),
                        ({"units": [0], "mode": "boost"}, "mode must be one of off, up"),
                        ({"units": [0], "mode": "up", "amount": 99}, "amount must be a factor in [0, 20]"),
                        ({"units": [0], "colour": 1}, "unknown unit edit field(s) colour")]:
        with pytest.raises(GanvasError) as exc:
            Recipe.from_dict({"seed": 1, "units": [bad]}, G)
        assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_interventions_are_part_of_the_recipe_and_never_left_installed(G) -> None:
    from ganvas import explore as X
    from ganvas.explore.recipe import Recipe

    plain = X.render(G, seed=5)
    off = X.render(G, seed=5, units=[{"units": list(range(32)), "mode": "off"}])
    up = X.render(G, seed=5, units=[{"layer": "net.5", "units": [1, 2, 3], "mode": "up", "amount": 4}])
    assert (off - plain).abs().mean() > 0.02 and (up - plain).abs().mean() > 0.005
    assert not any(m._forward_hooks for m in G.model.G.modules())              # scoped to the call
    assert torch.equal(X.render(G, seed=5), plain)                               # nothing left behind
    r = Recipe.from_dict({"seed": 5, "units": [{"units": [3, 1, 3], "mode": "up"}]}, G)
    d = r.to_dict(G)
    assert d["units"] == [{"layer": "net.5", "units": [3, 1], "mode": "up", "amount": 3.0}]
    assert torch.equal(r.draw(G, r.final(G)), Recipe.from_dict(d, G).draw(G, r.final(G)))   # provenance redraws it
    assert torch.equal(off, X.render(G, seed=5, units=[{"units": list(range(32)), "mode": "up", "amount": 0}]))


def test_dissection_is_deterministic_and_cached_beside_the_run(G, dissection) -> None:
    from ganvas.explore import dissect as DS
    from ganvas.explore.ganspace import cache_dir

    d = dissection
    assert d.layer == "net.5" and d.units == 64 and d.samples == DS.DEFAULT_SAMPLES
    assert list(d.concepts)[:1] == ["foreground"] and set(d.concepts) >= {"circle", "square", "triangle"}
    files = list(cache_dir(G).glob("units-net_5-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["format"] == "ganvas-units"
    again = DS.get(G)                                                            # from the file
    assert again.to_json() == d.to_json()
    fresh = DS.compute(G, samples=32)                                            # the same seeds, the same scores
    assert fresh.concepts["foreground"].scores == DS.compute(G, samples=32).concepts["foreground"].scores
    with pytest.raises(GanvasError, match="no concept 'hat' in this dissection; concepts: foreground, "):
        d.top("hat")


def test_switching_off_a_concepts_top_units_removes_it_random_units_do_not(G, dissection, judge) -> None:
    """The done-when figure on held-out seeds: the concept falls by a clear margin, random units barely move it."""
    from ganvas.explore import dissect as DS

    # five draws of held-out seeds and random units: one random set can hold a unit that matters (on the session's
    # model one draw moved the foreground by 0.08 against the top units' 0.20; the median over five, 0.04)
    effects = [DS.effect(G, dissection, "foreground", 8, judge=judge, seed=s)
               for s in (1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000)]
    for e in effects:
        assert e.samples == 64 and not set(e.units) & set(e.random_units)
        assert e.before["foreground"] > 0.15                                     # there is something to remove
        assert e.change() < -0.5 * e.before["foreground"]                        # more than half of it goes
    change = float(np.median([abs(e.change()) for e in effects]))
    control = float(np.median([abs(e.control_change()) for e in effects]))
    assert control < 0.35 * change, [(e.change(), e.control_change()) for e in effects]   # random units: far less
    for name, delta in effects[0].others().items():                              # the classes move far less
        assert abs(delta) < 0.5 * abs(effects[0].change()), (name, delta)


def test_cli_table_pictures_and_errors(shapes_run: Path, tmp_path: Path) -> None:
    from ganvas.publish.verify import VERIFIED, verify_file

    run = tmp_path / "run"
    shutil.copytree(shapes_run, run)
    proc = run_cli("explore", "dissect", str(run), "--concept", "foreground", "--off", "8", "--effect-samples", "16",
                   "--json", "units.json", "--grid", "units.png", "--guard", "off", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "layer net.5: 64 units of 8×8" in proc.stdout and "foreground: off top units" in proc.stdout
    assert verify_file(tmp_path / "units.png").status == VERIFIED
    out = json.loads((tmp_path / "units.json").read_text())
    assert out["effect"]["change"] < 0 and len(out["dissection"]["concepts"][0]["top"]) == 8
    listed = run_cli("explore", "dissect", str(run), "--list-layers", cwd=tmp_path)
    assert "net.5" in listed.stdout and "(default)" in listed.stdout
    assert_one_line_error(run_cli("explore", "dissect", str(run), "--layer", "net.99", cwd=tmp_path),
                          "no layer 'net.99' with units")
    assert_one_line_error(run_cli("explore", "dissect", str(run), "--off", "2", "--up", "2", cwd=tmp_path),
                          "give --off K or --up K, not both")
    proc = run_cli("explore", "render", str(run), "--seed", "3", "--units", "net.5:55,62:off", "--units", "3:up:2",
                   "--out", "r.png", "--guard", "off", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from ganvas.publish import containers

    data = (tmp_path / "r.png").read_bytes()
    recipe = json.loads(containers.extract(data, containers.sniff(data)))["claim"]["provenance"]["recipe"]
    assert recipe["units"] == [{"layer": "net.5", "units": [55, 62], "mode": "off"},
                               {"layer": "net.5", "units": [3], "mode": "up", "amount": 2.0}]


@pytest.fixture(scope="module")
def shapes_runs(shapes_run: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("units-studio") / "runs"
    shutil.copytree(shapes_run, root / "shapes")
    return root


def test_rest_units_and_rendering_with_units(shapes_runs: Path) -> None:
    from fastapi.testclient import TestClient

    from ganvas.studio.app import create_app

    client = TestClient(create_app(shapes_runs), base_url="http://127.0.0.1")
    r = client.get("/api/models/shapes/units?top=4")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["default_layer"] == "net.5" and body["dissection"]["layer"] == "net.5"
    fg = body["dissection"]["concepts"][0]
    assert fg["name"] == "foreground" and len(fg["top"]) == 4
    plain = client.post("/api/models/shapes/render", json={"seed": 3}).json()
    edit = {"units": [u["unit"] for u in fg["top"]], "mode": "off"}
    edited = client.post("/api/models/shapes/render", json={"seed": 3, "units": [edit]}).json()
    assert edited["image"] != plain["image"]
    assert edited["recipe"]["units"] == [{"layer": "net.5", **edit}]                 # what provenance records
    bad = client.post("/api/models/shapes/render", json={"seed": 3, "units": [{"units": [64]}]})
    assert bad.status_code == 400 and "unit 64 does not exist: layer 'net.5' has units 0-63" in bad.json()["error"]
    bad = client.get("/api/models/shapes/units?layer=net.42")
    assert bad.status_code == 400 and "no layer 'net.42'" in bad.json()["error"]


def test_studio_units_panel_toggles_rerender_the_output(shapes_runs: Path, tmp_path: Path) -> None:
    with studio_page(shapes_runs, tmp_path / "studio.log") as (url, page, problems):
        page.goto(f"{url}/#model=shapes")
        page.wait_for_selector("#seed-grid .tile img")
        page.wait_for_function("document.getElementById('current-img').src.startsWith('data:')")
        assert page.locator("#units-box").is_visible()
        before = page.locator("#current-img").get_attribute("src")
        page.locator("#units-box summary").click()                           # opening it scores the units
        page.wait_for_selector("#units-list .unit")
        page.select_option("#units-concept", "foreground")
        assert page.locator("#units-list .unit").count() == 8
        page.click("#units-all-off")
        page.wait_for_function("document.getElementById('current-caption').textContent.includes(' off')")
        page.wait_for_function(f"document.getElementById('current-img').src !== {json.dumps(before)}")
        first = page.locator("#units-list .unit").first
        first.locator("input[value='up']").check()
        page.wait_for_function("document.getElementById('current-caption').textContent.includes(' up')")
        page.click("#units-all-on")
        page.wait_for_function("document.getElementById('current-caption').textContent === 'seed 0'")
        assert not problems, problems


def test_report_section_lists_top_units_and_the_measured_effect(G, dissection) -> None:
    import types

    from ganvas.registry import REPORT_SECTIONS

    assert "image.units" in REPORT_SECTIONS.in_order()
    (section,) = REPORT_SECTIONS.get("image.units")(types.SimpleNamespace(generator=G))
    assert section.title == "Units, dissected"
    assert "<code>net.5</code>" in section.body and "random" in section.body and "triangle" in section.body
    assert section.body.count("<img") == 1
    assert REPORT_SECTIONS.get("image.units")(types.SimpleNamespace(generator=None)) == []
