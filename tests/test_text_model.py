"""The control-code language model (`ctrl`) on the loop's likelihood path: codes, code dropout, training,
resume, the adversarial phase and its collapse guard, the Writer API and `ganvas sample` for text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_cli

import ganvas
from ganvas.app.training import train
from ganvas.errors import GanvasError
from ganvas.nets import MODELS
from ganvas.nets.base import DataSpec
from ganvas.text.forms import form_of
from ganvas.text.vocab import ANY, BOS_ID, EOS_ID, PAD_ID, Vocab

POEMS = ["白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。",
         "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
         "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。"]
SMALL = {"embed": 16, "hidden": 32, "layers": 1, "dropout": 0.0, "embed_dropout": 0.0, "prior": 0.0}


def tiny_model(code_dropout: float = 0.0, **args):
    vocab = Vocab.from_texts(POEMS, {"form": ["五绝", "七绝"], "era": ["tang", "song"]})
    spec = DataSpec("text", (40,), 0, {"language": "zh", "vocab": vocab.to_dict(), "max_len": 39})
    torch.manual_seed(0)
    return MODELS.get("ctrl").build(spec, {**SMALL, "code_dropout": code_dropout, **args}), vocab


def test_codes_become_their_tokens_and_unknown_codes_read_as_unspecified() -> None:
    model, vocab = tiny_model()
    y = torch.tensor([[0, 1], [1, -1]])
    tokens = model.code_tokens(y, 2)
    assert tokens.tolist() == [[vocab.code_ids["form"]["五绝"], vocab.code_ids["era"]["song"]],
                               [vocab.code_ids["form"]["七绝"], vocab.code_ids["era"][ANY]]]


def test_code_dropout_replaces_each_code_with_its_unspecified_token_at_the_set_rate() -> None:
    model, vocab = tiny_model()
    y = torch.zeros(4000, 2, dtype=torch.long)
    tokens = model.code_tokens(y, 4000, torch.Generator().manual_seed(0), dropout=0.3)
    for f, field in enumerate(("form", "era")):
        dropped = (tokens[:, f] == vocab.code_ids[field][ANY]).float().mean().item()
        assert 0.27 < dropped < 0.33
        assert set(tokens[:, f].tolist()) == {vocab.code_ids[field][ANY], vocab.code_ids[field][
            "五绝" if field == "form" else "tang"]}
    kept = model.code_tokens(y, 4000, dropout=0.0)[:, 0]
    assert torch.equal(kept, torch.full((4000,), vocab.code_ids["form"]["五绝"]))


def test_teacher_forcing_predicts_each_token_from_the_codes_and_the_text_before_it() -> None:
    """Changing a later character leaves the predictions of earlier positions unchanged (causality)."""
    model, vocab = tiny_model()
    model.eval()
    x = torch.tensor([vocab.encode(POEMS[0]) + [EOS_ID] + [PAD_ID] * (39 - len(POEMS[0]))])
    codes = model.code_tokens(torch.tensor([[0, 0]]), 1)
    a = model.teacher_logits(x, codes)
    x2 = x.clone()
    x2[0, 10] = vocab.encode("花")[0]
    b = model.teacher_logits(x2, codes)
    assert a.shape == (1, 40, len(vocab))
    assert torch.allclose(a[:, :11], b[:, :11]) and not torch.allclose(a[:, 11], b[:, 11])
    total, count = model.token_nll(x, torch.tensor([[0, 0]]))
    assert count == len(POEMS[0]) + 1                              # every character and the <eos>, no padding
    manual = torch.nn.functional.cross_entropy(a[0, :count], x[0, :count], reduction="sum").item()
    assert total == pytest.approx(manual, rel=1e-5)
    assert BOS_ID not in x


def test_the_frequency_prior_keeps_unseen_characters_possible_and_the_distribution_normalised() -> None:
    """G's next-token distribution is (1 − λ)·softmax + λ·prior, the prior the training characters' frequencies
    with the Good–Turing share of unseen ones: a character the training texts never hold keeps a floor; marks,
    line breaks, specials and codes get nothing from the prior (the format decides them)."""
    model, vocab = tiny_model(prior=0.05)
    model.eval()
    seen = POEMS[:2]                                             # the third poem's own characters stay unseen
    x = torch.tensor([vocab.encode(p) + [EOS_ID] + [PAD_ID] * (39 - len(p)) for p in seen])
    model.prepare_data(x)
    counts = model.G.counts
    assert counts[EOS_ID] == 2 and counts[vocab.index["明"]] == 2 and counts[vocab.index["春"]] == 0
    logp = model.teacher_logits(x, model.code_tokens(None, 2))
    assert torch.allclose(logp.exp().sum(-1), torch.ones(2, 40), atol=1e-5)
    chars = model.G.predictable
    assert not chars[vocab.index["，"]] and not chars[vocab.index["\n"]] and not chars[EOS_ID]
    assert chars[vocab.index["春"]]
    n = float(counts[chars].sum())
    singletons = int((counts[chars] == 1).sum())
    unseen = int((counts[chars] == 0).sum())
    floor = 0.05 * (singletons / n) / unseen                     # Good–Turing: the share of characters seen once
    assert (logp[..., vocab.index["春"]].exp() >= floor * 0.999).all()
    prior = model.G.log_prior().exp()
    assert prior[BOS_ID] == 0 and prior[PAD_ID] == 0 and prior[vocab.code_ids["form"]["五绝"]] == 0
    assert float(prior.sum()) == pytest.approx(1.0) and prior[EOS_ID] == 0 and prior[vocab.index["春"]] > 0


def test_the_likelihood_objective_skips_d_and_learns_a_tiny_corpus() -> None:
    model, vocab = tiny_model()
    from ganvas.config import TrainConfig

    objective = model.objective(TrainConfig(model="ctrl"), torch.Generator().manual_seed(0))
    assert objective.trains_discriminator is False
    x = torch.tensor([vocab.encode(p) + [EOS_ID] + [PAD_ID] * (39 - len(p)) for p in POEMS])
    batch = {"x": x, "y": torch.zeros(3, 2, dtype=torch.long)}
    opt = torch.optim.Adam(model.G.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss, stats = objective.g_loss(batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first and "nll" in stats


def test_adversarial_phase_starts_after_the_likelihood_steps_and_trains_d() -> None:
    model, vocab = tiny_model(adversarial=True, mle_steps=2)
    from ganvas.config import TrainConfig

    objective = model.objective(TrainConfig(model="ctrl"), torch.Generator().manual_seed(0))
    x = torch.tensor([vocab.encode(p) + [EOS_ID] + [PAD_ID] * (39 - len(p)) for p in POEMS])
    batch = {"x": x, "y": torch.zeros(3, 2, dtype=torch.long)}
    for _ in range(2):
        assert objective.trains_discriminator is False
        objective.g_loss(batch)
    assert objective.trains_discriminator is True
    d, d_stats = objective.d_loss(batch)
    g, g_stats = objective.g_loss(batch)
    assert "D/real" in d_stats and "nll" in g_stats and torch.isfinite(d) and torch.isfinite(g)
    g.backward()
    assert model.G.embed.weight.grad is not None and model.G.embed.weight.grad.abs().sum() > 0
    fake = model.relaxed_sample(model.code_tokens(None, 3), 40, 1.0, torch.Generator().manual_seed(1))
    assert fake.shape == (3, 40, len(vocab))
    assert set(fake.sum(-1).detach().flatten().tolist()) <= {0.0, 1.0}     # hard one-hots, zeros after <eos>


def test_text_models_refuse_truncation_and_unknown_codes() -> None:
    model, _ = tiny_model()
    with pytest.raises(GanvasError, match="no truncation"):
        model.sample_latent(1, torch.Generator(), truncation=0.5)
    with pytest.raises(GanvasError, match="code form='七律' was not trained; form is one of 五绝, 七绝"):
        model.condition_for([0], {"form": "七律"})
    with pytest.raises(GanvasError, match="code '词' was not trained"):
        model.condition_for([0], "词")


# --- end to end on the real poems ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def poem_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("poems") / "run"
    train("tang-poems-ctrl", {"kimg": 0.64, "minutes": 0.0, "eval_every": 5, "sample_every": 10,
                              "checkpoint_every": 10, "model_args.hidden": 64, "model_args.embed": 32,
                              "model_args.layers": 1}, out=out, progress=False)
    return out


def test_a_short_run_logs_held_out_likelihood_and_writes_poems_that_keep_their_form(poem_run: Path) -> None:
    rows = [json.loads(line) for line in (poem_run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    nll = [r["eval/nll"] for r in rows if "eval/nll" in r]
    assert len(nll) >= 3 and nll[-1] < nll[0]              # it learns, measured on poems it never saw
    assert all("loss/D" not in r for r in rows)            # the likelihood path has no D steps
    W = ganvas.load(poem_run)
    poems = W.sample(4, seed=0)
    assert [form_of(p) for p in poems] == ["五绝", "七绝", "五律", "七律"]    # seed s: form s mod 4
    assert W.sample(4, seed=0) == poems and W.sample(2, seed=1) == poems[1:3]  # a seed names one poem
    acro = W.sample(2, seed=5, codes="七绝", acrostic="春花秋月")
    for p in acro:
        assert form_of(p) == "七绝"
        assert [v[0] for v in p.replace("，", "\n").replace("。", "\n").split()] == list("春花秋月")


def test_resume_continues_a_text_run(poem_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(poem_run, copy)
    meta = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    assert meta["model"]["name"] == "ctrl"
    result = train(None, {"kimg": 0.96}, out=copy, resume=True, progress=False)
    assert result.step == 30


def test_sample_writes_text_pictures_and_json(poem_run: Path, tmp_path: Path) -> None:
    proc = run_cli("sample", str(poem_run), "--n", "2", "--code", "五绝", "--acrostic", "春风",
                   "--out-dir", str(tmp_path / "poems"), "--format", "txt,png,json")
    assert proc.returncode == 0, proc.stderr
    assert "— seed 0 (form=五绝)" in proc.stdout
    files = sorted(p.name for p in (tmp_path / "poems").iterdir())
    assert files == sorted(f"seed000{i}.{f}" for i in (0, 1) for f in ("json", "png", "txt", "json.ganvas.json",
                                                                       "txt.ganvas.json"))   # text: signed sidecars
    record = json.loads((tmp_path / "poems" / "seed0000.json").read_text(encoding="utf-8"))
    assert form_of(record["text"]) == "五绝"
    text = (tmp_path / "poems" / "seed0000.txt").read_text(encoding="utf-8")
    assert text.strip() == record["text"].strip()


@pytest.mark.parametrize("args, needle", [
    (["--code", "词"], "code '词' was not trained"),
    (["--code", "五绝", "--acrostic", "春夏秋冬夜"], "acrostic"),
    (["--class", "x"], "apply to image and music models"),
    (["--truncation", "0.5"], "apply to image and music models"),
])
def test_bad_text_requests_are_one_line_errors(poem_run: Path, args: list[str], needle: str) -> None:
    assert_one_line_error(run_cli("sample", str(poem_run), "--n", "1", *args), needle)


def test_evaluate_a_text_run_reports_constrained_and_free_texts(poem_run: Path, tmp_path: Path) -> None:
    proc = run_cli("evaluate", str(poem_run), "--n", "8", "--out", str(tmp_path / "ev"))
    assert proc.returncode == 0, proc.stderr
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    rows = {r["metric"]: r for r in m["constrained"]["rows"]}
    assert rows["form_pass"]["generated"] == 1.0 and rows["rhyme_pass"]["generated"] == 1.0
    assert rows["control"]["generated"] == 1.0                   # the decoder gives the form asked for
    assert 0 < m["heldout_nll"] < 10 and m["constrained"]["ngram"]["heldout_nll"] > 0
    assert {r["metric"] for r in m["free"]["rows"]} >= {"control", "bleu2", "self_bleu2", "distinct2", "copied_lines"}
    page = (tmp_path / "ev" / "report.html").read_text(encoding="utf-8")
    assert "In short" in page and "Free texts" in page and "n-gram baseline" in page
    assert "NLL" in proc.stderr and "report.html" in proc.stderr
    bad = run_cli("evaluate", str(poem_run), "--n", "4", "--data", "emoji")
    assert_one_line_error(bad, "evaluated on the data it was trained on")


def test_an_early_stop_rolls_back_and_the_final_checkpoint_holds_the_best_weights(tmp_path: Path) -> None:
    """A run that stops early (patience 1 on a model that overfits at once) ends on its best held-out weights,
    even when the step it stops at had already been checkpointed."""
    from ganvas.eval.text_guard import BEST_FILE

    out = tmp_path / "run"
    train("tang-poems-ctrl", {"kimg": 6.4, "minutes": 0.0, "eval_every": 5, "checkpoint_every": 5, "sample_every": 1000,
                              "lr_g": 0.05, "model_args.hidden": 32, "model_args.embed": 16, "model_args.layers": 1,
                              "model_args.dropout": 0.0}, out=out, progress=False)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    nll = {r["step"]: r["eval/nll"] for r in rows if "eval/nll" in r}
    assert max(nll) < 200                                   # stopped long before the 200 steps asked for
    best_step = min(nll, key=nll.get)
    from safetensors.torch import load_file

    best = load_file(str(out / BEST_FILE))
    final = ganvas.load(out).model.G.state_dict()
    assert all(torch.equal(final[k], best[k]) for k in best)
    W = ganvas.load(out)
    from ganvas.eval.text_evaluate import heldout_nll, split_texts

    split = split_texts(W)
    assert heldout_nll(W, split["held_x"], split["held_y"]) == pytest.approx(nll[best_step], abs=1e-4)


def test_a_text_run_continues_as_an_adversarial_fine_tune(poem_run: Path, tmp_path: Path) -> None:
    """`ganvas train --resume --adversarial`: the same networks, now with D steps, guarded against the run's best."""
    import shutil

    copy = tmp_path / "adv"
    shutil.copytree(poem_run, copy)
    before = ganvas.load(copy).model.G.state_dict()
    result = train(None, {"model_args.adversarial": True, "model_args.mle_steps": 0, "kimg": 0.8}, out=copy,
                   resume=True, progress=False)
    assert result.step == 25
    rows = [json.loads(line) for line in (copy / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("loss/D" in r for r in rows if r["step"] > 20)
    assert not any("loss/D" in r for r in rows if r["step"] <= 20)
    meta = json.loads((copy / "checkpoints" / "step-0000025" / "checkpoint.json").read_text(encoding="utf-8"))
    assert meta["config"]["model_args"]["adversarial"] is True
    after = ganvas.load(copy).model.G.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert_one_line_error(run_cli("train", "--resume", "--out", str(copy), "--set", "model_args.hidden=8"),
                          "cannot resume with model_args.hidden=8")


class FakeRun:
    """What the held-out hook uses of a run, with the NLL it will measure scripted."""

    def __init__(self, model, adversarial: bool) -> None:
        self.model, self.stopped = model, None
        self.objective = type("O", (), {"trains_discriminator": adversarial})()
        self.dist = type("D", (), {"enabled": False, "is_main": False})()
        self.cfg = type("C", (), {"ema_kimg": 0.0})()
        self.logged: list[dict] = []
        self.run_dir = Path("/nonexistent")

    def log_scalars(self, values: dict) -> None:
        self.logged.append(values)

    def stop(self, reason: str) -> None:
        self.stopped = reason

    def ema_generator(self, name: str = "G"):
        return self.model.G


@pytest.mark.parametrize("adversarial, values, stops_at, says", [
    (False, [5.0, 4.8, 4.9, 4.95], 3, "early stop"),                 # patience 2: two evaluations without a best
    (True, [5.0, 4.8, 4.83, 4.9], 3, "collapse guard"),              # margin 0.05 above the best 4.8
    (True, [5.0, 4.8, 4.84, 4.82, 4.79], None, None),                # a fine-tune that never hurts runs on
])
def test_the_held_out_hook_stops_early_or_rolls_back_a_collapse(adversarial, values, stops_at, says,
                                                                 monkeypatch) -> None:
    from ganvas.config import TrainConfig
    from ganvas.eval.text_guard import HeldOutLikelihood

    model, _ = tiny_model(adversarial=adversarial)
    hook = HeldOutLikelihood(TrainConfig(model="ctrl", holdout=0.1, eval_every=5), patience=2, collapse_margin=0.05)
    run = FakeRun(model, adversarial)
    scripted = iter(values)
    monkeypatch.setattr(hook, "nll", lambda r: next(scripted))
    snapshots = []
    for i in range(len(values)):
        with torch.no_grad():
            model.G.bias.add_(1.0)                             # the weights move between evaluations
        snapshots.append(model.G.bias.clone())
        hook.on_step(run, 5 * (i + 1))
        if run.stopped:
            break
    if stops_at is None:
        assert run.stopped is None and hook.best == min(values)
        return
    assert i == stops_at and says in run.stopped and "rolled back to step 10" in run.stopped
    assert torch.equal(model.G.bias, snapshots[1])              # the weights of the best evaluation


def test_stepping_gives_the_teacher_forced_predictions_with_the_verse_layout() -> None:
    """The decoder's one-token-at-a-time path sees the same place-in-verse and verse numbers as training."""
    from ganvas.nets.ctrl import Stepper

    model, vocab = tiny_model()
    model.eval()
    with torch.no_grad():
        model.G.place.weight.normal_()
        model.G.verse.weight.normal_()
    x = torch.tensor([vocab.encode(POEMS[1]) + [EOS_ID]])
    codes = model.code_tokens(torch.tensor([[1, 0]]), 1)
    place, verse = model.G.layout(torch.cat([codes, torch.tensor([[BOS_ID]]), x], dim=1))
    assert place[0, 3:10].tolist() == [1, 2, 3, 4, 5, 0, 1] and verse[0, 3:10].tolist() == [0] * 5 + [1, 1]
    teacher = model.teacher_logits(x, codes)
    stepper = Stepper(model.G)
    logits, state = stepper.start(codes)
    steps = [logits]
    for t in range(x.shape[1] - 1):
        logits, state = stepper.step(x[:, t], state)
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), teacher, atol=1e-5)
