"""Text datasets: tang-poems and fortunes-en built from Debian's fortune files, and the user's own texts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from ganvas.data import DATASETS
from ganvas.data.builder import package_version
from ganvas.data.dataset import builtin_root, is_built, load_dataset
from ganvas.data.text_builder import FORTUNE_SEPARATOR, decode_text
from ganvas.domains.text import TextDomain
from ganvas.errors import GanvasError
from ganvas.text.forms import FORM_NAMES, form_of


def built(name: str) -> tuple[Path, float]:
    """The built-in text dataset `name` in the session's data home (built here if needed) and the build's seconds."""
    builder = DATASETS.get(name)()
    if builder.missing():
        pytest.skip(builder.missing())
    root = builtin_root(name)
    seconds = 0.0
    if not is_built(name):
        start = time.perf_counter()
        builder.build(root, progress=False)
        seconds = time.perf_counter() - start
    return root, seconds


@pytest.fixture(scope="module")
def tang() -> tuple[Path, float]:
    return built("tang-poems")


@pytest.fixture(scope="module")
def fortunes() -> tuple[Path, float]:
    return built("fortunes-en")


def texts_of(root: Path) -> list[str]:
    return TextDomain.array_texts(np.load(root / "texts.npy"))


def test_tang_poems_are_poems_with_forms_eras_and_their_provenance(tang: tuple[Path, float]) -> None:
    root, seconds = tang
    assert seconds < 10
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    texts = texts_of(root)
    labels = np.load(root / "labels.npy")
    meta = json.loads((root / "meta.json").read_text(encoding="utf-8"))
    keys = (root / "keys.txt").read_text(encoding="utf-8").splitlines()
    assert 380 <= card["count"] == len(texts) == len(labels) == len(meta) == len(keys) <= 430
    assert labels.shape == (len(texts), 2) and labels.dtype == np.int64
    assert card["domain"] == "text" and card["domain_args"]["language"] == "zh"
    assert card["domain_args"]["vocab"]["codes"] == {"form": list(FORM_NAMES), "era": ["tang", "song"]}
    assert card["domain_args"]["max_len"] == np.load(root / "texts.npy").shape[1] == max(map(len, texts))
    # the codes are each poem's form and era, and the card counts them
    forms = card["codes"]["form"]
    assert forms["names"] == list(FORM_NAMES) and sum(forms["counts"]) == len(texts)
    assert all(FORM_NAMES[k] == form_of(t) for t, k in zip(texts, labels[:, 0], strict=True))
    assert min(forms["counts"][:4]) >= 20                     # every regulated form is well represented
    assert [m["era"] for m in meta] == [card["codes"]["era"]["names"][k] for k in labels[:, 1]]
    assert min(card["codes"]["era"]["counts"]) >= 90
    # 静夜思 (in this anthology titled 夜思), a 五绝 of the Tang
    i = texts.index("床前明月光，疑是地上霜。\n举头望明月，低头思故乡。")
    assert FORM_NAMES[labels[i, 0]] == "五绝" and labels[i, 1] == 0
    assert meta[i]["title"] == "夜思" and meta[i]["author"] == "李白" and meta[i]["source"] == "tang300"
    # texts hold verse only: no colour escapes, titles, authors or prefaces
    for t in texts:
        assert "\x1b" not in t and "《" not in t and "作者" not in t and "题目" not in t and "其一" not in t
        assert all(line and line[-1] in "，。？！；：、" for line in t.split("\n")), t
    assert all(len(t) <= card["max_chars"] for t in texts) and card["skipped"] == {"longer than 200 characters": 24}
    cicada = next(k for k, m in enumerate(meta) if m["title"] == "在狱咏蝉·并序")
    assert texts[cicada].startswith("西陆蝉声唱") and meta[cicada]["preface"].startswith("余禁所禁垣西")
    # an entry printing two poems is two poems (沈园二首: two 七绝, not one 七律)
    shen = [k for k, m in enumerate(meta) if m["title"].startswith("沈园·")]
    assert [meta[k]["title"] for k in shen] == ["沈园·其一", "沈园·其二"]
    assert [FORM_NAMES[labels[k, 0]] for k in shen] == ["七绝", "七绝"] and keys[shen[0]] == "song100:77:其一"
    # simplified characters, the licence as the package states it, the package version
    assert "詩" not in "".join(texts) and "着" in "".join(texts)
    assert card["source"]["licences"]["fortunes-zh"] == ["GPL-3.0+"] and "GPL-3.0" in card["licence"]
    assert card["source"]["packages"]["fortunes-zh"] == package_version("fortunes-zh")
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "| 五绝 |" in readme and "GPL-3.0" in readme and "fortunes-zh" in readme


def test_tang_poems_load_as_a_text_dataset(tang: tuple[Path, float]) -> None:
    ds = load_dataset("tang-poems", 0)
    assert ds.domain == "text" and ds.arrays["x"].dtype == np.int32 and ds.arrays["y"].shape[1] == 2
    assert ds.fingerprint == ds.card["fingerprint"] and ds.label_names == []     # codes, not class labels
    from ganvas.cli import main

    assert main(["data", "list"]) == 0                      # a text card is listed like any other


def test_a_limited_build_keeps_every_code(tmp_path: Path) -> None:
    builder = DATASETS.get("tang-poems")()
    if builder.missing():
        pytest.skip(builder.missing())
    builder.build(tmp_path / "t", limit=20)
    card = json.loads((tmp_path / "t" / "card.json").read_text(encoding="utf-8"))
    assert card["count"] == 20 and card["available"] > 380
    assert card["domain_args"]["vocab"]["codes"]["form"] == list(FORM_NAMES)


def test_fortunes_en_short_english_entries_no_offensive_file(fortunes: tuple[Path, float]) -> None:
    from ganvas.data.fortunes_en import EXCLUDED, FILES, MAX_CHARS, MAX_LINES

    root, seconds = fortunes
    assert seconds < 10
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    texts = texts_of(root)
    labels = np.load(root / "labels.npy")
    assert 8000 <= card["count"] == len(texts) <= 14000 and labels.shape == (len(texts), 1)
    sources = card["codes"]["source"]["names"]
    assert set(sources) <= set(FILES) and not set(sources) & set(EXCLUDED) and "fortunes" in sources
    assert all(c > 0 for c in card["codes"]["source"]["counts"])          # no code without texts (tao)
    assert all(len(t) <= MAX_CHARS and t.count("\n") < MAX_LINES for t in texts)
    assert len(set(texts)) == len(texts)
    assert all(c == "\n" or c.isprintable() for c in card["domain_args"]["vocab"]["chars"])
    assert all(t == t.strip() and "  " not in t and "\t" not in t for t in texts)
    assert card["domain_args"]["language"] == "en" and "offensive" in (root / "README.md").read_text()
    keys = (root / "keys.txt").read_text().splitlines()
    assert all(k.split(":")[0] == sources[y] for k, y in zip(keys, labels[:, 0], strict=True))


def test_fortunes_en_reads_only_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fortunes folder with the offensive set (off/), ASCII art and non-English files beside the English ones."""
    from ganvas.data import fortunes_en

    d = tmp_path / "fortunes"
    (d / "off").mkdir(parents=True)
    (d / "fortunes").write_text("You will be lucky.\n%\nA\ttab and  spaces.\n%\n" + "long line\n" * 6 + "%\n")
    (d / "computers").write_text("_\bb_\bo_\bl_\bd move\x07\n%\nYou will be lucky.\n%\nIt don\u00e2\u0080\u0099t.\n")
    (d / "off" / "racism").write_text("offensive\n%\n")
    (d / "ascii-art").write_text("  /\\_/\\\n%\n")
    (d / "translate-me").write_text("Ego sum.\n%\n")
    (d / "fortunes.dat").write_bytes(b"\0\0\0\x02")
    monkeypatch.setattr(fortunes_en, "FORTUNES", d)
    monkeypatch.setattr(fortunes_en.FortunesEnBuilder, "required_paths", (str(d / "fortunes"),))
    fortunes_en.FortunesEnBuilder().build(tmp_path / "out")
    texts = texts_of(tmp_path / "out")
    card = json.loads((tmp_path / "out" / "card.json").read_text())
    assert texts == ["bold move", "You will be lucky.", "It don\u2019t.", "A tab and spaces."]
    assert card["codes"]["source"] == {"names": ["computers", "fortunes"], "counts": [3, 1], "unknown": 0}
    assert card["skipped"] == {"duplicate": 1, "more than 4 lines": 1}


def test_fortune_files_split_at_percent_lines() -> None:
    assert FORTUNE_SEPARATOR.split("a\n%\nb\n%    \nc") == ["a\n", "\nb\n", "\nc"]


# --- the user's texts -------------------------------------------------------------------------------


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_a_text_file_of_lines_or_of_blocks(tmp_path: Path) -> None:
    lines = write(tmp_path / "lines.txt", "\ufeffone line\r\n  second line  \r\n\r\n")
    ds = load_dataset(str(lines), 0)
    assert ds.domain == "text" and TextDomain.array_texts(ds.arrays["x"]) == ["one line", "second line"]
    assert ds.card["split"] == "lines (detected)" and "y" not in ds.arrays
    assert ds.card["keys"] == ["lines.txt:1", "lines.txt:2"]
    blocks = write(tmp_path / "blocks.txt",
                   "\n白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n\n\n春眠不觉晓，\n处处闻啼鸟。\n")
    ds = load_dataset(str(blocks), 0)
    assert TextDomain.array_texts(ds.arrays["x"]) == ["白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。",
                                                      "春眠不觉晓，\n处处闻啼鸟。"]
    assert ds.card["split"] == "blocks (detected)" and ds.card["domain_args"]["language"] == "zh"
    assert ds.card["keys"] == ["blocks.txt:2", "blocks.txt:6"]
    asked = load_dataset(str(blocks), 0, data_args={"split": "lines", "language": "en"})
    assert len(asked) == 4 and asked.card["split"] == "lines (asked for)"
    assert asked.card["domain_args"]["language"] == "en"
    again = load_dataset(str(blocks), 0)
    assert again.fingerprint == ds.fingerprint != asked.fingerprint


def test_a_folder_of_text_files_codes_each_text_by_its_file(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    write(folder / "li-bai.txt", "床前明月光\n疑是地上霜\n")
    write(folder / "du-fu" / "spring.txt", "国破山河在\n")
    ds = load_dataset(str(folder), 0)
    assert ds.domain == "text" and ds.card["codes"]["source"]["names"] == ["du-fu/spring", "li-bai"]
    assert ds.arrays["y"][:, 0].tolist() == [0, 1, 1]
    domain = TextDomain(**ds.domain_args)
    assert domain.vocab.codes == {"source": ["du-fu/spring", "li-bai"]}
    assert domain.texts(domain.to_tensor(ds.arrays["x"])) == ["国破山河在", "床前明月光", "疑是地上霜"]
    short = load_dataset(str(folder), 0, data_args={"max_chars": 5, "split": "blocks"})
    assert TextDomain.array_texts(short.arrays["x"]) == ["国破山河在"]
    assert short.card["skipped"] == {"longer than 5 characters": 1} and short.card["codes"]["source"]["names"] == [
        "du-fu/spring"]


def test_a_labels_file_gives_each_text_file_its_code(tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    write(folder / "a.txt", "alpha\n")
    write(folder / "b.txt", "beta\n")
    write(folder / "c.txt", "gamma\n")
    write(folder / "labels.csv", "file,label\na.txt,greek\nb.txt,greek\nc.txt,other\n")
    ds = load_dataset(str(folder), 0)
    assert ds.card["codes"]["label"] == {"names": ["greek", "other"], "counts": [2, 1], "unknown": 0}
    write(folder / "labels.csv", "a.txt,greek\nb.txt,greek\n")
    with pytest.raises(GanvasError, match=r"gives no label to 1 of 3 text files, e.g. 'c.txt'"):
        load_dataset(str(folder), 0)
    write(folder / "labels.csv", "a.txt,greek\nb.txt,greek\nc.txt,x\nd.txt,y\n")
    with pytest.raises(GanvasError, match=r"names 'd.txt', which is not a .txt file"):
        load_dataset(str(folder), 0)


def one_line_error(spec: str, **kw) -> str:
    with pytest.raises(GanvasError) as info:
        load_dataset(spec, 0, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_text_input_is_one_line_naming_the_file(tmp_path: Path) -> None:
    binary = write(tmp_path / "bin" / "x.txt", b"text\0\1\2")
    msg = one_line_error(str(binary))
    assert str(binary) in msg and "binary" in msg and "byte offset 4" in msg
    folder = tmp_path / "corpus"
    write(folder / "ok.txt", "fine\n")
    latin = write(folder / "latin.txt", "caf\u00e9\n".encode("latin-1"))
    msg = one_line_error(str(folder))
    assert str(latin) in msg and "not UTF-8" in msg and "byte offset 3" in msg and "0xe9" in msg
    empty = write(tmp_path / "empty" / "a.txt", "\n   \n")
    msg = one_line_error(str(empty.parent))
    assert "no text" in msg and str(empty.parent) in msg and "empty or blank" in msg
    assert "empty or blank" in one_line_error(str(write(tmp_path / "zero.txt", b"")))
    msg = one_line_error(str(tmp_path / "missing.txt"))
    assert "does not exist" in msg and ".txt file" in msg and "folder of .txt files" in msg
    msg = one_line_error(str(tmp_path / "nowhere"), domain="text")
    assert "does not exist" in msg and "tang-poems" in msg
    msg = one_line_error(str(folder.parent / "bin"), data_args={"split": "paragraphs"})
    assert "'split'" in msg and "blocks" in msg
    assert "raise data_args.max_chars" in one_line_error(str(write(tmp_path / "l.txt", "abcdef\n")),
                                                         data_args={"max_chars": 3})


def test_only_text_folders_are_read_as_text(tmp_path: Path) -> None:
    from PIL import Image

    from ganvas.data.text_folder import is_text_data

    mixed = tmp_path / "mixed"
    write(mixed / "a.txt", "text\n")
    mixed.joinpath("b.png").parent.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8)).save(mixed / "b.png")
    assert not is_text_data(mixed) and is_text_data(mixed / "a.txt")
    ds = load_dataset(str(mixed), 0, domain="text")          # a text model reads the folder's texts
    assert len(ds) == 1 and ds.card["skipped"] == {"not a .txt file": 1}
    with pytest.raises(GanvasError):
        decode_text(b"\xff", "x")
