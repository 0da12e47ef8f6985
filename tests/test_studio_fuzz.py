"""A property-based fuzz of the studio's REST API against the schema a live server publishes.

`ganvas studio` runs on a copy of the test models; schemathesis reads its /openapi.json and, for
every operation, Hypothesis generates requests that fit the schema (positive) and requests that
break it (negative), for each model and for made-up model names. Every answer must be a status
the schema declares, with the declared content type and body shape, never a 5xx, never a
traceback. The examples are derandomized (the same requests on every run and machine) and few,
so the whole fuzz takes well under a minute; regression tests for what it found are in
tests/test_studio_api.py and tests/test_studio_security.py.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import schemathesis
from conftest import REPO
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ganvas.studio.launch import StudioDidNotStart, running_studio

MODELS = ["emoji-dcgan", "nested/emoji-stylegan", "chorales-musegan", "fonts-pix2pix", "poems"]
# every operation of the API, with the examples tried for each (each kind of request, positive and negative)
OPERATIONS = {
    "GET /api/health": 2,
    "GET /api/models": 2,
    "GET /api/models/{model}": 10,
    "GET /api/jobs/{job_id}": 8,
    "DELETE /api/jobs/{job_id}": 8,
    "GET /api/models/{model}/directions": 6,            # each new direction set is computed: the dearest
    "GET /api/models/{model}/directions/grid": 6,
    "GET /api/models/{model}/directions/names": 6,      # each new set is computed, then its outputs measured
    "GET /api/models/{model}/units": 6,                 # each new layer/sample count is dissected
    "POST /api/models/{model}/seeds": 12,
    "POST /api/models/{model}/render": 12,
    "POST /api/models/{model}/interpolate": 12,
    "POST /api/models/{model}/breed": 12,
    "POST /api/models/{model}/provenance": 12,
    "POST /api/models/{model}/export": 12,
    "POST /api/models/{model}/download": 12,
    "POST /api/models/{model}/project": 12,
    "POST /api/models/{model}/translate": 12,
    "POST /api/models/{model}/sketch": 12,
    "POST /api/models/{model}/write": 12,
    "POST /api/models/{model}/write/export": 12,
    "POST /api/models/{model}/write/download": 12,
    "POST /api/models/{model}/guard": 12,
    "POST /api/models/{model}/kept": 12,               # the first keep of a model builds its scorer
    "POST /api/verify": 12,
    "POST /api/models/{model}/why": 12,
    "POST /api/models/{model}/why/upload": 12,
}
# MuseGAN's activation directions take seconds per set of 2,000 samples on a slow CPU, and each new set
# is computed: its direction sets are fuzzed with 32 samples, and its direction grids (2,000) not at all
SLOW = "chorales-musegan"
TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"\n]*", line \d+')


@pytest.fixture(scope="module")
def live(studio_runs: Path, text_run: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A studio of its own (on a copy: the fuzz fills the runs folder's direction caches), with a text model."""
    tmp = tmp_path_factory.mktemp("fuzz")
    runs = tmp / "runs"
    shutil.copytree(studio_runs, runs, symlinks=True)
    shutil.copytree(text_run, runs / "poems")
    log = tmp / "studio.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(log, "w") as out:
        try:
            with running_studio(runs, env=env, stdout=out, cwd=REPO, args=["--max-upload-mb", "1"]) as (url, _):
                yield url
        except StudioDidNotStart as exc:
            raise AssertionError(f"{exc}: {log.read_text()}") from None


@pytest.fixture(scope="module")
def schema(live: str):
    return schemathesis.openapi.from_url(f"{live}/openapi.json")


@schemathesis.check
def no_traceback(ctx, response, case) -> bool:
    text = response.content.decode("utf-8", "replace") if response.content else ""
    found = TRACEBACK.search(text)
    assert found is None, f"a traceback in the answer: {text[max(0, found.start() - 100):found.end() + 200]}"
    return True


def meaningful(case):
    """A schema-valid case made likelier to get past ganvas's own checks, so outputs are made and their
    answers checked too: each code (a recipe, an end, a parent, an item) gets exactly one of a seed or a
    latent, which the schema cannot say (and edits refer to the default direction set); a text request asks
    for no codes or constraints at a usual temperature."""
    body = case.body
    if isinstance(body, dict) and "/write" in case.operation.path:      # texts: plain requests, so texts are written
        for r in body.get("items") or [body]:
            if isinstance(r, dict):
                for key in ("codes", "acrostic", "keywords", "first_line"):
                    r.pop(key, None)
                r["temperature"] = 0.8
        return case
    if isinstance(body, dict):
        ends = {"render": [body], "provenance": [body], "export": [body], "interpolate": [body.get("a"), body.get("b")],
                "breed": body.get("parents"), "download": body.get("items"),
                "kept": [body]}.get(case.operation.path.rsplit("/")[-1])
        for end in ends or []:
            if isinstance(end, dict):
                end.pop("directions", None)             # the default set: a new one costs seconds to compute
                if end.get("seed") is not None:
                    end.pop("latent", None)
                elif end.get("latent") is None:
                    end["seed"] = 7
    return case


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          no_traceback]


def test_the_fuzz_covers_every_operation(schema) -> None:
    live_ops = {result.ok().label for result in schema.get_all_operations()}
    assert live_ops == set(OPERATIONS)


@pytest.mark.parametrize("label", list(OPERATIONS))
def test_fuzz(schema, live: str, label: str) -> None:
    op = next(r.ok() for r in schema.get_all_operations() if r.ok().label == label)
    has_model = any(p.name == "model" for p in op.path_parameters)
    models = [m for m in MODELS if m != SLOW or "/directions" not in label]
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        if has_model:                                   # real models, so requests get past the name lookup
            strategies += [op.as_strategy(mode, path_parameters={"model": m}) for m in models]
        strategies.append(op.as_strategy(mode))
    if has_model:
        strategies += [op.as_strategy(path_parameters={"model": m}).map(meaningful) for m in models]
    if label.endswith("/directions"):
        strategies.append(op.as_strategy(path_parameters={"model": SLOW}, query={"samples": 32}))

    @settings(max_examples=OPERATIONS[label], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
              report_multiple_bugs=False)
    @given(case=st.one_of(strategies))
    def fuzz(case) -> None:
        response = case.call(base_url=live, timeout=120)
        case.validate_response(response, checks=CHECKS)

    fuzz()
