"""Icon themes as unpaired translation sets: the same kinds of things drawn in two house styles.

- `icons-papirus-numix`: Papirus (flat, rounded rectangles and free shapes) and Numix-Circle (every
  application icon a flat circle with a long shadow), both rendered from SVG with cairosvg.
- `icons-flat-lemon`: the Open Clip Art Library's "flat" and "lemon" icon themes (PNG).

The two sides are not pairs (the themes draw different applications, and the same application
differently), so these are for CycleGAN. Held-out icons are chosen by name, so in
icons-papirus-numix an application held out in one theme is held out in the other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from ganvas.data.builder import Item
from ganvas.data.imageprep import open_image
from ganvas.data.papirus import distinct_svgs, render_svg
from ganvas.data.translation import TranslationBuilder

PAPIRUS = Path("/usr/share/icons/Papirus/64x64/apps")
NUMIX = Path("/usr/share/icons/Numix-Circle/48/apps")
OPENCLIPART_ICONS = Path("/usr/share/openclipart/png/computer/icons")


def distinct_pngs(folder: Path) -> Iterator[Path]:
    """Each distinct PNG picture below `folder` once (themes repeat files in sub-folders)."""
    seen = set()
    for path in sorted(folder.rglob("*.png")):
        if not path.is_file():
            continue
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest in seen:
            continue
        seen.add(digest)
        yield path


class PapirusNumixBuilder(TranslationBuilder):
    name = "icons-papirus-numix"
    title = "Papirus and Numix-Circle application icons"
    description = ("The distinct application icons of two icon themes, rendered from SVG with cairosvg and "
                   "composited on white: Papirus (64x64/apps) and Numix-Circle (48/apps, scalable). "
                   "Unpaired: two collections in two house styles.")
    packages = ("papirus-icon-theme", "numix-icon-theme-circle")
    required_paths = (str(PAPIRUS), str(NUMIX))
    licence = "GPL-3.0 (Papirus icon theme); GPL-3.0+ (Numix Circle icon theme)"
    spdx = ("GPL-3.0-only", "GPL-3.0-or-later")
    attribution = ("Icons from the Papirus icon theme (copyright 2016-2017 Alexey Varfolomeev, Sergei Eremenko and "
                   "the Papirus Development Team; GNU GPL version 3; /usr/share/doc/papirus-icon-theme/copyright) "
                   "and the Numix-Circle icon theme (copyright 2013-2018 The Numix Project; GNU GPL version 3 or "
                   "later; /usr/share/doc/numix-icon-theme-circle/copyright). Full text: "
                   "/usr/share/common-licenses/GPL-3, https://www.gnu.org/licenses/gpl-3.0.html. Works derived "
                   "from them must be shared under the GPL-3.0 with this notice.")
    domain_spdx = {"papirus": ("GPL-3.0-only",), "numix": ("GPL-3.0-or-later",)}
    layout = "unpaired"
    domain_names = {"papirus": "Papirus", "numix": "Numix-Circle"}
    default_pair = ("papirus", "numix")
    holdout_every = 20

    def domain_items(self, domain: str) -> Iterator[Item]:
        for path in distinct_svgs(PAPIRUS if domain == "papirus" else NUMIX):
            yield path.stem, "", (lambda p=path: render_svg(p.resolve(), self.native_size))


class FlatLemonBuilder(TranslationBuilder):
    name = "icons-flat-lemon"
    title = "Open Clip Art flat and lemon icon themes"
    description = ("The distinct icons of the Open Clip Art Library's flat-theme and lemon-theme "
                   "(computer/icons), padded to square on white. Unpaired.")
    packages = ("openclipart-png",)
    required_paths = (str(OPENCLIPART_ICONS / "flat-theme"), str(OPENCLIPART_ICONS / "lemon-theme"))
    licence = "Public domain (Creative Commons Public Domain Dedication)"
    spdx = ("CC-PDDC",)
    attribution = ("Icons from the Open Clip Art Library's flat-theme and lemon-theme (openclipart.org), dedicated "
                   "to the public domain by their artists (Creative Commons Public Domain Dedication; "
                   "/usr/share/doc/openclipart-png/copyright). No notice is required; crediting the Open Clip "
                   "Art Library is courteous.")
    layout = "unpaired"
    domain_names = {"flat": "flat-theme", "lemon": "lemon-theme"}
    default_pair = ("flat", "lemon")
    holdout_every = 20

    def domain_items(self, domain: str) -> Iterator[Item]:
        root = OPENCLIPART_ICONS / self.domain_names[domain]
        for path in distinct_pngs(root):
            yield path.relative_to(root).as_posix(), "", (lambda p=path: open_image(p))
