"""In-memory datasets and how a dataset name or folder becomes one at a given resolution."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganvas.data import DATASETS, data_home
from ganvas.data.licences import fields_of
from ganvas.errors import GanvasError, unknown_name
from ganvas.files import load_npy, save_npy, write_text

LAYOUTS = ("single", "paired", "unpaired")   # what a model trains on: see `ArrayDataset.for_layout`


@dataclass
class ItemIndex:
    """Where each row of one sample array came from: what `--exclude` entries are matched against.

    Kept beside the arrays (not in the card) because it is only read when items are excluded, and a
    resized copy's rows no longer hash like the stored ones: `stored` points at the rows as built.
    """

    keys: list[str]                                     # one per row: the builder's key, or the file in the folder
    sources: Callable[[], list[str | None]] | None = None   # lazily, one per row: the source file's path, if any
    stored: Path | None = None                          # the .npy of the rows as stored (same order) when resized
    stored_rows: list[int] | None = None                # row i is row stored_rows[i] of `stored` (after exclusions)

    def __post_init__(self) -> None:
        self.keys = [str(k) for k in self.keys]


def read_keys(path: Path, rows: int) -> list[str] | None:
    """The keys of a built set's rows (``keys.txt``: one per line), or None when absent or not one per row."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    keys = text.removesuffix("\n").split("\n") if text else []     # written one per line, each ending in \n
    return keys if len(keys) == rows else None


def builtin_index(name: str, root: Path, keys_file: str, rows: int, stored: Path | None) -> dict[str, ItemIndex]:
    """{"x": the index} of a built-in set's rows (source files looked up under its required paths, lazily)."""
    keys = read_keys(root / keys_file, rows)
    if keys is None:
        return {}
    builder = DATASETS.get(split_spec(name)[0]) if split_spec(name)[0] in DATASETS else None
    paths = getattr(builder(), "required_paths", ()) if builder is not None else ()   # a property in some
    bases = [Path(p) for p in paths if Path(p).is_dir()]

    def sources() -> list[str | None]:
        found = []
        for key in keys:
            part = key.split("\t")[0]
            hit = next((b / part for b in bases if part and (b / part).is_file()), None)
            found.append(str(hit) if hit else None)
        return found

    return {"x": ItemIndex(keys, sources if bases else None, stored)}


@dataclass
class ArrayDataset:
    """Samples as compact arrays, ready to index: ``x`` (the samples) and optionally ``y`` (labels).

    Translation datasets hold two domains instead: ``a`` and ``b`` (and held-out ``a_test``,
    ``b_test``), either paired (row i of ``a`` and of ``b`` show the same thing) or unpaired (two
    collections of different lengths). ``streams`` says which arrays one sampler indexes together,
    so the training loop needs no notion of pairs: one stream ``x`` over ``x`` and ``y`` for the
    usual single set, one stream over ``a`` and ``b`` for pairs, one stream each for unpaired sets.
    Arrays in no stream (held-out ones) are never trained on. Every array except ``y`` (labels)
    holds samples of `domain`.
    """

    name: str                               # built-in name or the folder path it came from
    domain: str                             # the domain that reads ``x`` (e.g. "image")
    arrays: dict[str, np.ndarray]           # "x": N×... samples, "y": N int labels when labelled
    card: dict = field(default_factory=dict)   # the dataset card (source, licence, labels, counts)
    fingerprint: str = ""                   # sha256 of the arrays: a resumed run checks it
    streams: dict[str, list[str]] = field(default_factory=dict)  # sampler -> arrays it indexes; {}: one over all
    index: dict[str, ItemIndex] = field(default_factory=dict, repr=False)  # sample array -> its rows' keys, sources
    skipped_list: Path | None = field(default=None, repr=False)  # a folder's files left out, with why (its cache's
                                                                  # skipped.txt; a run copies it in plain words)

    def __post_init__(self) -> None:
        if not self.streams:
            self.streams = {"x": list(self.arrays)}

    @property
    def layout(self) -> str:
        """single | paired | unpaired (see `LAYOUTS`)."""
        return self.card.get("layout", "single")

    @property
    def sample_key(self) -> str:
        """The array whose rows show what one training sample looks like (``x``, or ``a``)."""
        return next(iter(self.streams.values()))[0]

    def __len__(self) -> int:
        return len(self.arrays[self.sample_key])

    def for_layout(self, layout: str, model: str) -> ArrayDataset:
        """This data as `model` needs it: a paired set serves an unpaired model by sampling each side alone."""
        have = self.layout
        if layout == have:
            return self
        if layout == "unpaired" and have == "paired":
            return dataclasses.replace(self, streams={"a": ["a"], "b": ["b"]})
        what = {"single": "single images", "paired": "pairs of images (A → B)",
                "unpaired": "two unpaired collections (A ↔ B)"}
        hint = {"single": "a built-in image set such as emoji, or a folder of images",
                "paired": "a paired set such as cjk-fonts, or a folder with A/ and B/ sub-folders whose "
                          "files match by name",
                "unpaired": "a translation set such as icons-papirus-numix, or a folder with A/ and B/ "
                            "sub-folders"}
        raise GanvasError(f"model '{model}' trains on {what[layout]}, but the data '{self.name}' holds "
                          f"{what[have]}; use {hint[layout]}")

    @property
    def domain_args(self) -> dict:
        """How the domain lays out these samples (music: pitch range, tracks...); empty for images."""
        return dict(self.card.get("domain_args") or {})

    @property
    def label_names(self) -> list[str]:
        labels = self.card.get("labels") or {}
        return list(labels.get("names", []))

    def licence_warnings(self) -> list[str]:
        """Licence conflicts of the data trained on (a translation pair's two domains), unknown licences."""
        from ganvas.data.licences import compatibility, run_licences

        return compatibility(run_licences({**self.card, "name": self.name}))

    def summary(self) -> dict:
        """What a checkpoint records about its training data."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "count": len(self),
            "shape": list(self.arrays[self.sample_key].shape[1:]),
            **fields_of({**self.card, "name": self.card.get("name", self.name)}),
            "excluded": list(self.card.get("excluded", [])),
            "licence_warnings": self.licence_warnings(),
            "source": self.card.get("source", {}),
            **({"translation": {"layout": self.layout, **self.card.get("translation", {}),
                                "counts": {k: len(v) for k, v in self.arrays.items()}}}
               if self.layout != "single" else {}),
        }


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    """A content hash of the arrays, independent of where they are stored."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        if a.size:                      # an empty split (no held-out rows) has no bytes to hash
            h.update(memoryview(a).cast("B"))
    return "sha256:" + h.hexdigest()


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize N×H×W×C uint8 images (C = 3, or 1 for grey) to `size` with an antialiasing (Lanczos) filter."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    grey = images.shape[3] == 1                       # glyphs are stored as one grey channel
    for i, img in enumerate(images):
        small = Image.fromarray(img[..., 0] if grey else img).resize((size, size), Image.Resampling.LANCZOS)
        out[i] = np.asarray(small).reshape(size, size, -1)
    return out


def load_stored(root: Path, name: str, resolution: int) -> ArrayDataset:
    """Open a built dataset folder at `resolution`, caching the resized array beside the original."""
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    if card.get("domain", "image") != "image":       # stored as built: no resolutions to derive
        arrays = {"x": load_npy(root / card["array"])}
        if (root / "labels.npy").exists():
            arrays["y"] = load_npy(root / "labels.npy")
        return ArrayDataset(name=name, domain=card["domain"], arrays=arrays, card=card, fingerprint=card["fingerprint"],
                            index=builtin_index(name, root, "keys.txt", len(arrays["x"]), None))
    native = int(card["native_size"])
    if resolution > native:
        raise GanvasError(f"dataset '{name}' is stored at {native} px; ask for --resolution {native} or less")
    labels = load_npy(root / "labels.npy") if (root / "labels.npy").exists() else None
    if resolution == native:
        images = load_npy(root / "images.npy")
        fp = card["fingerprint"]
    else:
        cached, fp_file = root / "cache" / f"images-{resolution}.npy", root / "cache" / f"images-{resolution}.sha"
        if cached.exists() and fp_file.exists() and fp_file.read_text().split()[1] == card["fingerprint"]:
            images = load_npy(cached)
            fp = fp_file.read_text().split()[0]
        else:
            images = resize_images(load_npy(root / "images.npy"), resolution)
            save_npy(cached, images)
            fp = fingerprint_arrays({"x": images, **({"y": labels} if labels is not None else {})})
            write_text(fp_file, f"{fp} {card['fingerprint']}\n")
    arrays = {"x": images}
    if labels is not None:
        arrays["y"] = labels
    stored = None if resolution == native else root / "images.npy"
    return ArrayDataset(name=name, domain=card.get("domain", "image"), arrays=arrays, card=card, fingerprint=fp,
                        index=builtin_index(name, root, "keys.txt", len(images), stored))


def split_spec(spec: str) -> tuple[str, str]:
    """``NAME[:VARIANT]``: a built-in dataset and an optional variant (e.g. ``cjk-fonts:sans:kai``)."""
    name, _, variant = spec.partition(":")
    return name, variant


def is_builtin(spec: str) -> bool:
    return split_spec(spec)[0] in DATASETS


def builtin_root(name: str, home: Path | None = None) -> Path:
    return (home or data_home()) / "datasets" / name


def is_built(name: str, home: Path | None = None) -> bool:
    """Whether the built-in dataset `name` is built in the format its builder writes now.

    A builder's ``format`` (1 when it has none) is written into the card when it changes what it
    stores (the chorales' labels: music format 2); a dataset built in another format is rebuilt on use.
    """
    path = builtin_root(name, home) / "card.json"
    if not path.exists():
        return False
    card = json.loads(path.read_text(encoding="utf-8"))
    return card.get("format", 1) == getattr(DATASETS.get(name), "format", 1)


def _is_text(path: Path) -> bool:
    from ganvas.data.text_folder import is_text_data

    return is_text_data(path)


EXCLUDE_FILE = "exclude.txt"     # in a built set's folder: what `ganvas data build NAME --exclude FILE` left out


def load_dataset(spec: str, resolution: int, fit: str = "crop", home: Path | None = None,
                 progress: bool | None = None, layout: str = "single", domain: str | None = None,
                 data_args: dict | None = None, exclude: str | Path | None = None) -> ArrayDataset:
    """A dataset by name or path (see `_load`), without the items its build and `exclude` leave out.

    `exclude` is an exclude file (`ganvas.data.exclude`); a built-in set built with ``--exclude`` keeps
    its own list beside its arrays, applied on every load (quietly: the build reported it).
    """
    dataset = _load(spec, resolution, fit, home, progress, layout, domain, data_args)
    if not exclude and not is_builtin(spec):
        return dataset
    from ganvas.data.exclude import apply, read_exclude_file

    if is_builtin(spec):
        kept = builtin_root(split_spec(spec)[0], home) / EXCLUDE_FILE
        if kept.is_file():
            card = {k: v for k, v in dataset.card.items() if k != "excluded"}   # recorded again as applied
            dataset = apply(dataclasses.replace(dataset, card=card), read_exclude_file(kept), report=False)
    if exclude:
        dataset = apply(dataset, read_exclude_file(exclude))
    return dataset


def _load(spec: str, resolution: int, fit: str = "crop", home: Path | None = None,
          progress: bool | None = None, layout: str = "single", domain: str | None = None,
          data_args: dict | None = None) -> ArrayDataset:
    """A built-in dataset by name (built on first use), a folder of the user's images or MIDI files, or texts.

    `layout` is what the model trains on (see `LAYOUTS`): a folder is read as single images, or as
    two domains in its A/ and B/ sub-folders for a translation model. `domain` is what the model
    reads: a folder is read as music for a music model; without one, a folder holding MIDI files and
    no images is music; a .txt file, or a folder of .txt files only, is text (as is any path for a text
    model). `data_args` are options of the MIDI folder or text reader.
    """
    if is_builtin(spec):
        if data_args:
            raise GanvasError(f"data_args ({', '.join(sorted(data_args))}) apply to folders of MIDI files and to "
                              f"texts; the built-in dataset '{spec}' is built one way")
        name, variant = split_spec(spec)
        root = builtin_root(name, home)
        if not is_built(name, home):
            DATASETS.get(name)().build(root, progress=progress)
        if variant or "layout" in json.loads((root / "card.json").read_text(encoding="utf-8")):
            from ganvas.data.translation import load_translation

            return load_translation(root, spec, resolution)
        return load_stored(root, spec, resolution)
    path = Path(spec).expanduser()
    if domain == "text" or (domain is None and ((spec.lower().endswith(".txt") and not path.is_dir())
                                                 or _is_text(path))):
        from ganvas.data.text_folder import load_text_data

        return load_text_data(path, home=home, progress=progress, args=data_args)
    if path.exists() or "/" in spec or spec.startswith("."):
        from ganvas.data.midi_folder import is_music_folder, load_midi_folder

        if domain == "music" or (domain is None and is_music_folder(path)):
            return load_midi_folder(path, home=home, progress=progress, args=data_args)
        if data_args:
            raise GanvasError(f"data_args ({', '.join(sorted(data_args))}) apply to folders of MIDI files and to "
                              "texts only")
        if layout != "single":
            from ganvas.data.translation_folder import load_translation_folder

            return load_translation_folder(path, resolution, layout, fit=fit, home=home, progress=progress)
        from ganvas.data.folder import load_folder

        return load_folder(path, resolution, fit=fit, home=home, progress=progress)
    raise unknown_name("dataset (and no such folder)", spec, DATASETS.names())
