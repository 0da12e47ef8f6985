"""Sketch to image: a drawing from the studio's canvas, checked and made the model's input, through pix2pix.

The canvas sends a square PNG of any side from the model's resolution up to `MAX_SIDE`; it is
composited on white, made grey (an RGB model gets the grey in all three channels, like the training
drawings) and resized to the model's resolution with Lanczos, the filter the sketch sets are resized
with (128 → 64 px), so a pen 4 px wide on a 256 px canvas becomes the 1 px line the model learned
from. A drawing with no ink is refused rather than turned into an arbitrary picture. The answer is
the drawing as the model saw it and the output, a PNG with its provenance inside; `download` packs
both with provenance.json into a zip. Nothing is written on the server.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from ganvas.errors import GanvasError
from ganvas.explore import provenance as P
from ganvas.studio import outputs as O
from ganvas.studio.results import File, Sketched
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.state import StudioState

MAX_SIDE = 1024          # the largest canvas accepted (a square of this side at most)
INK_BELOW = 200          # a pixel darker than this (of 255) is ink; a drawing needs some


@dataclass(frozen=True)
class SketchRequest:
    image: Any                          # a decoded PIL image (ganvas.studio.uploads checked its size)


def drawing_array(image: Any, side: int, channels: int) -> np.ndarray:
    """The drawing as the model's input: uint8 side×side×channels, grey on white; one-line errors for misfits."""
    from PIL import Image

    w, h = image.size
    if w != h:
        raise GanvasError(f"the sketch is {w}×{h}; send a square drawing ({side}×{side} up to {MAX_SIDE}×{MAX_SIDE} "
                          f"px, resized to the model's {side}×{side})")
    if not side <= w <= MAX_SIDE:
        raise GanvasError(f"the sketch is {w}×{h}; this model draws {side}×{side}: send a square drawing of "
                          f"{side} to {MAX_SIDE} px a side (it is resized to {side}×{side})")
    rgba = image.convert("RGBA")
    grey = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    if not (np.asarray(grey) < INK_BELOW).any():
        raise GanvasError("the sketch is empty (all white): draw some dark lines on white first")
    small = np.asarray(grey.resize((side, side), Image.Resampling.LANCZOS))
    if not (small < INK_BELOW).any():
        small = np.asarray(grey.resize((side, side), Image.Resampling.BOX))   # faint specks: keep them visible
    return np.repeat(small[..., None], channels, axis=2)


class SketchService:
    def __init__(self, state: StudioState, catalogue: Catalogue) -> None:
        self.state = state
        self.catalogue = catalogue

    def _make(self, model: str, req: SketchRequest) -> tuple[Any, Any, dict[str, Any], Any]:
        item = self.catalogue.translator(model)
        T = item.model
        T.generator("AtoB")
        drawing = drawing_array(req.image, T.resolution, T.channels)
        with self.state.compute:
            y = T.translate(T.domain.to_tensor(drawing[None], T.device), "AtoB")
        record = P.provenance(T, {"sketch": "AtoB", "describe": T.describe("AtoB"),
                                  "input": {"drawing_sha256": hashlib.sha256(drawing.tobytes()).hexdigest(),
                                            "size": list(req.image.size)}},
                              None, item.entry.name, self.catalogue.checkpoint_name(item))
        return T, drawing, record, T.domain.to_pil(y)[0]

    def render(self, model: str, req: SketchRequest) -> Sketched:
        from PIL import Image

        T, drawing, record, out = self._make(model, req)
        shown = Image.fromarray(drawing[..., 0])
        return Sketched(O.data_url(O.png(shown)), O.data_url(O.png(out, record)), T.describe("AtoB"),
                        T.resolution)

    def download(self, model: str, req: SketchRequest) -> File:
        """A zip: output.png (watermarked, its signed manifest inside), sketch.png (the drawing as the model saw
        it), provenance.json."""
        from PIL import Image

        T, drawing, record, out = self._make(model, req)
        record = {**record, "files": ["output.png", "sketch.png"]}
        item = self.catalogue.translator(model)
        pub = self.state.publishing.publisher(T, item.entry.name, self.catalogue.checkpoint_name(item))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("output.png", pub.publish(O.png(out), "png", record).data)
            zf.writestr("sketch.png", O.png(Image.fromarray(drawing[..., 0])))
            zf.writestr("provenance.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        return File(buf.getvalue(), O.MEDIA["zip"], f"ganvas-sketch-{model.replace('/', '_')}.zip")
