"""The constrained decoder with a fake language model (random logits per row's history) over the vocabulary
of the real tang300 anthology: every output keeps form, rhyme and tones; requests are honoured; the output
is a pure function of the noise; every impossible request is a one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from ganvas.errors import GanvasError
from ganvas.text.checks import form_pass, rhyme_pass, tonal_pass
from ganvas.text.decode import Constraints, constraints_for, decode
from ganvas.text.forms import FORM_NAMES, FORMS, layout, verses
from ganvas.text.pingshui import ping_groups
from ganvas.text.vocab import EOS_ID, PAD_ID, Vocab

FORTUNES = Path("/usr/share/games/fortunes")


def _entries(name: str) -> list[str]:
    path = FORTUNES / name
    assert path.is_file(), f"{path} is missing: `make test` installs Debian fortunes-zh and fortunes (APT_PACKAGES)"
    out = []
    for block in path.read_text(encoding="utf-8").split("\n%\n"):
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", s).strip() for s in block.strip("%\n").split("\n")]
        body = [s for s in lines if s and not s.startswith(("《", "作者"))]
        if body:
            out.append("\n".join(body))
    return out


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.from_texts(_entries("tang300"), {"form": list(FORM_NAMES)})


class FakeLM:
    """Logits from a fixed random table, indexed by a hash of the row's codes and tokens so far: each row
    depends on its own history only, like a real model, and strongly prefers some tokens, unlike a uniform one."""

    def __init__(self, size: int, seed: int = 0, states: int = 257) -> None:
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(states, size, generator=g) * 4
        self.states = states

    def start(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = (codes * torch.arange(1, codes.shape[1] + 1)).sum(1) % self.states
        return self.table[s], s

    def step(self, tokens: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = (s * 31 + tokens + 7) % self.states
        return self.table[s], s


def _run(vocab: Vocab, c: Constraints | list[Constraints], n: int = 12, seed: int = 0, t: int = 72,
         lm: FakeLM | None = None, **kw) -> list[str]:
    u = torch.rand(n, t, generator=torch.Generator().manual_seed(seed))
    codes = torch.tensor([vocab.code_token_ids({})] * n, dtype=torch.long)
    out = decode(lm or FakeLM(len(vocab), seed), vocab, codes, u, c, **kw)
    for row in out:                               # one <eos>, then only <pad>
        ends = (row == EOS_ID).nonzero()
        assert len(ends) == 1 and bool((row[int(ends[0]) + 1:] == PAD_ID).all())
    return [vocab.decode(row) for row in out]


def _rhymes(text: str) -> list[str]:
    return [v[-1] for v in verses(text)[1::2]]


@pytest.mark.parametrize("form", list(FORMS))
def test_every_output_keeps_form_rhyme_and_tones(vocab: Vocab, form: str) -> None:
    c = constraints_for(vocab, form=form)
    for seed in range(3):
        for text in _run(vocab, c, seed=seed):
            assert form_pass(text, form) and rhyme_pass(text) and tonal_pass(text), text
            assert len(set(_rhymes(text))) == len(_rhymes(text)), text      # no rhyme character repeated


@pytest.mark.parametrize("kw", [dict(temperature=0.3), dict(temperature=2.0, top_k=5), dict(temperature=0)])
def test_temperatures_and_top_k_keep_the_constraints(vocab: Vocab, kw: dict) -> None:
    c = constraints_for(vocab, form="七律", keywords=["明月"])
    for text in _run(vocab, c, n=8, **kw):
        assert form_pass(text, "七律") and rhyme_pass(text) and tonal_pass(text) and "明月" in text, text


def test_acrostic_keywords_and_first_line_are_honoured(vocab: Vocab) -> None:
    c = constraints_for(vocab, form="七绝", acrostic="春夏秋冬", keywords=["明月", "江"])
    for seed in range(4):
        for text in _run(vocab, c, seed=seed):
            assert [v[0] for v in verses(text)] == list("春夏秋冬"), text
            assert "明月" in text and "江" in text
            assert form_pass(text, "七绝") and rhyme_pass(text) and tonal_pass(text), text
    c = constraints_for(vocab, form="五律", acrostic="白花", first_line="白日依山尽")
    for text in _run(vocab, c):
        assert text.startswith("白日依山尽，花") and form_pass(text, "五律") and tonal_pass(text), text


def test_acrostic_clash_with_the_first_line(vocab: Vocab) -> None:
    with pytest.raises(GanvasError, match="clashes with the first line"):
        constraints_for(vocab, form="五绝", acrostic="春", first_line="白日依山尽")
    c = constraints_for(vocab, form="五绝", acrostic="白江", first_line="白日依山尽")
    assert all(t.startswith("白日依山尽，江") for t in _run(vocab, c, n=4))


def test_a_first_couplet_fixes_the_rhyme_group(vocab: Vocab) -> None:
    c = constraints_for(vocab, form="五律", first_line="白日依山尽，黄河入海流。", keywords=["山"])
    for text in _run(vocab, c, seed=3):
        assert text.startswith("白日依山尽，黄河入海流")
        assert all("下平声十一尤" in {g.name for g in ping_groups(ch)} for ch in _rhymes(text)), text
        assert rhyme_pass(text) and tonal_pass(text) and "流" not in _rhymes(text)[1:]


def test_keywords_land_at_places_drawn_from_the_noise(vocab: Vocab) -> None:
    c = constraints_for(vocab, form="五律", keywords=["秋风"])
    places = {next(i for i, v in enumerate(verses(t)) if "秋风" in v) for t in _run(vocab, c, n=24)}
    assert len(places) >= 3                       # not always the same verse


def test_without_rhyme_or_tones(vocab: Vocab) -> None:
    c = constraints_for(vocab, form="五绝", rhyme=False, tones=False, first_line="床前明月光，疑是地上霜")
    texts = _run(vocab, c, n=16)
    assert all(form_pass(t, "五绝") and t.startswith("床前明月光，疑是地上霜") for t in texts)
    assert not all(rhyme_pass(t) for t in texts) and not all(tonal_pass(t) for t in texts)


def test_same_noise_same_poem_at_any_batch_size(vocab: Vocab) -> None:
    lm = FakeLM(len(vocab))
    rows = [constraints_for(vocab, form="五绝", acrostic="山水"), constraints_for(vocab, form="七律"),
            constraints_for(vocab, first_line="春", max_chars=30), constraints_for(vocab, form="七绝", keywords=["花"])]
    u = torch.rand(4, 70, generator=torch.Generator().manual_seed(5))
    codes = torch.tensor([vocab.code_token_ids({"form": f}) for f in ("五绝", "七律", "other", "七绝")])
    together = decode(lm, vocab, codes, u, rows)
    assert torch.equal(together, decode(lm, vocab, codes, u.clone(), rows))
    for r in range(4):
        alone = decode(lm, vocab, codes[r:r + 1], u[r:r + 1], rows[r])
        assert torch.equal(alone[0], together[r])
    other = u.clone()
    other[:, 1] = 1 - other[:, 1]                 # another noise, another poem
    assert not torch.equal(decode(lm, vocab, codes, other, rows), together)


def test_free_text_stops_at_eos_max_chars_and_max_lines() -> None:
    entries = _entries("fortunes")
    vocab = Vocab.from_texts(entries)
    texts = _run(vocab, constraints_for(vocab, "en", max_chars=40), n=16, t=100)
    assert all(len(t) <= 40 for t in texts) and any(len(t) == 40 for t in texts)
    texts = _run(vocab, constraints_for(vocab, "en", first_line="A day", max_lines=2), n=16, t=200)
    assert all(t.startswith("A day") and t.count("\n") <= 1 for t in texts)
    texts = _run(vocab, constraints_for(vocab, "en"), n=8, t=30)
    assert all(len(t) <= 29 for t in texts)       # the last position holds <eos> at the latest


def test_a_model_that_wants_a_newline_gets_eos_at_max_lines() -> None:
    vocab = Vocab.from_texts(["ab\ncd"])

    class Newlines(FakeLM):
        def start(self, codes):
            logits = torch.full((codes.shape[0], len(vocab)), -20.0)
            logits[:, vocab.index["\n"]] = 20.0
            return logits, None

        def step(self, tokens, s):
            return self.start(tokens.unsqueeze(1))

    texts = _run(vocab, constraints_for(vocab, "en", max_lines=3), n=4, t=50, lm=Newlines(len(vocab)))
    assert texts == ["\n\n"] * 4                  # two breaks make three lines; the third break's mass → <eos>


def _one_line_error(match: str, fn, *a, **kw) -> None:
    with pytest.raises(GanvasError, match=match) as e:
        fn(*a, **kw)
    assert "\n" not in str(e.value)


def test_bad_requests_are_one_line_errors(vocab: Vocab) -> None:
    cf = constraints_for
    _one_line_error("has 5 characters; a 五绝 has 4 verses", cf, vocab, form="五绝", acrostic="春夏秋冬雪")
    _one_line_error(r"acrostic .*'𠀋' is not in the model's vocabulary", cf, vocab, form="五绝", acrostic="春𠀋")
    _one_line_error("acrostic .*not a Chinese character", cf, vocab, form="五绝", acrostic="春，")
    _one_line_error(r"keyword '明𠀋': '𠀋' is not in the model's vocabulary", cf, vocab, form="五绝",
                    keywords=["明𠀋"])
    _one_line_error("keyword '明月照大江东' must have 1 to 5 characters", cf, vocab, form="五绝",
                    keywords=["明月照大江东"])
    _one_line_error("a 五绝 takes at most 4", cf, vocab, form="五绝", keywords=list("春夏秋冬雪"))
    _one_line_error("first line .* does not fit a 五绝", cf, vocab, form="五绝", first_line="白日依山尽了")
    _one_line_error("first line .* does not fit a 五绝", cf, vocab, form="五绝", first_line="白日，依山，尽")
    _one_line_error("first line .*'𠀋' is not in", cf, vocab, form="五绝", first_line="白日依山𠀋")
    _one_line_error("does not keep the 平仄 rule.*tones=False", cf, vocab, form="五绝",
                    first_line="床前明月光，疑是地上霜")
    _one_line_error("cannot all be placed", cf, vocab, form="五绝", acrostic="春",
                    keywords=["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"])
    _one_line_error("an acrostic or keywords need a form", cf, vocab, acrostic="春")
    _one_line_error("needs language 'zh'", cf, vocab, "en", form="五绝")
    _one_line_error("language must be one of zh, en", cf, vocab, "fr")
    _one_line_error("form must be one of", cf, vocab, form="五言")
    _one_line_error("max_lines and max_chars are for free text", cf, vocab, form="五绝", max_lines=4)
    _one_line_error("max_chars must be a whole number", cf, vocab, max_chars=0)
    _one_line_error("longer than max_chars", cf, vocab, first_line="白日依山尽", max_chars=3)


def test_impossible_rhymes_and_tones_are_one_line_errors() -> None:
    few = Vocab(list("，。\n白日依山尽黄河入海流"))     # every 平声 group has at most one of these
    _one_line_error("no 平声 rhyme group has 2 characters.*rhyme=False", constraints_for, few, form="五绝")
    assert constraints_for(few, form="五绝", rhyme=False).rhyme is False
    ze_only = Vocab(list("，。\n白日尽入海"))
    _one_line_error("lacks characters of one tone", constraints_for, ze_only, form="五绝", rhyme=False)
    _one_line_error("has no '，'", constraints_for, Vocab(list("。\n东中")), form="五绝")
    # a first couplet whose rhyme character's group is too small in this vocabulary
    small = Vocab(list("，。\n白日依山尽黄河入海流东中风"))
    _one_line_error("rhyme character '流' has no 平声 group with 2", constraints_for, small, form="五绝",
                    first_line="白日依山尽，黄河入海流")
    _one_line_error("rhyme character '雪' is not in any 平声 rhyme group", constraints_for, Vocab.from_texts(
        _entries("tang300")), form="五绝", first_line="孤舟蓑笠翁，独钓寒江雪")


def test_bad_decode_calls_are_one_line_errors(vocab: Vocab) -> None:
    lm = FakeLM(len(vocab))
    c = constraints_for(vocab, form="七律")
    codes = torch.tensor([vocab.code_token_ids({})] * 2)
    u = torch.rand(2, 80)
    _one_line_error("a 七律 takes 68 tokens, but the noise u has 40", decode, lm, vocab, codes, u[:, :40], c)
    _one_line_error(r"noise u must lie in \[0, 1\)", decode, lm, vocab, codes, u + 1, c)
    _one_line_error("3 constraints for a batch of 2", decode, lm, vocab, codes, u, [c] * 3)
    _one_line_error("codes must be", decode, lm, vocab, codes[:1], u, c)
    _one_line_error("temperature must be", decode, lm, vocab, codes, u, c, temperature=-1)
    _one_line_error("top_k must be", decode, lm, vocab, codes, u, c, top_k=0)
    hand_made = Constraints(form="五绝", acrostic="𠀋")        # not built by constraints_for
    _one_line_error("'𠀋' is not in the model's vocabulary", decode, lm, vocab, codes, u, hand_made)


def test_layout_lengths(vocab: Vocab) -> None:
    for form in FORMS:
        n, k = layout(form)
        c = constraints_for(vocab, form=form)
        text = _run(vocab, c, n=1)[0]
        assert len(text) + 1 == c.length() == n * (k + 1) + n // 2
