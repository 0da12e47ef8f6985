"""Licences that travel: every built-in set's SPDX ids and notice, conflicts between licences, the card,
the run's record, the warning at training start and `ganvas credits`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganvas.cli import main
from ganvas.data import DATASETS
from ganvas.data.dataset import ArrayDataset, load_dataset
from ganvas.data.licences import (
    NOTICE_NAMES,
    USER,
    attribution_text,
    base_id,
    compatibility,
    family,
    fields_of,
    is_known,
    run_licences,
)


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_builtin_dataset_has_known_spdx_ids_and_a_notice_naming_them(name: str) -> None:
    builder = DATASETS.get(name)
    assert isinstance(builder.spdx, tuple) and builder.spdx, name
    assert builder.licence and builder.attribution, name
    for spdx in builder.spdx:
        assert is_known(spdx) and family(spdx) != "unknown", (name, spdx)
        assert any(words in builder.attribution for words in NOTICE_NAMES[base_id(spdx)]), (name, spdx)
    for domain, ids in getattr(builder, "domain_spdx", {}).items():      # a domain's ids are the set's
        assert domain in builder.domain_names and set(ids) <= set(builder.spdx), (name, domain)
    text = attribution_text({"name": name, "licence": builder.licence, "spdx": list(builder.spdx),
                             "attribution": builder.attribution})
    assert name in text and builder.attribution in text and builder.licence in text


def test_the_registry_covers_every_builder_module() -> None:
    """A builder added to ganvas/data without a line in DATASETS would escape the test above."""
    import importlib
    import inspect
    import pkgutil

    import ganvas.data

    registered = {DATASETS.get(n) for n in DATASETS.names()}
    for info in pkgutil.iter_modules(ganvas.data.__path__):
        module = importlib.import_module(f"ganvas.data.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and isinstance(getattr(cls, "name", None), str) \
                    and isinstance(cls.__dict__.get("licence"), str):
                assert cls in registered, f"{cls.__name__} of {module.__name__} is not in DATASETS"


@pytest.mark.parametrize(("a", "b", "conflict"), [
    ("GPL-2.0-only", "GPL-3.0-only", True),
    ("GPL-2.0-only", "GPL-3.0-or-later", True),
    ("GPL-2.0-or-later", "GPL-3.0-or-later", False),        # both can be GPL-3
    ("GPL-2.0-or-later", "GPL-2.0-only WITH Font-exception-2.0", False),
    ("GPL-3.0-only", "CC-BY-SA-3.0", True),
    ("GPL-2.0-or-later", "CC-BY-SA-4.0", False),            # BY-SA 4.0 → GPL-3 one way; v2+ can be v3
    ("GPL-2.0-only", "CC-BY-SA-4.0", True),
    ("OFL-1.1", "GPL-3.0-or-later", True),
    ("OFL-1.1", "Arphic-1999", True),
    ("Apache-2.0", "GPL-2.0-only", True),
    ("Apache-2.0", "GPL-3.0-only", False),
    ("CC0-1.0", "GPL-2.0-only", False),
    ("CC-PDDC", "OFL-1.1", False),
    ("BSD-3-Clause", "CC-BY-SA-3.0", False),
])
def test_compatibility_of_known_pairs(a: str, b: str, conflict: bool) -> None:
    warnings = compatibility({"first": [a], "second": [b]})
    assert len(warnings) == int(conflict), warnings
    if conflict:
        assert "'first'" in warnings[0] and "'second'" in warnings[0] and a in warnings[0] and b in warnings[0]
        assert "\n" not in warnings[0]


def test_unknown_licences_always_warn() -> None:
    warnings = compatibility([("my pictures", [USER])])
    assert len(warnings) == 1 and warnings[0].startswith("licence unknown: check you may use")
    assert "my pictures" in warnings[0]
    (w,) = compatibility({"odd": ["Foo-1.0"]})
    assert "Foo-1.0" in w and "licence unknown" in w
    assert compatibility({"emoji": ["OFL-1.1", "Unicode-DFS-2016"]}) == []


def test_a_translation_run_is_judged_by_its_two_domains() -> None:
    numix = {"name": "icons-papirus-numix", "translation": {"a": {"name": "papirus"}, "b": {"name": "numix"}}}
    assert [ids for _, ids in run_licences(numix)] == [["GPL-3.0-only"], ["GPL-3.0-or-later"]]   # builder's
    assert compatibility(run_licences(numix)) == []
    fonts = {"name": "cjk-fonts:sans:kai", "translation": {"a": {"name": "sans", "spdx": ["OFL-1.1"]},
                                                           "b": {"name": "kai", "spdx": ["Arphic-1999"]}}}
    (w,) = compatibility(run_licences(fonts))
    assert "sans" in w and "kai" in w and "OFL-1.1" in w and "Arphic-1999" in w
    same = {"name": "cjk-fonts", "translation": {"a": {"name": "ming"}, "b": {"name": "kai"}}}
    assert compatibility(run_licences(same)) == []


def test_card_carries_the_fields_and_an_old_card_falls_back_to_the_builder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANVAS_HOME", str(tmp_path))
    root = DATASETS.get("openclipart")().build(tmp_path / "datasets" / "openclipart", progress=False, limit=6)
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    assert card["spdx"] == ["CC-PDDC"] and "Public Domain Dedication" in card["attribution"]
    assert "- Attribution: " in (root / "README.md").read_text(encoding="utf-8")
    summary = load_dataset("openclipart", 32, progress=False).summary()
    assert summary["spdx"] == ["CC-PDDC"] and summary["attribution"] == card["attribution"]
    assert summary["excluded"] == [] and summary["licence_warnings"] == []
    old = {k: v for k, v in card.items() if k not in ("spdx", "attribution")}    # built before this change
    (root / "card.json").write_text(json.dumps(old), encoding="utf-8")
    summary = load_dataset("openclipart", 32, progress=False).summary()
    assert summary["spdx"] == ["CC-PDDC"] and summary["attribution"] == DATASETS.get("openclipart").attribution


def test_user_data_is_unknown_even_when_its_folder_shares_a_builtin_name() -> None:
    card = {"name": "emoji", "licence": "unknown (the user's own images)", "source": {"folder": "emoji"}}
    ds = ArrayDataset("emoji", "image", {"x": np.zeros((2, 4, 4, 3), np.uint8)}, card)
    assert ds.summary()["spdx"] == [USER]
    assert fields_of({"name": "somewhere/else"})["spdx"] == [USER]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(7)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8)).save(folder / f"pic{i}.png")
    return folder


@pytest.fixture(scope="module")
def dry_run(pictures: Path, tmp_path_factory) -> tuple[Path, str]:
    """A dry run on the user's pictures, one of them excluded by name; (run folder, its stderr)."""
    import contextlib
    import io

    work = tmp_path_factory.mktemp("credits")
    (work / "exclude.txt").write_text("# asked to be left out\npic3.png\n", encoding="utf-8")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["train", "--data", str(pictures), "--resolution", "32", "--dry-run", "--out", str(work / "run"),
                   "--exclude", str(work / "exclude.txt"), "--set", "model_args.ngf=8", "--set", "model_args.ndf=8"])
    assert rc == 0, err.getvalue()
    return work / "run", err.getvalue()


def test_training_warns_once_at_start_and_records_it(dry_run: tuple[Path, str]) -> None:
    run, err = dry_run
    lines = [ln for ln in err.splitlines() if ln.startswith("warning: licence unknown")]
    assert len(lines) == 1 and "check you may use these items" in lines[0]
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["dataset"]["licence_warnings"] and config["config"]["exclude"].endswith("exclude.txt")
    (meta_file,) = run.glob("checkpoints/step-*/checkpoint.json")
    dataset = json.loads(meta_file.read_text(encoding="utf-8"))["dataset"]
    assert dataset["spdx"] == [USER] and dataset["licence"].startswith("unknown")
    assert dataset["count"] == 9 and [e["key"] for e in dataset["excluded"]] == ["pic3.png"]


def test_credits_of_a_run(dry_run: tuple[Path, str], capsys) -> None:
    run, _ = dry_run
    assert main(["credits", str(run)]) == 0
    out = capsys.readouterr().out
    assert "Licence: unknown (the user's own images)" in out and "credit the people who made" in out
    assert "Excluded: 1 item(s)" in out and "pic3.png" in out and "Warning: licence unknown" in out
    (step,) = run.glob("checkpoints/step-*")
    assert main(["credits", str(step), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["spdx"] == [USER] and data["excluded"][0]["key"] == "pic3.png" and len(data["warnings"]) == 1


def test_credits_of_a_builtin_run_names_the_gpl_notice(tmp_path: Path, capsys) -> None:
    """A run folder before its first checkpoint (config.json only), trained on a GPL set."""
    builder = DATASETS.get("wesnoth-units")
    summary = {"name": "wesnoth-units", "fingerprint": "sha256:0", "count": 1, "licence": builder.licence,
               "source": {"packages": {"wesnoth-1.16-data": None}}}              # spdx, attribution: by name
    (tmp_path / "config.json").write_text(json.dumps({"config": {"exclude": ""}, "dataset": summary}))
    assert main(["credits", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SPDX: GPL-2.0-or-later" in out and "GNU General Public License version 2 or later" in out
    assert "/usr/share/common-licenses/GPL-2" in out and "Excluded: none" in out and "Warning" not in out


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p: p / "missing", "does not exist"),
    (lambda p: p, "holds no checkpoint and no config.json"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "is not a ganvas checkpoint"),
])
def test_credits_of_a_bad_run_is_one_line(make, needle: str, tmp_path: Path, capsys) -> None:
    target = make(tmp_path)
    assert main(["credits", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0] and str(target) in err[0]


# (dataset, Debian package, what its /usr/share/doc/PACKAGE/copyright says, the SPDX id that means)
DEBIAN = [
    ("emoji", "fonts-noto-color-emoji", "License:   SIL-1.1", "OFL-1.1"),
    ("emoji", "unicode-data", "UNICODE, INC. LICENSE AGREEMENT - DATA FILES AND SOFTWARE", "Unicode-DFS-2016"),
    ("openclipart", "openclipart-png", "creative commons Public Domain Dedication", "CC-PDDC"),
    ("papirus", "papirus-icon-theme", "License: GPL-3\n", "GPL-3.0-only"),
    ("icons-papirus-numix", "numix-icon-theme-circle", "License: GPL-3.0+", "GPL-3.0-or-later"),
    ("crawl-tiles", "crawl-tiles-data", "Public Domain|CC0: most of tiles", "CC0-1.0"),
    ("crawl-tiles", "crawl-tiles-data", "either version 2 of the License, or\n(at your option) any later version",
     "GPL-2.0-or-later"),
    ("wesnoth-units", "wesnoth-1.16-data", "version 2\n        or at your option any later version",
     "GPL-2.0-or-later"),
    ("cjk-fonts", "fonts-arphic-ukai", "ARPHIC PUBLIC LICENSE", "Arphic-1999"),
    ("cjk-fonts", "fonts-wqy-zenhei", "License: GPL-2 with Font embedding exception",
     "GPL-2.0-only WITH Font-exception-2.0"),
    ("cjk-fonts", "fonts-wqy-zenhei", "M+ FONTS License", "mplus"),
    ("cjk-fonts", "fonts-noto-cjk", "License: SIL-1.1", "OFL-1.1"),
    ("tang-poems", "fortunes-zh", "License: GPL-3.0+", "GPL-3.0-or-later"),
    ("fortunes-en", "fortunes", "Neither the name of the University", "BSD-3-Clause"),
]


@pytest.mark.parametrize(("name", "package", "says", "spdx"), DEBIAN)
def test_spdx_ids_agree_with_the_debian_copyright_files(name: str, package: str, says: str, spdx: str) -> None:
    path = Path(f"/usr/share/doc/{package}/copyright")
    if not path.is_file():
        pytest.skip(f"{package} is not installed")
    assert says in path.read_text(encoding="utf-8", errors="replace"), (package, says)
    assert spdx in DATASETS.get(name).spdx
