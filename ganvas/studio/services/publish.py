"""What the studio says about provenance and copying: `ganvas verify` for an uploaded file, and the
memorization guard's verdict on one output, with the nearest training item beside it."""

from __future__ import annotations

from typing import Any

from ganvas.studio import outputs as O
from ganvas.studio import schemas as S
from ganvas.studio.services.catalogue import Catalogue
from ganvas.studio.services.export import ExportService
from ganvas.studio.services.generation import GenerationService, recipe_of
from ganvas.studio.state import StudioState


class PublishService:
    def __init__(self, state: StudioState, catalogue: Catalogue, generation: GenerationService,
                 export: ExportService) -> None:
        self.state = state
        self.catalogue = catalogue
        self.generation = generation
        self.export = export

    def verify(self, data: bytes, name: str) -> dict[str, Any]:
        """The verdict on an uploaded file, as `ganvas verify --json` gives it, and its lines for people.

        A picture's declared size is checked before anything decodes it (a decompression bomb is refused)."""
        from ganvas.publish.containers import sniff
        from ganvas.publish.verify import PICTURES, verify_bytes
        from ganvas.studio.uploads import decode_image

        if sniff(data) in PICTURES:
            decode_image(data, name or "upload", self.state.max_upload_pixels)
        v = verify_bytes(data, name or "upload")
        return {**v.to_record(), "lines": v.lines()}

    def guard(self, model: str, body: S.RecipeIn) -> dict[str, Any]:
        """The memorization guard's verdict on one output; for a near-copy, it and its neighbour side by side."""
        item = self.catalogue.generator(model)
        drawn = self.generation.draw(item, [recipe_of(item.model, body)])
        pub = self.export.publisher(item)
        with self.state.compute:
            verdict = pub.check(drawn.outputs)[0]
        self.state.publishing.keep(pub)
        if verdict is None:
            return {"checked": False, "flagged": False, "describe": "the memorization guard is off (--guard off)"}
        out = {**verdict.to_record(), "describe": verdict.describe()}
        if verdict.checked and verdict.neighbour is not None:
            out["picture"] = O.data_url(O.png(pub.neighbour_picture(drawn.outputs, verdict)))
        return out
