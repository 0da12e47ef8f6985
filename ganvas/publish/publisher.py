"""Publisher: how every output of a trained model leaves ganvas — guarded, watermarked, signed, written atomically.

One object per command or studio request, made from the loaded model, so the CLI (sample, translate,
explore), the studio's downloads and the REST API cannot drift apart. Files come from the domain as it
always wrote them (`Domain.save`, `Domain.encode`, a picture of a grid), then go through
`publish_bytes`: an invisible watermark in pictures, a signed manifest inside the file or beside it, C2PA
content credentials where the format has them. Before that, the memorization guard compares the
outputs with the training items: a near-copy is flagged (its manifest says so, and the command names
the neighbour) or, with ``guard="strict"``, withheld.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ganvas.errors import GanvasError
from ganvas.publish.output import Published, publish_bytes, sidecar_path

GUARD_MODES = ("flag", "strict", "off")       # what the memorization guard does with a near-copy
FORMAT_OF_SUFFIX = {".png": "png", ".mid": "mid", ".midi": "mid", ".wav": "wav", ".txt": "txt", ".json": "json",
                    ".gif": "gif", ".webp": "webp"}
FORMAT_OF_DOMAIN = {"midi": "mid"}            # a domain's format name → publish_bytes's


@dataclass
class Written:
    """What one output became: the files written (manifests included) and the guard's word on it."""

    paths: list[Path] = field(default_factory=list)
    flagged: bool = False
    withheld: bool = False
    note: str = ""


@dataclass
class Publisher:
    """Publishes a model's outputs (see the module docstring)."""

    model: Any                              # ganvas.load(...): what made the outputs (Generator, Translator, Writer)
    name: str | None = None                 # the model's name in records (default: its run folder's name)
    checkpoint: str | None = None           # the checkpoint as records name it (default: its path)
    watermark: bool = True                  # False: --no-watermark (every manifest records it)
    unmarked_because: str = "turned off (--no-watermark)"   # why not, when watermark is False
    guard: str = "flag"                     # flag | strict | off: near-copies of training items
    guard_cache: Path | None = None         # where the guard's index of the training set is kept (None: data home)
    _key: Any = None
    _guard: Any = None

    def __post_init__(self) -> None:
        if self.guard not in GUARD_MODES:
            raise GanvasError(f"--guard must be one of {', '.join(GUARD_MODES)}, got '{self.guard}'")

    @property
    def key(self) -> Any:
        from ganvas.publish.keys import signing_key

        if self._key is None:
            self._key = signing_key()
        return self._key

    # ------------------------------------------------------------------ records
    def record(self, recipe: dict[str, Any], code: torch.Tensor | None = None) -> dict[str, Any]:
        """The provenance record of one output (see ganvas.explore.provenance)."""
        from ganvas.explore.provenance import provenance

        rec = provenance(self.model, recipe, code, self.name, self.checkpoint)
        rec["publish"] = {"watermark": self.watermark, "guard": self.guard}
        return rec

    # ------------------------------------------------------------------ the guard
    def check(self, outputs: torch.Tensor) -> list[Any]:
        """The guard's verdicts for a batch of outputs (None each when the guard is off)."""
        if self.guard == "off":
            return [None] * outputs.shape[0]
        from ganvas.publish.guard import guard_for

        if self._guard is None:
            self._guard = guard_for(self.model, cache_dir=self.guard_cache, mode=self.guard)
        return self._guard.check(outputs)

    def neighbour_picture(self, output: torch.Tensor, verdict: Any) -> Any:
        """The output beside its nearest training item (for a flagged output)."""
        return self._guard.neighbour_picture(output, verdict)

    def judge(self, record: dict[str, Any], verdict: Any) -> Written:
        """Put the guard's verdict into `record`; say whether the output is flagged or withheld."""
        done = Written()
        if verdict is not None:
            record["guard"] = verdict.to_record()
            if verdict.flagged:
                done.flagged, done.note = True, verdict.describe()
                done.withheld = self.guard == "strict"
        return done

    # ------------------------------------------------------------------ bytes
    def publish(self, data: bytes, fmt: str, record: dict[str, Any], frames_marked: bool = False) -> Published:
        """`data` (a file in `fmt`: a domain's format name or a suffix's) ready to leave ganvas."""
        return publish_bytes(data, FORMAT_OF_DOMAIN.get(fmt, fmt), record, watermark=self.watermark,
                             frames_marked=frames_marked, key=self.key, unmarked_because=self.unmarked_because)

    def payload(self, record: dict[str, Any]) -> int:
        from ganvas.publish.output import payload_for

        return payload_for(self.key, record)

    def mark_frames(self, frames: list[Any], record: dict[str, Any]) -> list[Any]:
        """The frames of an animation, each watermarked for `record` (its manifest goes beside the file)."""
        if not self.watermark:
            return frames
        from ganvas.publish.output import watermark_image

        payload = self.payload(record)
        return [watermark_image(f, payload) for f in frames]

    # ------------------------------------------------------------------ files
    def write(self, path: Path, published: Published) -> list[Path]:
        """`published` at `path` (and its sidecar manifest beside it), each written atomically."""
        from ganvas.files import write_bytes

        path = Path(path)
        write_bytes(path, published.data)
        out = [path]
        if published.sidecar is not None:
            write_bytes(sidecar_path(path), published.sidecar)
            out.append(sidecar_path(path))
        return out

    def write_file(self, path: Path, data: bytes, record: dict[str, Any], frames_marked: bool = False) -> list[Path]:
        """A file's bytes (its format from `path`'s suffix) published and written."""
        fmt = FORMAT_OF_SUFFIX.get(Path(path).suffix.lower())
        if fmt is None:
            raise GanvasError(f"cannot publish '{path}': ganvas writes {', '.join(sorted(FORMAT_OF_SUFFIX))} files")
        return self.write(path, self.publish(data, fmt, record, frames_marked))

    def save(self, outputs: torch.Tensor, out_dir: Path, stems: list[str], formats: tuple[str, ...] | None,
             recipes: list[dict[str, Any]], codes: torch.Tensor | None = None) -> list[Written]:
        """Each output as the domain's files in `out_dir` (`Domain.save`, exactly as it writes them), published."""
        verdicts = self.check(outputs)
        out_dir = Path(out_dir)
        results = []
        with tempfile.TemporaryDirectory(prefix="ganvas-publish-") as tmp:
            for i, (stem, recipe, verdict) in enumerate(zip(stems, recipes, verdicts, strict=True)):
                record = self.record(recipe, None if codes is None else codes[i:i + 1])
                done = self.judge(record, verdict)
                if not done.withheld:
                    for raw in self.model.domain.save(outputs[i:i + 1], Path(tmp), [stem], formats):
                        done.paths += self.write_file(out_dir / raw.name, raw.read_bytes(), record)
                        raw.unlink()
                results.append(done)
        return results

    def save_picture(self, path: Path, picture: Any, recipe: dict[str, Any], outputs: torch.Tensor | None = None
                     ) -> list[Path]:
        """A picture made of outputs (a grid, a strip, a sheet) published as one output; the guard's
        verdicts of `outputs` (when given) go into its record, and strict mode withholds it if any is flagged."""
        if Path(path).suffix.lower() != ".png":
            raise GanvasError(f"'{path}': pictures are written as PNG (the format that carries the watermark and the "
                              "signed manifest inside); give a name ending in .png")
        record = self.record(recipe)
        if outputs is not None and self.guard != "off":
            flagged = [(i, v) for i, v in enumerate(self.check(outputs)) if v is not None and v.flagged]
            record["guard"] = {"checked": len(outputs), "flagged": [{"index": i, **v.to_record()} for i, v in flagged]}
            if flagged and self.guard == "strict":
                raise GanvasError(f"the memorization guard withheld {path}: {len(flagged)} of its {len(outputs)} "
                                  f"outputs are near-copies of training items (first: {flagged[0][1].describe()}); "
                                  "use --guard flag to write it with the flags in its manifest")
        buf = io.BytesIO()
        picture.save(buf, format="PNG", compress_level=6)
        return self.write_file(Path(path), buf.getvalue(), record)


def report(results: list[Written], out_dir: Path, what: str = "files") -> str:
    """One line for the console: what was written, and what the guard flagged or withheld."""
    files = sum(len(r.paths) for r in results)
    return f"wrote {files} {what} to {out_dir} (signed; `ganvas verify` checks them)" + guard_note(results)


def guard_note(results: list[Written]) -> str:
    """What the memorization guard flagged or withheld among `results` ("" when nothing)."""
    flagged = [r for r in results if r.flagged]
    if not flagged:
        return ""
    held = sum(r.withheld for r in flagged)
    return (f"; the memorization guard flagged {len(flagged)} output(s) as near-copies of training items"
            + (f" ({held} withheld, --guard strict)" if held else " (see each manifest's \"guard\")")
            + f": {flagged[0].note}")
