"""In-memory datasets and how a dataset name or folder becomes one at a given resolution."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ganvas.data import DATASETS, data_home
from ganvas.errors import GanvasError, unknown_name
from ganvas.files import load_npy, save_npy, write_text


@dataclass
class ArrayDataset:
    """Samples as compact arrays, ready to index: ``x`` (the samples) and optionally ``y`` (labels)."""

    name: str                               # built-in name or the folder path it came from
    domain: str                             # the domain that reads ``x`` (e.g. "image")
    arrays: dict[str, np.ndarray]           # "x": N×... samples, "y": N int labels when labelled
    card: dict = field(default_factory=dict)   # the dataset card (source, licence, labels, counts)
    fingerprint: str = ""                   # sha256 of the arrays: a resumed run checks it

    def __len__(self) -> int:
        return len(self.arrays["x"])

    @property
    def domain_args(self) -> dict:
        """How the domain lays out these samples (music: pitch range, tracks...); empty for images."""
        return dict(self.card.get("domain_args") or {})

    @property
    def label_names(self) -> list[str]:
        labels = self.card.get("labels") or {}
        return list(labels.get("names", []))

    def summary(self) -> dict:
        """What a checkpoint records about its training data."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "count": len(self),
            "shape": list(self.arrays["x"].shape[1:]),
            "licence": self.card.get("licence", "unknown (user data)"),
            "source": self.card.get("source", {}),
        }


def fingerprint_arrays(arrays: dict[str, np.ndarray]) -> str:
    """A content hash of the arrays, independent of where they are stored."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}:{a.dtype.str}:{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return "sha256:" + h.hexdigest()


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize N×H×W×3 uint8 images to `size` with an antialiasing (Lanczos) filter."""
    if images.shape[1] == size and images.shape[2] == size:
        return images
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.LANCZOS))
    return out


def load_stored(root: Path, name: str, resolution: int) -> ArrayDataset:
    """Open a built dataset folder at `resolution`, caching the resized array beside the original."""
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    if card.get("domain", "image") != "image":       # stored as built: no resolutions to derive
        return ArrayDataset(name=name, domain=card["domain"], arrays={"x": load_npy(root / card["array"])},
                            card=card, fingerprint=card["fingerprint"])
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
    return ArrayDataset(name=name, domain=card.get("domain", "image"), arrays=arrays, card=card, fingerprint=fp)


def is_builtin(spec: str) -> bool:
    return spec in DATASETS


def builtin_root(name: str, home: Path | None = None) -> Path:
    return (home or data_home()) / "datasets" / name


def load_dataset(spec: str, resolution: int, fit: str = "crop", home: Path | None = None,
                 progress: bool | None = None, domain: str | None = None,
                 data_args: dict | None = None) -> ArrayDataset:
    """A built-in dataset by name (built on first use) or a folder of the user's images or MIDI files.

    `domain` is what the model reads: a folder is read as music for a music model; without one, a
    folder holding MIDI files and no images is music. `data_args` are options of the folder reader.
    """
    if is_builtin(spec):
        if data_args:
            raise GanvasError(f"data_args ({', '.join(sorted(data_args))}) apply to folders of MIDI files; "
                              f"the built-in dataset '{spec}' is built one way")
        root = builtin_root(spec, home)
        if not (root / "card.json").exists():
            DATASETS.get(spec)().build(root, progress=progress)
        return load_stored(root, spec, resolution)
    path = Path(spec).expanduser()
    if path.exists() or "/" in spec or spec.startswith("."):
        from ganvas.data.midi_folder import is_music_folder, load_midi_folder

        if domain == "music" or (domain is None and is_music_folder(path)):
            return load_midi_folder(path, home=home, progress=progress, args=data_args)
        if data_args:
            raise GanvasError(f"data_args ({', '.join(sorted(data_args))}) apply to folders of MIDI files only")
        from ganvas.data.folder import load_folder

        return load_folder(path, resolution, fit=fit, home=home, progress=progress)
    raise unknown_name("dataset (and no such folder)", spec, DATASETS.names())
