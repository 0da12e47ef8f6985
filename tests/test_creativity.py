"""The creativity report: novelty, value and style ambiguity per output, the novelty–value map, what the studio's
keeps predict, the report section, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ganvas.errors import GanvasError
from ganvas.eval.creativity import (
    CreativityScores,
    Scorer,
    auc,
    keep_predictors,
    predictor_sentence,
    style_ambiguity,
    summary,
)
from ganvas.eval.creativity_map import novelty_value_map
from ganvas.eval.domain_net import DomainRecipe

TINY = DomainRecipe(width=8, epochs=1, limit=300, batch_size=32)     # a domain extractor trained in seconds
LOCAL = "http://127.0.0.1"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, emoji_built) -> Path:
    """A tiny DCGAN on emoji with 10% held out (seconds), inside a runs folder of its own."""
    from ganvas.cli import main

    out = tmp_path_factory.mktemp("creative") / "runs" / "emoji-tiny"
    assert main(["train", "--model", "dcgan", "--data", "emoji", "--resolution", "32", "--kimg", "0.05",
                 "--batch-size", "16", "--set", "model_args.ngf=8", "--set", "model_args.ndf=8",
                 "--set", "holdout=0.1", "--set", "sample_count=4", "--minutes", "0", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def scorer(run: Path) -> Scorer:
    import ganvas
    from ganvas.eval.evaluate import Reference, training_dataset
    from ganvas.eval.features import get_extractor

    G = ganvas.load(run)
    ds = training_dataset(G)
    ref = Reference.build(ds, get_extractor("domain", ds, recipe=TINY), 60, 0.1, 0)
    return Scorer(ref, G)


def test_novelty_is_zero_for_training_copies_and_about_one_for_held_out_reals(scorer: Scorer) -> None:
    ref = scorer.reference
    copies = scorer.score_features(ref.features[ref.train_idx[:200]])
    assert copies.novelty.max() < 1e-3
    assert np.array_equal(copies.nearest, ref.train_idx[:200]) or np.median(copies.distance) < 1e-6
    held = scorer.score_features(ref.features[ref.heldout_idx])
    assert 0.6 < float(np.median(held.novelty)) < 1.6, np.median(held.novelty)
    assert held.ambiguity is not None and ((held.ambiguity >= 0) & (held.ambiguity <= 1)).all()


def test_ambiguity_is_one_for_a_uniform_posterior_and_zero_for_a_one_hot() -> None:
    k = 7
    assert np.allclose(style_ambiguity(np.full((3, k), 1 / k)), 1.0)
    assert np.allclose(style_ambiguity(np.eye(k)), 0.0)
    mid = style_ambiguity(np.array([[0.5, 0.5, 0.0, 0.0]]))[0]
    assert abs(mid - 0.5) < 1e-9                                     # log 2 / log 4


@pytest.mark.parametrize("bad, needle", [
    (np.ones((2, 1)), "at least 2 classes"),
    (np.array([[0.7, 0.7]]), "probabilities"),
    (np.array([[-0.5, 1.5]]), "probabilities"),
    (np.ones(3), "2-D array"),
    (np.array([[np.nan, 1.0]]), "NaN"),
])
def test_bad_posteriors_are_one_line_errors(bad, needle: str) -> None:
    with pytest.raises(GanvasError, match=needle) as e:
        style_ambiguity(bad)
    assert "\n" not in str(e.value)


def synthetic(n: int, rng: np.random.Generator, novelty: np.ndarray | None = None) -> CreativityScores:
    return CreativityScores(novelty if novelty is not None else rng.gamma(2.0, 0.5, n), rng.integers(0, 100, n),
                            rng.random(n), rng.random(n) < 0.7, rng.integers(0, 6, n) / 5, rng.normal(0, 1, n),
                            rng.random(n), rng.random(n))


def test_auc_and_what_the_keeps_predict() -> None:
    assert auc([1, 2, 3], [1, 2, 3]) == 0.5 and auc([5, 6], [1, 2]) == 1.0 and auc([0], [1, 2]) == 0.0
    rng = np.random.default_rng(0)
    reference = synthetic(300, rng)
    kept = synthetic(40, rng, novelty=rng.gamma(2.0, 0.5, 40) + 2.0)    # a person who keeps the far-out ones
    rows = keep_predictors(kept, reference)
    by = {r["measure"]: r["auc"] for r in rows}
    assert rows[0]["measure"] == "novelty" and by["novelty"] > 0.85
    assert all(abs(by[m] - 0.5) < 0.2 for m in ("d_logit", "d_rank", "ambiguity", "density"))
    assert rows[0]["n_kept"] == 40 and rows[0]["n_reference"] == 300
    sentence = predictor_sentence(rows)
    assert sentence.startswith("Novelty predicts best") and "higher" in sentence and "40 keeps" in sentence
    alike = keep_predictors(synthetic(40, rng), reference)
    assert "None of the measures" in predictor_sentence(alike) or abs(alike[0]["auc"] - 0.5) >= 0.1
    assert predictor_sentence([]) == "No keeps recorded."


def test_the_map_renders_thumbnails_and_the_most_novel(scorer: Scorer) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (30, 32, 32, 3), dtype=np.uint8)
    scores = scorer.score_images(images)
    s = summary(scores)
    assert s["n"] == 30 and set(s) >= {"novelty", "d_logit", "d_rank", "density", "ambiguity"}
    assert s["novelty"]["q1"] <= s["novelty"]["median"] <= s["novelty"]["q3"]
    picture = novelty_value_map(images, scores, scorer.reference.dataset.arrays["x"], "noise")
    assert isinstance(picture, Image.Image) and picture.width > 900 and picture.height > 500
    a = np.asarray(picture)
    colours = len(np.unique(a[50:550, 70:820].reshape(-1, 3), axis=0))
    assert colours > 500                                              # noise thumbnails are on the plot
    with pytest.raises(GanvasError, match="one per score"):
        novelty_value_map(images[:5], scores, scorer.reference.dataset.arrays["x"])
    with pytest.raises(GanvasError, match="same extractor"):
        scorer.score_features(np.zeros((3, 5)))


@pytest.fixture(scope="module")
def client(run: Path) -> TestClient:
    from ganvas.studio.app import create_app

    app = create_app(run.parent, max_models=1)
    app.state.services.kept.extractor_options = {"recipe": TINY}
    with TestClient(app, base_url=LOCAL, raise_server_exceptions=False) as c:
        yield c


def test_the_studio_records_keeps_with_their_scores(client: TestClient, run: Path, scorer: Scorer) -> None:
    import ganvas

    kept_file = run / "studio" / "kept.jsonl"
    kept_file.unlink(missing_ok=True)
    r = client.post("/api/models/emoji-tiny/kept", json={"seed": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["recorded"] and body["kept"] == 1 and body["file"] == "emoji-tiny/studio/kept.jsonl"
    assert set(body["scores"]) >= {"novelty", "d_logit", "d_rank", "density", "ambiguity", "inside_real_manifold"}
    r = client.post("/api/models/emoji-tiny/kept", json={"seed": 9, "truncation": 0.5})
    assert r.status_code == 200 and r.json()["kept"] == 2
    lines = [json.loads(x) for x in kept_file.read_text().splitlines()]
    assert [x["recipe"]["seed"] for x in lines] == [3, 9] and lines[1]["recipe"]["truncation"] == 0.5
    assert lines[0]["format"] == "ganvas-kept" and lines[0]["features"]["name"] == "domain"
    # the recorded novelty is the output's own: seed 3 drawn by the model and scored here agrees
    G = ganvas.load(run)
    again = scorer.score_images(G.domain.to_array(G.sample(1, seed=3)))
    assert abs(again.novelty[0] - lines[0]["scores"]["novelty"]) < 1e-4
    # bad input: one-line errors, nothing recorded
    for bad in ({"seed": 1, "latent": [0.0]}, {"edits": []}, {"seed": 1, "truncation": 3}):
        r = client.post("/api/models/emoji-tiny/kept", json=bad)
        assert r.status_code in (400, 422) and "\n" not in r.json()["error"], r.text
    assert client.post("/api/models/nowhere/kept", json={"seed": 1}).status_code == 404
    assert len(kept_file.read_text().splitlines()) == 2


def test_the_report_has_the_creativity_section_and_what_was_kept(run: Path, client: TestClient) -> None:
    from ganvas.eval.evaluate import evaluate_run
    from ganvas.eval.report import render

    kept_file = run / "studio" / "kept.jsonl"
    kept_file.unlink(missing_ok=True)
    ev = evaluate_run(run, n=30, features="domain", extractor_options={"recipe": TINY})
    html = render(ev)
    assert "Creativity: novelty, value, style ambiguity" in html and "style ambiguity" in html
    assert "No keeps recorded" in html
    for seed in (2, 5, 7, 40):
        assert client.post("/api/models/emoji-tiny/kept", json={"seed": seed}).status_code == 200
    html = render(ev)
    assert "4 kept outputs" in html and "against the 27 other samples" in html and "AUC" in html
    kept_file.write_text(kept_file.read_text() + "not json\n")
    assert "line 5 is not JSON" in render(ev)
    kept_file.unlink()


class _Domain:
    def to_tensor(self, x: np.ndarray, device=None):
        import torch

        return torch.as_tensor(x, dtype=torch.float32).permute(0, 3, 1, 2) / 127.5 - 1


def _model(coupled: bool):
    """A stand-in model whose D scores the mean pixel (minus half the batch's mean when `coupled`), with a
    two-class head whose scores it keeps, as a projection D does."""
    import types

    import torch

    class D(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))
            self.scores = None

        def forward(self, x):
            s = x.mean(dim=(1, 2, 3)) * self.w
            self.scores = torch.stack([s, -s], dim=1)
            return s - 0.5 * s.mean() if coupled else s

    d = D()
    model = types.SimpleNamespace(D=d, num_classes=0, class_scores=lambda: d.scores)
    return types.SimpleNamespace(model=model, domain=_Domain())


def test_d_is_asked_so_that_a_score_never_depends_on_the_batch() -> None:
    from ganvas.eval.creativity import d_outputs

    images = np.random.default_rng(2).integers(0, 255, (70, 4, 4, 3), dtype=np.uint8)
    mean = images.reshape(70, -1).mean(axis=1) / 127.5 - 1
    plain, posterior = d_outputs(_model(False), images)
    assert np.allclose(plain, mean, atol=1e-5) and posterior.shape == (70, 2)
    assert np.allclose(posterior.sum(axis=1), 1.0)
    coupled, _ = d_outputs(_model(True), images)                     # asked one by one: s − s/2 for each alone
    assert np.allclose(coupled, mean / 2, atol=1e-5)
    assert not np.allclose(coupled[1:3], mean[1:3] - 0.5 * mean[1:3].mean())
    scores = CreativityScores(np.ones(70), np.zeros(70, int), np.ones(70), np.ones(70, bool), np.ones(70), plain,
                              d_ambiguity=style_ambiguity(posterior))
    assert "d_ambiguity" in scores.available() and "d_ambiguity" in summary(scores)


def test_without_labels_the_report_says_random_features_and_no_ambiguity(run: Path) -> None:
    from ganvas.eval.evaluate import evaluate_run
    from ganvas.eval.report import render

    html = render(evaluate_run(run, n=30, features="random"))
    assert "the &#x27;random&#x27; extractor&#x27;s features (an untrained network" in html
    assert "Creativity: novelty, value, style ambiguity" in html and "No keeps recorded" in html
