"""The text domain: code points ↔ token ids, texts, pictures in a calligraphic font, txt/png/json files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganvas.data.text_builder import Text, text_arrays
from ganvas.domains import get_domain
from ganvas.domains.text import PAPER, SEAL, TextDomain
from ganvas.errors import GanvasError
from ganvas.text.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocab

POEMS = ["白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。", "春眠不觉晓，处处闻啼鸟。\n夜来风雨声，花落知多少。",
         "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"]
CODES = {"form": ["五绝", "七绝"], "era": ["tang", "song"]}


def domain_for(texts: list[str], language: str = "zh") -> tuple[TextDomain, np.ndarray]:
    """A domain laid out as a dataset of `texts` would be (its card's domain_args), and their code points."""
    items = [Text(t, f"k{i}", {"form": "五绝", "era": "tang"}) for i, t in enumerate(texts)]
    x = text_arrays(items, CODES)["x"]
    vocab = Vocab.from_texts(texts, CODES)
    args = {"language": language, "vocab": vocab.to_dict(), "max_len": x.shape[1]}
    return get_domain("text", json.loads(json.dumps(args))), x       # through JSON, as a card carries them


def test_text_to_code_points_to_ids_and_back() -> None:
    texts = [POEMS[0], "short", ""]
    domain, x = domain_for(POEMS + ["short"])
    x = text_arrays([Text(t, "k") for t in texts], {})["x"]
    assert x.dtype == np.int32 and x.shape == (3, len(POEMS[0]))
    ids = domain.to_tensor(x)
    assert ids.dtype == torch.int64 and ids.shape == (3, x.shape[1] + 1)
    n = len("short")
    assert ids[1, n] == EOS_ID and (ids[1, n + 1:] == PAD_ID).all() and ids[2, 0] == EOS_ID
    assert (ids[1, :n] >= domain.vocab.first_char).all()
    assert ids[0, :len(POEMS[0])].tolist() == domain.vocab.encode(POEMS[0])
    assert domain.texts(ids) == texts
    assert (domain.to_array(ids) == x).all()
    assert torch.equal(domain.to_tensor(torch.from_numpy(x)), ids)        # a batch already a tensor


def test_unknown_characters_and_generator_tokens() -> None:
    domain, _ = domain_for(POEMS)
    x = text_arrays([Text("白日依山尽X", "k")], {})["x"]
    ids = domain.to_tensor(x)
    assert ids[0, 5] == UNK_ID and domain.texts(ids) == ["白日依山尽□"]
    assert domain.to_array(ids)[0, 5] == ord("□")
    # a generator's output: code tokens and <bos> are dropped, reading stops at the first <eos>
    v = domain.vocab
    out = torch.tensor([v.code_token_ids({"form": "五绝"}) + [BOS_ID] + v.encode("白日") + [EOS_ID] + v.encode("依山")])
    assert domain.texts(out) == ["白日"]
    arr = domain.to_array(out)
    assert arr.shape == (1, domain.max_len) and "".join(map(chr, arr[0][arr[0] > 0])) == "白日"
    long = torch.tensor([v.encode("白日依山尽" * 10)])                   # longer than the data's texts: kept whole
    assert domain.to_array(long).shape == (1, 50)
    with pytest.raises(GanvasError, match=f"outside the vocabulary of {len(v)} tokens"):
        domain.texts(torch.tensor([[len(v)]]))


def test_domain_arguments_are_checked() -> None:
    with pytest.raises(GanvasError, match="language must be one of zh, en"):
        TextDomain(language="fr", vocab={"chars": "ab"})
    with pytest.raises(GanvasError, match="needs the dataset's vocabulary"):
        TextDomain(language="en")
    domain, _ = domain_for(POEMS)
    assert domain.describe() == {"language": "zh", "characters": len(domain.vocab.chars), "max_len": 25,
                                 "codes": CODES}
    assert TextDomain(**domain.args()).vocab.tokens == domain.vocab.tokens


def ink_and_seal(picture: Image.Image) -> tuple[float, int]:
    a = np.asarray(picture.convert("RGB")).astype(int)
    ink = (a.sum(axis=2) < 200).mean()
    seal = int((np.abs(a - np.array(SEAL)).sum(axis=2) < 30).sum())
    return float(ink), seal


def test_pictures_are_ink_on_paper_sized_to_the_text() -> None:
    domain, x = domain_for(POEMS)
    short, _ = domain_for(["白日依山尽，黄河入海流。"])
    pics = domain.to_pil(domain.to_tensor(x))
    assert len(pics) == 3 and all(p.mode == "RGB" for p in pics)
    p = pics[0]
    assert tuple(np.asarray(p)[p.height // 2, 3]) == PAPER or tuple(np.asarray(p)[4, 4]) == PAPER
    ink, seal = ink_and_seal(p)
    assert 0.01 < ink < 0.3 and seal > 100                                # written, and sealed
    short_x = text_arrays([Text("白日依山尽，黄河入海流。", "k")], {})["x"]
    one_line = short.to_pil(short.to_tensor(short_x))[0]
    assert one_line.height < p.height and one_line.width == p.width      # two lines are taller than one
    assert not np.array_equal(np.asarray(pics[0]), np.asarray(pics[1]))  # different poems, different pictures
    en, ex = domain_for(["A rolling stone gathers momentum.", "Short."], language="en")
    en_pics = en.to_pil(en.to_tensor(ex))
    assert en_pics[0].width > en_pics[1].width and ink_and_seal(en_pics[0])[1] == 0   # no seal on English


def test_preview_is_a_grid_of_up_to_16_texts() -> None:
    domain, x = domain_for(POEMS)
    ids = domain.to_tensor(np.concatenate([x] * 7))                        # 21 texts
    grid = domain.preview(ids)
    one = domain.to_pil(ids[:1])[0]
    assert grid.width >= 4 * one.width and grid.height >= 4 * one.height * 0.9
    assert grid.width < 5 * one.width and grid.height < 5 * one.height   # 16 texts, 4 × 4
    assert domain.preview(ids[:2], nrow=1).height >= 2 * one.height


def test_encode_txt_png_json_and_save(tmp_path: Path) -> None:
    domain, x = domain_for(POEMS)
    one = domain.to_tensor(x[:1])
    assert domain.encode(one, "txt").decode("utf-8") == POEMS[0] + "\n"
    png = domain.encode(one, "png", text={"ganvas": json.dumps({"seed": 3})})
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.format == "PNG" and json.loads(picture.text["ganvas"]) == {"seed": 3}
    record = json.loads(domain.encode(one, "json", text={"codes": json.dumps({"form": "五绝"}), "note": "hi"}))
    assert record == {"text": POEMS[0], "codes": {"form": "五绝"}, "note": "hi"}
    with pytest.raises(GanvasError, match="batch of 1"):
        domain.encode(domain.to_tensor(x), "txt")
    with pytest.raises(GanvasError, match="can be written as txt, png, json"):
        domain.encode(one, "midi")
    paths = domain.save(domain.to_tensor(x[:2]), tmp_path, ["a", "b"])
    assert [p.name for p in paths] == ["a.txt", "a.png", "b.txt", "b.png"]
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == POEMS[1] + "\n"
    Image.open(tmp_path / "a.png").verify()
    domain.save(one, tmp_path, ["c"], ("json",))
    assert json.loads((tmp_path / "c.json").read_text(encoding="utf-8")) == {"text": POEMS[0]}
