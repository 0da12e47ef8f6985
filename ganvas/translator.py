"""Using a trained translation model: ``T = ganvas.load(run); T.translate(images)``, or a typed line.

A `Translator` holds the weight-averaged generators of a pix2pix or CycleGAN checkpoint, knows which
ways it can translate (pix2pix: A → B only; CycleGAN: both) and what A and B were (the fonts or
folders it learned from), and prepares any picture the way the training data was prepared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ganvas.data.dataset import resize_images
from ganvas.data.glyphs import FontFace, MissingGlyph, find_face, render_glyph
from ganvas.data.imageprep import fit_square
from ganvas.errors import GanvasError, unknown_name
from ganvas.loaded import LoadedModel

DIRECTIONS = ("AtoB", "BtoA")
TEXT_CANVAS = 128          # glyphs are drawn at cjk-fonts' stored size, then resized like the training data


class Translator(LoadedModel):
    """A trained translation model (its averaged generators), ready to translate pictures."""

    @property
    def directions(self) -> list[str]:
        return list(self.model.directions)

    @property
    def resolution(self) -> int:
        return int(self.model.spec.shape[1])

    @property
    def channels(self) -> int:
        return int(self.model.spec.shape[0])

    def side(self, side: str) -> dict[str, Any]:
        """What domain A or B was: its name, title and, for fonts, the font it was drawn from."""
        info = self.meta.get("dataset", {}).get("translation", {}).get(side.lower(), {})
        return {"name": side.upper(), **info}

    def describe(self, direction: str = "AtoB") -> str:
        src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
        return f"{self.side(src)['name']} → {self.side(dst)['name']}"

    def generator(self, direction: str) -> nn.Module:
        """The generator for `direction`, or a one-line error naming the ways this model does translate."""
        if direction not in DIRECTIONS:
            raise unknown_name("direction", direction, list(DIRECTIONS))
        if direction not in self.model.directions:
            can = ", ".join(f"{d} ({self.describe(d)})" for d in self.model.directions)
            raise GanvasError(f"{self.name} checkpoint {self.path} translates {can} only, not {direction} "
                              f"({self.describe(direction)}); train a cyclegan, or a {self.name} with A and B "
                              "swapped, for the other way")
        return getattr(self.model, self.model.directions[direction])

    def prepare(self, images: list[Image.Image], fit: str | None = None) -> torch.Tensor:
        """Pictures as the model's input: squared like the training data (crop or pad), resized, grey or RGB."""
        fit = fit or self.meta.get("config", {}).get("fit", "crop")
        side = self.resolution
        arrays = []
        for im in images:
            square = fit_square(im, side, fit)
            arrays.append(np.asarray(square.convert("L"))[..., None] if self.channels == 1 else np.asarray(square))
        return self.domain.to_tensor(np.stack(arrays), self.device)

    @torch.no_grad()
    def translate(self, images: torch.Tensor | list[Image.Image], direction: str = "AtoB",
                  pil: bool = False, batch_size: int = 64) -> torch.Tensor | list[Image.Image]:
        """Translate a batch (N×C×H×W in [-1, 1], or PIL images) one way; a tensor, or PIL images with pil=True."""
        net = self.generator(direction)
        x = images if torch.is_tensor(images) else self.prepare(images)
        if x.shape[1:] != tuple(self.model.spec.shape):
            raise GanvasError(f"{self.name} checkpoint {self.path} translates {tuple(self.model.spec.shape)} "
                              f"images, got {tuple(x.shape[1:])}")
        out = torch.cat([net(x[i:i + batch_size].to(self.device)) for i in range(0, len(x), batch_size)])
        return self.domain.to_pil(out) if pil else out

    __call__ = translate

    def sample(self, *args: Any, **kwargs: Any) -> Any:
        raise GanvasError(f"{self.path} is a {self.name} model: it translates images rather than sampling "
                          "from noise; use `ganvas translate` (Translator.translate in Python)")

    latents = sample

    # --- typed text ---------------------------------------------------------------------------------

    def text_font(self, font: str | None = None, direction: str = "AtoB") -> tuple[FontFace, int]:
        """The face to draw typed text in and its canvas: by default the font the input side was drawn from.

        `font` may name a `cjk-fonts` domain (kai, ming, zenhei, sans, serif) or a font file. The font
        the model translates *into* is refused: its glyphs are already in the output style.
        """
        from ganvas.data.cjk_fonts import FONTS, font_face

        src, dst = ("A", "B") if direction == "AtoB" else ("B", "A")
        learned = self.side(src).get("font")
        canvas = int((learned or {}).get("canvas", TEXT_CANVAS))
        if font is None:
            if not learned:
                raise GanvasError(f"{self.name} checkpoint {self.path} learned from '{self.meta['config']['data']}', "
                                  "not from a font; give --font (a cjk-fonts name such as ming, or a font file)")
            face = find_face(learned["path"], learned["family"])
        elif font in FONTS:
            face = font_face(font)
        else:
            face = find_face(font)
        target = self.side(dst).get("font")
        if target and (Path(face.path).resolve(), face.index) == (Path(target["path"]).resolve(), target["index"]):
            raise GanvasError(f"{self.name} checkpoint {self.path} turns {self.describe(direction)}: "
                              f"{target['family']} is what it writes, not what it reads; draw the text in "
                              f"{self.side(src).get('font', {}).get('family', 'another font')} (the default) "
                              "or another font" + (", or use --direction "
                                                   f"{'BtoA' if direction == 'AtoB' else 'AtoB'}"
                                                   if len(self.model.directions) > 1 else ""))
        return face, canvas

    def render_text(self, text: str, font: str | None = None,
                    direction: str = "AtoB") -> tuple[np.ndarray, list[str], list[bool]]:
        """Each character of `text` (newlines dropped) drawn as the model's input, as uint8 N×H×W×C.

        Returns the glyphs, the characters the font lacks (drawn blank), and which glyphs are blank
        (spaces and missing characters), which are not worth translating.
        """
        face, canvas = self.text_font(font, direction)
        chars = [c for c in text if c not in "\r\n"]
        if all(c.isspace() for c in chars):
            raise GanvasError("--text has nothing to draw: type at least one character that is not a space")
        glyphs, missing, blank = [], [], []
        for char in chars:
            try:
                glyphs.append(render_glyph(face, char, canvas))
                blank.append(char.isspace())
            except MissingGlyph:
                glyphs.append(np.full((canvas, canvas, 1), 255, np.uint8))
                missing.append(char)
                blank.append(True)
        if all(blank):
            raise GanvasError(f"the font {face.family} ({face.path}) has none of the characters of {text!r}")
        arrays = resize_images(np.stack(glyphs), self.resolution)
        if self.channels == 3:
            arrays = np.repeat(arrays, 3, axis=3)
        return arrays, missing, blank
