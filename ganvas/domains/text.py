"""The text domain: texts stored as Unicode code points, seen by models as token ids of a vocabulary.

Stored samples are int32 code points ``[N, L]``, 0-padded (a text dataset's ``texts.npy``). A model sees
int64 token ids ``[N, L+1]`` of the dataset's `Vocab`: each text's characters (a character outside the
vocabulary is ``<unk>``), then ``<eos>``, then ``<pad>``. A generator's outputs are token ids as well
(characters, then ``<eos>``); `to_array` reads them back to code points up to the first ``<eos>``,
dropping specials and code tokens (an ``<unk>`` reads as □, as `Vocab.decode` writes it).

Outputs are written as UTF-8 text (``txt``), as a picture (``png``: the text in a calligraphic font,
AR PL UKai for Chinese, DejaVu Serif for English, black ink on warm paper, sized to the text; Chinese
verse carries a small red seal) and as JSON (``json``: the text and what the caller adds, e.g. its
codes and provenance). The layout comes from the dataset's ``domain_args``: language, vocabulary
(characters and code fields) and max_len.
"""

from __future__ import annotations

import functools
import json
import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganvas.console import info
from ganvas.domains.base import Domain, one_output, png_bytes, stored_tensor
from ganvas.errors import GanvasError
from ganvas.files import save_image, write_bytes, write_text
from ganvas.text.vocab import EOS_ID, PAD_ID, UNK_ID, Vocab

LANGUAGES = ("zh", "en")
UNKNOWN = "□"                                   # how an <unk> token reads (as Vocab.decode writes it)
# (path, face index) of each language's font, then fallbacks for characters the first one lacks
FONTS: dict[str, tuple[tuple[str, int], ...]] = {
    "zh": (("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),                 # AR PL UKai CN, a kaishu hand
           ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)),  # Noto Serif CJK SC: rarer characters
    "en": (("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0),
           ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2)),
}
PAPER, INK, EDGE, SEAL = (246, 238, 220), (30, 26, 22), (214, 196, 160), (178, 34, 34)
SIZE = {"zh": 40, "en": 26}                     # font size in pixels
WRAP = {"zh": 24, "en": 80}                     # a longer line is wrapped (characters; fortunes keep their 72)
PREVIEW_MAX = 16


@functools.lru_cache(maxsize=16)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont | None:
    try:
        return ImageFont.truetype(path, size, index=index)
    except OSError:
        return None


@functools.lru_cache(maxsize=8)
def fonts(language: str, size: int) -> tuple[Any, ...]:
    """The language's fonts at `size` that are installed (the first is the face texts are drawn in)."""
    found = tuple(f for f in (_font(p, i, size) for p, i in FONTS[language]) if f is not None)
    if not found:
        info(f"warning: the {language} font {FONTS[language][0][0]} is not installed (Debian: "
             f"{'fonts-arphic-ukai' if language == 'zh' else 'fonts-dejavu-core'}); pictures of texts use "
             "Pillow's plain font")
        return (ImageFont.load_default(size),)
    return found


@functools.lru_cache(maxsize=65536)
def _has_glyph(font: Any, c: str) -> bool:
    return bytes(font.getmask(c)) != bytes(font.getmask("\U0010fffd"))    # a private-use character: no glyph


def font_for(c: str, chain: tuple[Any, ...]) -> Any:
    """The first font of `chain` that draws `c` (the first font when none does)."""
    for f in chain:
        if c.isspace() or _has_glyph(f, c):
            return f
    return chain[0]


def render(text: str, language: str, seal: bool | None = None) -> Image.Image:
    """`text` in ink on warm paper, one line per line (long lines wrapped), sized to the text.

    Chinese is set on a grid, one character per square as a calligrapher writes it; English in running
    serif type. `seal` (default: for Chinese) stamps a small red seal at the end."""
    size = SIZE[language]
    chain = fonts(language, size)
    lines = []
    for line in text.split("\n") or [""]:
        if language == "zh":
            lines += [line[i:i + WRAP["zh"]] for i in range(0, len(line), WRAP["zh"])] or [""]
        else:
            lines += textwrap.wrap(line, WRAP["en"]) or [""]
    step = int(size * (1.5 if language == "zh" else 1.45))
    margin = size
    if language == "zh":
        width = max(len(line) for line in lines) * size
    else:
        width = max(int(chain[0].getlength(line)) for line in lines)
    seal = language == "zh" if seal is None else seal
    w = max(width, 4 * size) + 2 * margin
    h = len(lines) * step + 2 * margin - (step - size) // 2 + (size if seal else 0)
    picture = Image.new("RGB", (w, h), PAPER)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((margin // 3, margin // 3, w - 1 - margin // 3, h - 1 - margin // 3), outline=EDGE, width=2)
    ascent = chain[0].getmetrics()[0]
    for row, line in enumerate(lines):
        top = margin + row * step
        if language == "zh":
            for col, c in enumerate(line):      # on the baseline, centred across its square (full-width: filling it)
                f = font_for(c, chain)
                left = margin + col * size + max(0.0, size - f.getlength(c)) / 2
                draw.text((left, top + ascent), c, font=f, fill=INK, anchor="ls")
        else:
            draw.text((margin, top + ascent), line, font=chain[0], fill=INK, anchor="ls")
    if seal:
        s = int(size * 0.9)
        x0, y0 = w - margin - s, h - margin - s + size // 3
        draw.rounded_rectangle((x0, y0, x0 + s, y0 + s), radius=s // 8, fill=SEAL)
        mark = fonts("zh", int(s * 0.8))[0]
        draw.text((x0 + s / 2, y0 + s / 2), "吟", font=mark, fill=PAPER, anchor="mm")
    return picture


def json_entries(text: Mapping[str, str] | None) -> dict[str, Any]:
    """The caller's entries for a JSON file: a value that is itself JSON (a provenance record) is kept as JSON."""
    out: dict[str, Any] = {}
    for key, value in (text or {}).items():
        if isinstance(value, str) and value[:1] in "{[":
            try:
                out[key] = json.loads(value)
                continue
            except ValueError:
                pass
        out[key] = value
    return out


class TextDomain(Domain):
    name = "text"
    file_suffix = ".txt"
    formats = ("txt", "png", "json")
    default_formats = ("txt", "png")
    text_formats = ("png", "json")

    def __init__(self,
                 language: str = "zh",                         # zh | en: the font and how texts are judged
                 vocab: Vocab | Mapping[str, Any] | None = None,  # the dataset's vocabulary (Vocab.to_dict())
                 max_len: int = 0,                             # the stored width L (the longest text)
                 ) -> None:
        if language not in LANGUAGES:
            raise GanvasError(f"text language must be one of {', '.join(LANGUAGES)}, got {language!r}")
        if vocab is None:
            raise GanvasError("the text domain needs the dataset's vocabulary (domain_args.vocab: its card carries it)")
        if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 0:
            raise GanvasError(f"text max_len must be a whole number >= 0, got {max_len!r}")
        self.language, self.max_len = language, max_len
        self.vocab = vocab if isinstance(vocab, Vocab) else Vocab.from_dict(vocab)
        points = [ord(c) for c in self.vocab.chars]
        order = np.argsort(points, kind="stable")
        self._points = torch.tensor(np.asarray(points, dtype=np.int64)[order])       # sorted code points
        self._ids = torch.tensor(np.arange(self.vocab.first_char, len(self.vocab), dtype=np.int64)[order])
        table = np.zeros(len(self.vocab), dtype=np.int32)                            # token id → code point
        table[self.vocab.first_char:] = points
        table[UNK_ID] = ord(UNKNOWN)
        self._table = table
        self._on: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def args(self) -> dict[str, Any]:
        """The domain_args that rebuild this domain (what a dataset card and a checkpoint store)."""
        return {"language": self.language, "vocab": self.vocab.to_dict(), "max_len": self.max_len}

    # --- tensors ---------------------------------------------------------------------------------

    def to_tensor(self, batch: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
        """Code points [B, L] → token ids [B, L+1]: characters (unknown ones <unk>), <eos>, then <pad>."""
        cp = stored_tensor(batch, device).long()
        if cp.dim() != 2:
            raise GanvasError(f"texts must be code points [batch, length], got shape {tuple(cp.shape)}")
        key = str(cp.device)
        if key not in self._on:
            self._on[key] = (self._points.to(cp.device), self._ids.to(cp.device))
        points, ids = self._on[key]
        if len(points):
            pos = torch.searchsorted(points, cp).clamp_(max=len(points) - 1)
            tok = torch.where(points[pos] == cp, ids[pos], torch.full_like(cp, UNK_ID))
        else:
            tok = torch.full_like(cp, UNK_ID)
        b, n = cp.shape
        lengths = (cp != 0).sum(dim=1, keepdim=True)
        where = torch.arange(n + 1, device=cp.device).unsqueeze(0)
        out = torch.cat([tok, torch.full((b, 1), PAD_ID, dtype=torch.long, device=cp.device)], dim=1)
        out = torch.where(where < lengths, out, torch.full_like(out, PAD_ID))
        return out.masked_fill_(where == lengths, EOS_ID)

    def _rows(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        ids = (x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)).astype(np.int64)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2:
            raise GanvasError(f"text outputs must be token ids [batch, length], got shape {tuple(ids.shape)}")
        bad = ids[(ids < 0) | (ids >= len(self.vocab))]
        if bad.size:
            raise GanvasError(f"token id {int(bad[0])} is outside the vocabulary of {len(self.vocab)} tokens")
        return ids

    def to_array(self, x: torch.Tensor) -> np.ndarray:
        """Token ids [B, T] → code points [B, max(max_len, longest text)], up to each row's first <eos>."""
        ids = self._rows(x)
        cps = self._table[ids]
        before_eos = np.cumsum(ids == EOS_ID, axis=1) == 0
        keep = (cps > 0) & before_eos
        width = max(self.max_len, int(keep.sum(axis=1).max(initial=0)))
        out = np.zeros((len(ids), width), dtype=np.int32)
        for i in range(len(ids)):
            row = cps[i][keep[i]]
            out[i, :len(row)] = row
        return out

    def texts(self, x: torch.Tensor) -> list[str]:
        """Token ids [B, T] → the texts (up to <eos>; <unk> reads as □)."""
        return [self.vocab.decode(row) for row in self._rows(x)]

    @staticmethod
    def array_texts(points: np.ndarray) -> list[str]:
        """Stored code points [N, L] (0-padded) → the texts."""
        return ["".join(map(chr, row[row > 0])) for row in np.asarray(points)]

    # --- pictures --------------------------------------------------------------------------------

    def to_pil(self, x: torch.Tensor) -> list[Image.Image]:
        return [render(t, self.language) for t in self.texts(x)]

    def preview(self, x: torch.Tensor, nrow: int | None = None, pad: int = 8) -> Image.Image:
        """Up to 16 texts as pictures in a grid (`nrow` per row; default as square as possible)."""
        pics = self.to_pil(x[:PREVIEW_MAX])
        if not pics:
            raise GanvasError("nothing to preview: the batch holds no texts")
        nrow = nrow or max(1, math.ceil(math.sqrt(len(pics))))
        cells = [pics[i:i + nrow] for i in range(0, len(pics), nrow)]
        widths = [max(row[c].width for row in cells if c < len(row)) for c in range(nrow)]
        heights = [max(p.height for p in row) for row in cells]         # each row as tall as its tallest text
        grid = Image.new("RGB", (sum(widths) + pad * (nrow + 1), sum(heights) + pad * (len(cells) + 1)),
                         (255, 255, 255))
        y = pad
        for row, h in zip(cells, heights, strict=True):
            x = pad
            for c, p in enumerate(row):
                grid.paste(p, (x, y))
                x += widths[c] + pad
            y += h + pad
        return grid

    # --- files -----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"language": self.language, "characters": len(self.vocab.chars), "max_len": self.max_len,
                "codes": {f: list(v) for f, v in self.vocab.codes.items()}}

    def encode(self, x: torch.Tensor, format: str, *, text: dict[str, str] | None = None,
               scratch: Path | None = None, compress_level: int = 1) -> bytes:
        """One text as UTF-8 (``txt``), a picture (``png``, `text` as its text chunks) or JSON (``json``:
        ``{"text": ..., **text}``, the caller's codes and provenance)."""
        self.check_formats((format,))
        t = self.texts(one_output(x))[0]
        if format == "txt":
            return (t + "\n").encode("utf-8")
        if format == "json":
            return (json.dumps({"text": t, **json_entries(text)}, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        return png_bytes(render(t, self.language), text, compress_level)

    def save(self, x: torch.Tensor, out_dir: Path, stems: list[str], formats: tuple[str, ...] | None = None
             ) -> list[Path]:
        formats = self.check_formats(formats)
        out_dir = Path(out_dir)
        paths: list[Path] = []
        for t, stem in zip(self.texts(x), stems, strict=True):
            for fmt in formats:
                path = out_dir / f"{stem}.{fmt}"
                if fmt == "txt":
                    write_text(path, t + "\n")
                elif fmt == "json":
                    write_bytes(path, (json.dumps({"text": t}, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
                else:
                    save_image(path, render(t, self.language))
                paths.append(path)
        return paths
