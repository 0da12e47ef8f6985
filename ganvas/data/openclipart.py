"""`openclipart`: public-domain clip art, labelled by its top folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ganvas.data.builder import DatasetBuilder, Item
from ganvas.data.imageprep import open_image

ROOT = Path("/usr/share/openclipart/png")
EXCLUDE = ("shapes/stars", "special")   # near-identical star outlines; non-art special files


class OpenClipartBuilder(DatasetBuilder):
    name = "openclipart"
    title = "Open Clip Art Library"
    description = ("Public-domain clip art from the Open Clip Art Library (Debian openclipart-png), "
                   "labelled by top folder (animals, food, people, ...), without shapes/stars and special/, "
                   "padded to square on white.")
    packages = ("openclipart-png",)
    required_paths = (str(ROOT),)
    licence = "Public domain (Creative Commons Public Domain Dedication)"
    spdx = ("CC-PDDC",)
    attribution = ("Clip art from the Open Clip Art Library (openclipart.org), dedicated to the public domain by "
                   "its artists (Creative Commons Public Domain Dedication; each image's author is named in the "
                   "library's .txt file beside it; /usr/share/doc/openclipart-png/copyright). No notice is "
                   "required; crediting the Open Clip Art Library is courteous.")

    def items(self) -> Iterator[Item]:
        for path in sorted(ROOT.rglob("*.png")):
            rel = path.relative_to(ROOT).as_posix()
            if any(rel == e or rel.startswith(e + "/") for e in EXCLUDE):
                continue
            yield rel, rel.split("/", 1)[0], (lambda p=path: open_image(p))
