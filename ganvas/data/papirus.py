"""`papirus`: the Papirus icon theme's 64 px application icons, rendered from SVG."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from ganvas.data.builder import DatasetBuilder, Item
from ganvas.data.imageprep import SkipFile

ROOT = Path("/usr/share/icons/Papirus/64x64/apps")


def distinct_svgs(folder: Path) -> Iterator[Path]:
    """Each SVG file once, however many names (symbolic links) point at it, under its first name."""
    seen = set()
    for path in sorted(folder.glob("*.svg")):
        real = path.resolve()
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        yield path


def render_svg(path: Path, size: int) -> Image.Image:
    """Rasterise an SVG file at `size`×`size` with cairosvg (RGBA)."""
    import cairosvg

    try:
        png = cairosvg.svg2png(url=str(path), output_width=size, output_height=size)
    except Exception as exc:  # cairosvg raises many types for malformed SVG
        raise SkipFile("unreadable", f"{path.name}: {exc}"[:80]) from None
    return Image.open(io.BytesIO(png)).convert("RGBA")


class PapirusBuilder(DatasetBuilder):
    name = "papirus"
    title = "Papirus application icons"
    description = ("The distinct application icons of the Papirus icon theme (64x64/apps; symbolic links "
                   "to the same file are counted once), rendered from SVG and composited on white.")
    packages = ("papirus-icon-theme",)
    required_paths = (str(ROOT),)
    licence = "GPL-3.0 (Papirus icon theme)"
    spdx = ("GPL-3.0-only",)
    attribution = ("Icons from the Papirus icon theme, copyright 2016-2017 Alexey Varfolomeev, Sergei Eremenko "
                   "and the Papirus Development Team, licensed under the GNU General Public License version 3 "
                   "(full text: /usr/share/common-licenses/GPL-3, https://www.gnu.org/licenses/gpl-3.0.html; "
                   "/usr/share/doc/papirus-icon-theme/copyright). Works derived from them must be shared under "
                   "the GPL-3.0 with this notice.")
    labelled = False

    def items(self) -> Iterator[Item]:
        for path in distinct_svgs(ROOT):
            yield path.stem, "", (lambda p=path.resolve(): render_svg(p, self.native_size))
