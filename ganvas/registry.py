"""Name → implementation tables, imported lazily: the one catalogue of ganvas's pluggable pieces.

Every pluggable piece of ganvas (models, datasets, domains, losses, augmentations, feature
extractors, metrics, report sections) is found by name through a `Registry` defined at the end of
this file. Entries are ``"module:attribute"`` strings, so adding a piece is one new file plus one
line in a table, and listing names never imports torch-heavy modules. The tables live in this leaf
module, not beside their implementations, so that every layer can read the choices (config
validation, CLI help, ``ganvas config``) without importing the layers above it; a plugin package or a
test extends any of them with `Registry.register`, and the new name is then valid everywhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from ganvas.errors import unknown_name


class Registry:
    """A lazily imported table of named implementations of one kind of thing."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind                                # what the entries are, for error messages
        self._entries: dict[str, Any] = dict(entries)   # name -> "module:attr" or the object itself

    def register(self, name: str, target: Any) -> None:
        """Add or replace an entry; plugins and tests use this to extend ganvas without editing it."""
        self._entries[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def in_order(self) -> list[str]:
        """The names in the order they were registered (the catalogue's order: the usual choice first)."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        """The implementation registered as `name`; a one-line error naming the known ones if absent."""
        if name not in self._entries:
            raise unknown_name(self.kind, name, self.names())
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        return target


class Choices:
    """The allowed values of a config field or option, read from a registry whenever asked.

    `first` are fixed values listed before the registered names (e.g. "auto").
    """

    def __init__(self, registry: Registry, first: tuple[str, ...] = ()) -> None:
        self.registry = registry
        self.first = first

    def __iter__(self) -> Iterator[str]:
        return iter([*self.first, *self.registry.in_order()])

    def __contains__(self, name: object) -> bool:
        return name in self.first or name in self.registry

    def __repr__(self) -> str:
        return " | ".join(self)


# --- the catalogue ---------------------------------------------------------------------------------
# One line per piece. Adding one: write its file, add its line here (or call e.g. LOSSES.register from a
# plugin); config validation, `--help` and `ganvas config` read the names from these tables.

MODELS = Registry("model", {                                     # generator/discriminator pairs (ganvas/nets)
    "seed-dcgan": "ganvas.nets.seed_dcgan:SeedDCGAN",
    "dcgan": "ganvas.nets.dcgan:DCGAN",
    "stylegan": "ganvas.nets.stylegan:StyleGAN",
    "musegan": "ganvas.nets.musegan:MuseGAN",
    "pix2pix": "ganvas.nets.pix2pix:Pix2Pix",
    "cyclegan": "ganvas.nets.cyclegan:CycleGAN",
    "fastgan": "ganvas.nets.fastgan:FastGAN",
    "ctrl": "ganvas.nets.ctrl:Ctrl",
})
LOSSES = Registry("loss", {                                      # adversarial losses (ganvas/objectives/losses.py)
    "minimax": "ganvas.objectives.losses:MINIMAX",
    "ns": "ganvas.objectives.losses:NON_SATURATING",
    "hinge": "ganvas.objectives.losses:HINGE",
    "wgan-gp": "ganvas.objectives.losses:WGAN_GP",
    "lsgan": "ganvas.objectives.losses:LEAST_SQUARES",
    "rpgan": "ganvas.objectives.losses:RELATIVISTIC_PAIRING",
})
AUGMENTS = Registry("augmentation", {                            # what D sees of images (ganvas/objectives/augment.py)
    "none": "ganvas.objectives.augment:Augment",
    "diffaugment": "ganvas.objectives.augment:DiffAugment",
    "ada": "ganvas.objectives.augment:AdaptiveAugment",
})
INPUT_AUGMENTS = Registry("input augmentation", {                # what a translation G's input goes through
    "none": "ganvas.objectives.strokes:InputAugment",            # in training (pix2pix's input_augment;
    "strokes": "ganvas.objectives.strokes:StrokeAugment",        # ganvas/objectives/strokes.py)
})
DOMAINS = Registry("domain", {                                   # kinds of data (ganvas/domains)
    "image": "ganvas.domains.image:ImageDomain",
    "music": "ganvas.domains.music:MusicDomain",
    "text": "ganvas.domains.text:TextDomain",
})
DATASETS = Registry("dataset", {                                 # built-in datasets (ganvas/data)
    "emoji": "ganvas.data.emoji:EmojiBuilder",
    "openclipart": "ganvas.data.openclipart:OpenClipartBuilder",
    "papirus": "ganvas.data.papirus:PapirusBuilder",
    "crawl-tiles": "ganvas.data.crawl_tiles:CrawlTilesBuilder",
    "crawl-terrain": "ganvas.data.crawl_tiles:CrawlTerrainBuilder",
    "crawl-monsters": "ganvas.data.crawl_tiles:CrawlMonstersBuilder",
    "wesnoth-portraits": "ganvas.data.wesnoth:WesnothPortraitsBuilder",
    "wesnoth-units": "ganvas.data.wesnoth:WesnothUnitsBuilder",
    "chorales": "ganvas.data.chorales:ChoralesBuilder",
    "chorales-original": "ganvas.data.chorales:OriginalKeyChoralesBuilder",
    "cjk-fonts": "ganvas.data.cjk_fonts:CJKFontsBuilder",
    "icons-papirus-numix": "ganvas.data.icon_themes:PapirusNumixBuilder",
    "icons-flat-lemon": "ganvas.data.icon_themes:FlatLemonBuilder",
    "emoji-sketch": "ganvas.data.sketch_sets:EmojiSketchBuilder",
    "kai-sketch": "ganvas.data.sketch_sets:KaiSketchBuilder",
    "tang-poems": "ganvas.data.tang_poems:TangPoemsBuilder",
    "fortunes-en": "ganvas.data.fortunes_en:FortunesEnBuilder",
    "shapes": "ganvas.data.shapes:ShapesBuilder",
})
EXTRACTORS = Registry("feature extractor", {                     # feature networks for metrics (ganvas/eval)
    "inception": "ganvas.eval.inception:build_extractor",
    "domain": "ganvas.eval.domain_net:build_extractor",
    "random": "ganvas.eval.random_net:build_extractor",
})
METRICS = Registry("metric", {                                   # metrics on features (ganvas/eval/suite.py)
    "fd": "ganvas.eval.suite:metric_fd",
    "kid": "ganvas.eval.suite:metric_kid",
    "prdc": "ganvas.eval.suite:metric_prdc",
    "authenticity": "ganvas.eval.suite:metric_authenticity",
    "memorization": "ganvas.eval.suite:metric_memorization",
    "diversity": "ganvas.eval.suite:metric_diversity",
    "data_copying": "ganvas.eval.suite:metric_data_copying",
})
ATTRIBUTIONS = Registry("attribution method", {                  # why-fake maps of D's verdict (ganvas/explore/why.py)
    "integrated-gradients": "ganvas.explore.why:integrated_gradients",
    "gradient-x-input": "ganvas.explore.why:gradient_x_input",
    "patch": "ganvas.explore.why:patch_logits",
})
REPORT_SECTIONS = Registry("report section", {                   # a domain's part of the HTML report (ganvas/eval)
    "image": "ganvas.eval.report_image:sections",
    "music": "ganvas.eval.music_report:sections",
    "image.why": "ganvas.explore.why_report:sections",            # D's maps of the worst/best-judged samples
    "image.directions": "ganvas.explore.directions_report:sections",   # named GANSpace directions, strips
    "image.units": "ganvas.explore.dissect:sections",           # GAN dissection: top units per concept, ablations
    "image.creativity": "ganvas.explore.creativity_report:sections",   # novelty, value, ambiguity; what was kept
    "music.why": "ganvas.explore.why_report:sections",
})
