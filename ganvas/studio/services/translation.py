"""Translation: an uploaded picture, or a typed line drawn in the font a font model learned from, through
a pix2pix or CycleGAN generator; the outputs side by side carry their provenance."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.explore import provenance as P
from ganvas.studio import outputs as O
from ganvas.studio.results import File, Translation
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

        T, item, x, y, missing, record = self._run(model, req)
        direction = req.direction
        pics_in, pics_out = T.domain.to_pil(x), T.domain.to_pil(y)
        items = [(O.data_url(O.png(a)), O.data_url(O.png(b))) for a, b in zip(pics_in, pics_out, strict=True)]
        strip = np.concatenate([np.asarray(p.convert("RGB")) for p in pics_out], axis=1)
        return Translation(items, direction, T.describe(direction), missing,
                           O.data_url(O.png(Image.fromarray(strip), record)))

    def download(self, model: str, req: TranslateRequest) -> File:
        """A zip of the same translation: output-N.png (watermarked, each with its signed manifest), input-N.png
        (what the model was given), provenance.json."""
        T, item, x, y, missing, record = self._run(model, req)
        n = y.shape[0]
        names = [f"{kind}-{i + 1}.png" for kind in ("output", "input") for i in range(n)]
        record = {**record, "files": names}
        pub = self.state.publishing.publisher(T, item.entry.name, self.catalogue.checkpoint_name(item))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for i, (a, b) in enumerate(zip(T.domain.to_pil(x), T.domain.to_pil(y), strict=True)):
                zf.writestr(f"output-{i + 1}.png", pub.publish(O.png(b), "png", record).data)
                zf.writestr(f"input-{i + 1}.png", O.png(a))
            zf.writestr("provenance.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        self.state.publishing.keep(pub)
        return File(buf.getvalue(), O.MEDIA["zip"], f"ganvas-translation-{model.replace('/', '_')}.zip")

    def _run(self, model: str, req: TranslateRequest) -> tuple[Any, Any, torch.Tensor, torch.Tensor, list, dict]:
        """The translator, its catalogue item, inputs, outputs, characters the font lacks, the provenance record."""
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
        record = P.provenance(T, {"translate": direction, "describe": T.describe(direction),
                                  **({"text": text, "font": font} if text is not None else {"input": "upload"})},
                              None, item.entry.name, self.catalogue.checkpoint_name(item))
        return T, item, x, y, missing, record
