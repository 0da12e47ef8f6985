"""`ctrl`: a character language model steered by control codes (after CTRL, Keskar et al. 2019), with a
text discriminator for an optional adversarial fine-tune.

G reads ``[one code token per field] <bos> text`` and predicts the text and its ``<eos>``, trained by
maximum likelihood (objectives/text.py). It is a GRU, not a Transformer: on a few hundred poems and a
2-core CPU a two-layer GRU reaches its best held-out likelihood within minutes, and decoding one
character at a time from a recurrent state is what the constrained decoder needs (ganvas/text/decode.py).
Code dropout: each code of a training text is replaced by its "unspecified" token with probability
``code_dropout``, so a person may leave any code out when sampling.

D (used only with ``adversarial``) reads a sequence of one-hot (real) or relaxed one-hot (generated,
straight-through Gumbel-softmax) token vectors: a linear embedding, two 1-D convolutions and a max over
time, in the style of the text CNN critics of RelGAN-era language GANs.

The generator contract: a "latent" is one uniform number per position plus the code tokens,
``[u | codes]``; decoding samples each character by inverse CDF from its u (so a seed names one text),
and a seed s without codes asks for the first field's value s mod K (a grid cycles through the forms).
Text has no truncation (ψ): its dial is the sampling temperature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ganvas.config import option
from ganvas.errors import GanvasError
from ganvas.nets.base import DataSpec, GanModel
from ganvas.text.forms import PUNCTUATION
from ganvas.text.vocab import ANY, BOS_ID, EOS_ID, PAD_ID, Vocab

MAX_PLACE = 16      # places in a verse told apart by the format embedding (a longer verse shares the last)
MAX_VERSE = 16      # verse numbers told apart (a longer text shares the last)

if TYPE_CHECKING:
    from ganvas.config import TrainConfig
    from ganvas.objectives.base import Objective


@dataclass
class CtrlOptions:
    embed: int = option(128, "width of G's character and code embeddings; >= 8", min=8)
    hidden: int = option(384, "width of G's GRU; >= 16", min=16)
    layers: int = option(2, "GRU layers of G; 1 to 4", min=1, max=4)
    dropout: float = option(0.3, "dropout on G's embeddings and GRU outputs while training; 0 to 0.9", min=0,
                            max=0.9)
    embed_dropout: float = option(0.1, "share of characters whose whole embedding is dropped in a training batch "
                                       "(Gal and Ghahramani's word dropout); 0 to 0.9", min=0, max=0.9)
    prior: float = option(0.05, "weight of the training texts' token frequencies (Good–Turing smoothed) mixed into "
                                "G's next-token distribution: a character never seen in training keeps a probability "
                                "like an n-gram model's floor instead of a vanishing one; 0 to 0.5", min=0, max=0.5)
    tie: bool = option(True, "G's output layer reuses its input embedding (through a projection to its width): "
                             "rare characters, seen a few times each, share what is learnt of them both ways")
    code_dropout: float = option(0.25, "share of training texts whose each code reads as unspecified, so any "
                                       "code may be left out when sampling; 0 to 1", min=0, max=1)
    d_width: int = option(128, "channels of D's convolutions (adversarial fine-tuning only); >= 8", min=8)
    adversarial: bool = option(False, "after `mle_steps` of maximum likelihood, fine-tune G against D "
                                      "(straight-through Gumbel-softmax) with `mle_weight` of likelihood kept")
    mle_steps: int = option(300, "adversarial runs: steps of maximum likelihood before the adversarial phase",
                            min=0)
    mle_weight: float = option(1.0, "adversarial phase: weight of the likelihood term beside G's adversarial loss",
                               min=0)
    gumbel_tau: float = option(1.0, "adversarial phase: temperature of the Gumbel-softmax relaxation; > 0",
                               min=0.01)


class CharLM(nn.Module):
    """A GRU language model over token ids (codes, specials and characters share one embedding)."""

    def __init__(self,
                 vocab_size: int,       # V: tokens (specials, code tokens, characters)
                 embed: int,            # E: embedding width
                 hidden: int,           # H: GRU width
                 layers: int,           # GRU layers
                 dropout: float,        # dropout on embeddings and GRU outputs (training only)
                 tie: bool = False,     # output scores through the input embedding (Press and Wolf 2017)
                 embed_dropout: float = 0.0,  # share of vocabulary rows dropped per training batch
                 prior: float = 0.0,    # weight of the token-frequency prior in the next-token distribution
                 first_char: int = 0,   # the first character id: the prior never predicts ids below it
                                        # (specials, codes, <eos>) nor `breaks`
                 breaks: tuple[int, ...] = (),     # ids after which a verse starts (punctuation, line breaks)
                 verse_ends: tuple[int, ...] = (),  # ids that end a verse (punctuation)
                 ) -> None:
        super().__init__()
        # format embeddings (as poetry models since Yi et al. 2018 and Jiuge use): each input also carries
        # its place in its verse and its verse's number, so counting characters is not left to the GRU
        is_break = torch.zeros(vocab_size, dtype=torch.bool)
        is_break[list(breaks)] = True
        is_break[:first_char] = True                                # specials and codes start a verse too
        is_end = torch.zeros(vocab_size, dtype=torch.long)
        is_end[list(verse_ends)] = 1
        self.register_buffer("is_break", is_break, persistent=False)
        self.register_buffer("is_end", is_end, persistent=False)
        self.place = nn.Embedding(MAX_PLACE, embed)
        self.verse = nn.Embedding(MAX_VERSE, embed)
        self.embed_dropout = embed_dropout
        self.prior = prior
        self.register_buffer("counts", torch.zeros(vocab_size))     # training tokens per id (`fit_prior`)
        predictable = torch.zeros(vocab_size, dtype=torch.bool)   # what the prior covers: characters, not the
        predictable[first_char:] = True                           # marks and line breaks the format decides
        predictable[list(breaks)] = False
        self.register_buffer("predictable", predictable, persistent=False)
        self.embed = nn.Embedding(vocab_size, embed)
        self.rnn = nn.GRU(embed, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.tie = tie
        if tie:
            self.proj = nn.Linear(hidden, embed)
            self.bias = nn.Parameter(torch.zeros(vocab_size))
        else:
            self.out = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [B, T, V] of the token after each of `tokens` [B, T]; while training, every occurrence of a
        dropped character reads as zeros (the same characters for the whole batch, AWD-LSTM's embedding
        dropout), so the model cannot lean on any single rare character."""
        weight = self.embed.weight
        if self.training and self.embed_dropout > 0:
            keep = torch.rand(weight.shape[0], 1, device=weight.device) >= self.embed_dropout
            weight = weight * keep / (1 - self.embed_dropout)
        place, verse = self.layout(tokens)
        return self.run(nn.functional.embedding(tokens, weight) + self.format(place, verse), state)[0]

    def layout(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(place in verse, verse number) of each token of `tokens` [B, T]: a break (punctuation, line break,
        <bos>, a code) is place 0, the characters after it 1, 2, …; verses are counted by their end marks."""
        idx = torch.arange(tokens.shape[1], device=tokens.device).expand_as(tokens)
        last = torch.cummax(torch.where(self.is_break[tokens], idx, torch.full_like(idx, -1)), dim=1).values
        return (idx - last).clamp(max=MAX_PLACE - 1), self.is_end[tokens].cumsum(1).clamp(max=MAX_VERSE - 1)

    def next_layout(self, tokens: torch.Tensor, place: torch.Tensor, verse: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The layout of one more token [B] after a token at (`place`, `verse`)."""
        place = torch.where(self.is_break[tokens], torch.zeros_like(place), (place + 1).clamp(max=MAX_PLACE - 1))
        return place, (verse + self.is_end[tokens]).clamp(max=MAX_VERSE - 1)

    def format(self, place: torch.Tensor, verse: torch.Tensor) -> torch.Tensor:
        return self.place(place) + self.verse(verse)

    def run(self, embedded: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits [B, T, V], state) of embedded inputs [B, T, E] (relaxed one-hots come in this way)."""
        h, state = self.rnn(self.drop(embedded), state)
        h = self.drop(h)
        logits = self.proj(h) @ self.embed.weight.t() + self.bias if self.tie else self.out(h)
        if self.prior <= 0:
            return logits, state
        # log((1 − λ)·softmax + λ·prior): normalised log-probabilities, which serve as logits everywhere
        return torch.logaddexp(torch.log_softmax(logits.float(), -1) + math.log1p(-self.prior),
                               self.log_prior() + math.log(self.prior)).to(logits.dtype), state

    def log_prior(self) -> torch.Tensor:
        """log of the training characters' frequencies (not punctuation, line breaks or <eos>) with the
        Good–Turing share of unseen ones: characters seen once make up n₁/N of the training text, about how
        often a new character turns up in new text, so that mass is spread evenly over those never seen."""
        c = torch.where(self.predictable, self.counts, torch.zeros_like(self.counts))
        total = c.sum().clamp(min=1.0)
        unseen = self.predictable & (c == 0)
        novel = ((c == 1).sum() / total).clamp(min=1.0 / total, max=0.5) if bool(unseen.any()) else c.new_zeros(())
        p = c / total * (1 - novel) + unseen.float() * novel / unseen.sum().clamp(min=1)
        return torch.log(p)

    @torch.no_grad()
    def fit_prior(self, tokens: torch.Tensor) -> None:
        """Count the training texts' tokens (ids [N, T], padding ignored) once, when a run starts."""
        ids = tokens[tokens != PAD_ID].long().flatten()
        self.counts.copy_(torch.bincount(ids, minlength=self.counts.numel())[: self.counts.numel()].float())


class Stepper:
    """A `CharLM` as the decoder's StepModel (ganvas/text/decode.py): start from the codes, then one token
    at a time, keeping the GRU state and the last token's place in its verse and verse number."""

    def __init__(self, net: CharLM) -> None:
        self.net = net

    def start(self, codes: torch.Tensor) -> tuple[torch.Tensor, Any]:
        bos = torch.full((codes.shape[0], 1), BOS_ID, dtype=torch.long, device=codes.device)
        tokens = torch.cat([codes.long(), bos], dim=1)
        place, verse = self.net.layout(tokens)
        logits, state = self.net.run(self.net.embed(tokens) + self.net.format(place, verse))
        return logits[:, -1], (state, place[:, -1], verse[:, -1])

    def step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        h, place, verse = state
        tokens = tokens.long()
        place, verse = self.net.next_layout(tokens, place, verse)
        logits, h = self.net.run((self.net.embed(tokens) + self.net.format(place, verse))[:, None], h)
        return logits[:, -1], (h, place, verse)


class TextCritic(nn.Module):
    """D: (relaxed) one-hot token sequences [B, T, V] → one logit each; padding is the zero vector."""

    def __init__(self,
                 vocab_size: int,       # V: tokens
                 embed: int,            # E: embedding width (a linear map of the one-hot vectors)
                 width: int,            # channels of the two convolutions
                 ) -> None:
        super().__init__()
        self.embed = nn.Linear(vocab_size, embed, bias=False)
        self.conv = nn.Sequential(nn.Conv1d(embed, width, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv1d(width, width, 3, padding=2, dilation=2), nn.LeakyReLU(0.2))
        self.head = nn.Linear(width, 1)

    def forward(self, onehots: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.embed(onehots).transpose(1, 2))               # B × W × T
        present = onehots.sum(-1, keepdim=True).transpose(1, 2) > 0      # B × 1 × T: not padding
        h = h.masked_fill(~present, -1e4).amax(dim=2)
        return self.head(h).flatten()


class Ctrl(GanModel):
    """A control-code character language model (G) and a text critic (D); see the module docstring."""

    name = "ctrl"
    domain = "text"
    Options = CtrlOptions
    default_resolution = 0
    config_defaults = {"loss": "ns", "batch_size": 32, "lr_g": 2e-3, "lr_d": 2e-4, "betas_g": [0.9, 0.999],
                       "betas_d": [0.5, 0.999], "ema_kimg": 0.0, "holdout": 0.1}
    editable = False                    # no latent space to steer: texts are steered by codes and constraints

    def __init__(self, spec: DataSpec, options: CtrlOptions) -> None:
        super().__init__(spec, options)
        self.vocab = Vocab.from_dict(spec.domain_args.get("vocab") or {})
        v = len(self.vocab)
        marks = [self.vocab.index[c] for c in PUNCTUATION if c in self.vocab.index]
        breaks = marks + [self.vocab.index[c] for c in "\n" if c in self.vocab.index]
        self.G = CharLM(v, options.embed, options.hidden, options.layers, options.dropout, options.tie,
                        options.embed_dropout, options.prior, self.vocab.first_char, tuple(breaks), tuple(marks))
        self.D = TextCritic(v, options.embed, options.d_width)
        # per field: the code token ids of its values, then of "unspecified" (a dataset's −1)
        self._code_tables = [torch.tensor([self.vocab.code_ids[f][x] for x in [*vals, ANY]])
                             for f, vals in self.vocab.codes.items()]

    @classmethod
    def check_spec(cls, spec: DataSpec) -> None:
        super().check_spec(spec)
        if len(spec.shape) != 1 or "vocab" not in spec.domain_args:
            raise GanvasError(f"model 'ctrl' needs text data with a vocabulary (a text dataset such as tang-poems); "
                              f"got samples of shape {spec.shape}")

    # --- training -------------------------------------------------------------------------------

    @property
    def fields(self) -> int:
        return len(self._code_tables)

    def code_tokens(self, y: torch.Tensor | None, n: int, generator: torch.Generator | None = None,
                    dropout: float = 0.0) -> torch.Tensor:
        """Code token ids [n, F] of a batch's code indices `y` [n, F] (−1: unknown), each dropped to
        "unspecified" with probability `dropout` (drawn from `generator`)."""
        device = self._device()
        if not self.fields:
            return torch.empty(n, 0, dtype=torch.long, device=device)
        cols = []
        for f, table in enumerate(self._code_tables):
            table = table.to(device)
            idx = (torch.full((n,), -1, device=device) if y is None else y[:, f].to(device).long())
            idx = torch.where(idx < 0, torch.full_like(idx, len(table) - 1), idx)
            if dropout > 0:
                drop = torch.rand(n, generator=generator, device=generator.device if generator else device)
                idx = torch.where(drop.to(device) < dropout, torch.full_like(idx, len(table) - 1), idx)
            cols.append(table[idx])
        return torch.stack(cols, dim=1)

    def teacher_logits(self, x: torch.Tensor, codes: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Logits [B, T, V] predicting each token of `x` [B, T] (text, <eos>, padding) from the codes and
        the tokens before it (teacher forcing)."""
        net = net if net is not None else self.G
        bos = torch.full((x.shape[0], 1), BOS_ID, dtype=torch.long, device=x.device)
        logits = net(torch.cat([codes, bos, x[:, :-1]], dim=1))
        return logits[:, codes.shape[1]:]

    @torch.no_grad()
    def token_nll(self, x: torch.Tensor, y: torch.Tensor | None, net: nn.Module | None = None,
                  batch: int = 64) -> tuple[float, int]:
        """(summed negative log-likelihood in nats, tokens counted) of texts `x` with their codes `y`; every
        text token and each text's <eos> counts, padding does not. Codes as given (no dropout)."""
        net = net if net is not None else self.G
        total, count = 0.0, 0
        for i in range(0, x.shape[0], batch):
            xb = x[i:i + batch].to(self._device())
            codes = self.code_tokens(None if y is None else y[i:i + batch], xb.shape[0])
            logits = self.teacher_logits(xb, codes, net)
            nll = nn.functional.cross_entropy(logits.transpose(1, 2).float(), xb, ignore_index=PAD_ID,
                                              reduction="sum")
            total += float(nll)
            count += int((xb != PAD_ID).sum())
        return total, count

    def prepare_data(self, x: torch.Tensor) -> None:
        """A new run's training texts (token ids [N, T]), seen once before training: G's frequency prior."""
        self.G.fit_prior(x)

    def objective(self, cfg: TrainConfig, latent_rng: torch.Generator) -> Objective:
        from ganvas.objectives.text import LikelihoodObjective, TextAdversarialObjective

        cls = TextAdversarialObjective if self.options.adversarial else LikelihoodObjective
        return cls(self, cfg, latent_rng)

    # --- the generator contract -------------------------------------------------------------------

    @property
    def length(self) -> int:
        """T: the most tokens one output holds (the longest training text and its <eos>)."""
        return int(self.spec.shape[0])

    @property
    def latent_shape(self) -> tuple[int, ...]:
        return (self.length,)

    def code_shape(self, space: str | None = None) -> tuple[int, ...]:
        if space not in (None, "z"):
            raise GanvasError("text models have one latent space, z (a uniform number per character and the codes)")
        return (self.length + self.fields,)

    def check_truncation(self, psi: float | None, cutoff: int | None = None) -> None:
        if psi is not None or cutoff is not None:
            raise GanvasError("text models have no truncation ψ; their dial is the sampling temperature "
                              "(--temperature)")

    def sample_latent(self, n: int, generator: torch.Generator, truncation: float | None = None,
                      condition: torch.Tensor | None = None) -> torch.Tensor:
        """``[u | codes]``: u uniform in [0, 1) per position; codes: token ids [n or 1, F] (default unspecified)."""
        self.check_truncation(truncation)
        u = torch.rand(n, self.length, generator=generator, device=generator.device)
        codes = self.code_tokens(None, n) if condition is None else condition.to(u.device).long().expand(n, -1)
        return torch.cat([u, codes.to(u.device).float()], dim=1)

    def split_latent(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u [n, T], code token ids [n, F]) of latents."""
        return latent[:, :self.length], latent[:, self.length:].round().long()

    def condition_for(self, seeds: list[int], label: Any = None) -> torch.Tensor | None:
        """Code tokens, one row per seed: for `label` (a mapping field → value, or "field=value,..."), or
        without one, the first field's value s mod K for seed s (the rest unspecified)."""
        if label is None:
            rows = []
            for s in seeds:
                codes = {}
                if self.fields:
                    f, values = next(iter(self.vocab.codes.items()))
                    codes[f] = values[int(s) % len(values)]
                rows.append(self.vocab.code_token_ids(codes))
            return torch.tensor(rows, dtype=torch.long).reshape(len(seeds), self.fields)
        if torch.is_tensor(label):
            return label.long().reshape(-1, self.fields).expand(len(seeds), -1)
        return torch.tensor([self.vocab.code_token_ids(resolve_codes(self.vocab, parse_codes(label)))] * len(seeds),
                            dtype=torch.long).reshape(len(seeds), self.fields)

    def random_condition(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        return None

    def generate(self, latent: torch.Tensor, net: nn.Module | None = None, constraints: Any = None,
                 temperature: float = 1.0) -> torch.Tensor:
        """Token ids [n, T] of latents ``[u | codes]``, decoded one character at a time (under `constraints`,
        ganvas.text.decode, when given)."""
        from ganvas.text.decode import constraints_for, decode

        net = net if net is not None else self.G
        if constraints is None:             # free text: up to <eos>, or the longest text the data holds
            constraints = constraints_for(self.vocab, self.spec.domain_args.get("language", "zh"))
        u, codes = self.split_latent(latent.to(self._device()))
        was = net.training
        net.eval()
        try:
            with torch.no_grad():
                return decode(Stepper(net), self.vocab, codes, u, constraints, temperature=temperature)
        finally:
            net.train(was)

    def synthesize(self, codes: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        return self.generate(codes)

    def grid_input(self, seeds: list[int], dataset: Any, device: torch.device | str = "cpu") -> Any:
        return self.latents_for_seeds(seeds[:8], device=device)       # 8 texts: a legible page

    # --- relaxed sampling for the adversarial phase ----------------------------------------------

    def relaxed_sample(self, codes: torch.Tensor, length: int, tau: float, generator: torch.Generator
                       ) -> torch.Tensor:
        """Generated sequences as straight-through Gumbel-softmax one-hots [B, length, V]: hard tokens forward,
        the relaxed distribution's gradient backward (Jang et al. 2017); every position after a text's
        <eos> is the zero vector, like padding."""
        net = self.G
        bos = torch.full((codes.shape[0], 1), BOS_ID, dtype=torch.long, device=codes.device)
        start = torch.cat([codes, bos], dim=1)
        place, verse = net.layout(start)
        logits, state = net.run(net.embed(start) + net.format(place, verse))
        place, verse = place[:, -1], verse[:, -1]
        step_logits = logits[:, -1]
        alive = torch.ones(codes.shape[0], 1, device=codes.device)
        out = []
        for _ in range(length):
            u = torch.rand(step_logits.shape, generator=generator, device=generator.device).to(step_logits.device)
            gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
            soft = torch.softmax((step_logits.float() + gumbel) / tau, dim=-1)
            hard = nn.functional.one_hot(soft.argmax(-1), soft.shape[-1]).to(soft.dtype)
            y = (hard - soft.detach() + soft) * alive
            out.append(y)
            alive = alive * (1 - hard[:, EOS_ID:EOS_ID + 1])
            place, verse = net.next_layout(hard.argmax(-1), place, verse)
            logits, state = net.run((y @ net.embed.weight + net.format(place, verse))[:, None], state)
            step_logits = logits[:, -1]
        return torch.stack(out, dim=1)

    def onehots(self, x: torch.Tensor) -> torch.Tensor:
        """Real token ids [B, T] as D reads them: one-hot, padding the zero vector."""
        oh = nn.functional.one_hot(x.long(), len(self.vocab)).float()
        oh[..., PAD_ID] = 0.0
        return oh


def parse_codes(label: Any) -> dict[str, str]:
    """Codes from a mapping or text: ``{"form": "七绝"}``, ``"form=七绝,era=tang"``, or a bare value such as
    ``"七绝"`` (matched to the field that has it by `resolve_codes`)."""
    if isinstance(label, dict):
        return {str(k): str(v) for k, v in label.items() if v not in (None, "")}
    out: dict[str, str] = {}
    for part in str(label).split(","):
        part = part.strip()
        if not part:
            continue
        field, sep, value = part.partition("=")
        out[field.strip() if sep else ""] = value.strip() if sep else field.strip()
    return out


def resolve_codes(vocab: Vocab, codes: dict[str, str]) -> dict[str, str]:
    """`codes` with bare values ("" keys) given their field; a one-line error for a value no field has."""
    out = {k: v for k, v in codes.items() if k}
    if "" in codes:
        value = codes[""]
        fields = [f for f, vals in vocab.codes.items() if value in vals]
        if not fields:
            allowed = "; ".join(f"{f}: {', '.join(v)}" for f, v in vocab.codes.items()) or "none"
            raise GanvasError(f"code {value!r} was not trained; codes are {allowed}")
        out[fields[0]] = value
    return out
