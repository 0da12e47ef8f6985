"""Translation: an uploaded picture, or a typed line drawn in the font a font model learned from, through
a pix2pix or CycleGAN generator; the outputs side by side carry their provenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import provenance as P
from ganvas.studio import outputs as O
from ganvas.studio.results import Translation
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.state import StudioState


@dataclass(frozen=True)
class TranslateRequest:
    """A picture or a line of text (exactly one), the direction, and for text a cjk-fonts font name."""

    direction: str = "AtoB"
    image: Any = None                   # a decoded PIL image (ganvas.studio.uploads checked its size)
    text: str | None = None
    font: str | None = None             # a name, never a path: font files are never read from a request


class TranslationService:
    def __init__(self, state: StudioState, catalogue: Catalogue) -> None:
        self.state = state
        self.catalogue = catalogue

    def translate(self, model: str, req: TranslateRequest) -> Translation:
        import numpy as np
        from PIL import Image

        item = self.catalogue.translator(model)
        T = item.model
        direction, text, font = req.direction, req.text, req.font
        with self.state.compute:
            T.generator(direction)
            if text is not None:
                from ganvas.data.cjk_fonts import FONTS

                if font is not None and font not in FONTS:
                    raise GanvasError(f"font must be one of the cjk-fonts names {', '.join(FONTS)}, got {font!r}")
                arrays, missing, blank = T.render_text(text, font, direction)
                x = T.domain.to_tensor(arrays, T.device)
            else:
                x, missing, blank = T.prepare([req.image]), [], [False]
            y = T.translate(x, direction)
            y[torch.as_tensor(blank, device=y.device)] = 1.0      # blank glyphs stay white
        pics_in, pics_out = T.domain.to_pil(x), T.domain.to_pil(y)
        items = [(O.data_url(O.png(a)), O.data_url(O.png(b))) for a, b in zip(pics_in, pics_out, strict=True)]
        strip = np.concatenate([np.asarray(p.convert("RGB")) for p in pics_out], axis=1)
        record = P.provenance(T, {"translate": direction, "describe": T.describe(direction),
                                  **({"text": text, "font": font} if text is not None else {"input": "upload"})},
                              None, item.entry.name, self.catalogue.checkpoint_name(item))
        return Translation(items, direction, T.describe(direction), missing,
                           O.data_url(O.png(Image.fromarray(strip), record)))
