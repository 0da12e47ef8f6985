"""Writer: a trained text model ready to write, with control codes and the constrained decoder.

``W = ganvas.load("runs/tang-poems-ctrl"); W.sample(4, seed=0, codes={"form": "七绝"}, acrostic="春花秋月")``.
Seed s names one text: its noise (one uniform number per character) comes from its own generator. A
Chinese model with a ``form`` code writes exact forms by default (lines × characters, punctuation,
rhyme from the Pingshui tables, lenient tones: ganvas/text/decode.py); without a form code, seed s
writes form s mod 4 (五绝, 七绝, 五律, 七律), asked for with the code as well. ``constrained=False``
samples freely (what the metrics' temperature sweep compares against), and refuses an acrostic, keywords
or a first line rather than dropping them.
"""

from __future__ import annotations

from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.loaded import LoadedModel
from ganvas.text.forms import FORMS

DEFAULT_TEMPERATURE = 0.8


class Writer(LoadedModel):
    """A trained control-code language model (the weight-averaged G)."""

    @property
    def codes(self) -> dict[str, list[str]]:
        """The code fields and their values this model was trained with."""
        return {f: list(v) for f, v in self.model.vocab.codes.items()}

    @property
    def language(self) -> str:
        return str(self.model.spec.domain_args.get("language", "zh"))

    @property
    def classes(self) -> list[str]:
        return []

    def seed_codes(self, seeds: list[int], codes: dict[str, str] | str | None) -> list[dict[str, str]]:
        """The codes each seed writes with: `codes` as given; a Chinese model's unspecified form is form s mod 4."""
        from ganvas.nets.ctrl import parse_codes, resolve_codes

        given = resolve_codes(self.model.vocab, parse_codes(codes)) if codes else {}
        self.model.vocab.code_token_ids(given)                    # unknown fields or values: one-line errors
        out = []
        for s in seeds:
            row = dict(given)
            if self.language == "zh" and "form" in self.codes and row.get("form") is None:
                row["form"] = list(FORMS)[int(s) % len(FORMS)]
            out.append(row)
        return out

    def constraints(self, codes: dict[str, str], acrostic: str | None = None, keywords: tuple[str, ...] = (),
                    first_line: str | None = None) -> Any:
        """The decoder's constraints for one text with `codes` (form from the form code)."""
        from ganvas.text.decode import constraints_for

        form = codes.get("form")
        if self.language == "zh" and (acrostic or keywords or first_line) and form not in FORMS:
            raise GanvasError(f"an acrostic, keywords or a first line need a verse form: give --code with one of "
                              f"{', '.join(FORMS)} (got form {form or 'unspecified'})")
        args = self.model.spec.domain_args
        return constraints_for(self.model.vocab, self.language, form=form if form in FORMS else None,
                               acrostic=acrostic or None, keywords=tuple(keywords), first_line=first_line or None,
                               max_lines=args.get("max_lines"), max_chars=args.get("max_chars"))

    @torch.no_grad()
    def sample_ids(self, n: int, seed: int = 0, codes: dict[str, str] | str | None = None,
                   acrostic: str | None = None, keywords: tuple[str, ...] = (), first_line: str | None = None,
                   temperature: float = DEFAULT_TEMPERATURE, constrained: bool = True) -> torch.Tensor:
        """Token ids [n, T] of seeds seed … seed+n−1 (see `sample`)."""
        return self.seeds_ids(list(range(seed, seed + n)), codes, acrostic, keywords, first_line, temperature,
                              constrained)

    @torch.no_grad()
    def seeds_ids(self, seeds: list[int], codes: dict[str, str] | str | None = None,
                  acrostic: str | None = None, keywords: tuple[str, ...] = (), first_line: str | None = None,
                  temperature: float = DEFAULT_TEMPERATURE, constrained: bool = True) -> torch.Tensor:
        """Token ids [len(seeds), T], row i written by seed ``seeds[i]`` (any seeds, in any order: the studio
        writes a page of seeds, or one kept seed again; a seed's text is the same in any batch)."""
        if not temperature > 0:
            raise GanvasError(f"temperature must be > 0, got {temperature}")
        if not constrained and (acrostic or keywords or first_line):    # reported, never silently dropped
            raise GanvasError("an acrostic, keywords and a first line are constraints: they need constrained "
                              "sampling (leave out --free / constrained=false)")
        rows = self.seed_codes(seeds, codes)
        tokens = torch.tensor([self.model.vocab.code_token_ids(r) for r in rows], dtype=torch.long)
        latent = self.model.latents_for_seeds(seeds, device=self.device, label=tokens)
        plans = None
        if constrained:
            plans = [self.constraints(r, acrostic, keywords, first_line) for r in rows]
        return self.model.generate(latent, constraints=plans, temperature=temperature)

    def sample(self, n: int, seed: int = 0, codes: dict[str, str] | str | None = None,
               acrostic: str | None = None, keywords: tuple[str, ...] = (), first_line: str | None = None,
               temperature: float = DEFAULT_TEMPERATURE, constrained: bool = True) -> list[str]:
        """Texts of seeds seed … seed+n−1 with `codes` (a mapping, or "form=七绝,era=tang", or a bare value
        "七绝"); `acrostic`: the first character of each verse; `keywords`: words that must appear;
        `first_line`: the poem's first verse; `constrained=False`: free sampling at `temperature`."""
        ids = self.sample_ids(n, seed, codes, acrostic, keywords, first_line, temperature, constrained)
        return self.domain.texts(ids)
