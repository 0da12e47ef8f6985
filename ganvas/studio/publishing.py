"""How the studio's files leave it: each through a `ganvas.publish.Publisher`, as on the command line.

Downloads, exported files and the REST API's files are watermarked and carry a signed manifest (C2PA
content credentials for PNG and WAV), and the memorization guard checks each output against the model's
training items. Pictures shown on the page while a person explores are not files: they stay plain, fast
PNGs. The signing key and each model's guard index are loaded once and shared by every request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ganvas.publish.publisher import GUARD_MODES, Publisher


@dataclass
class Publishing:
    """The studio's publishing settings (`ganvas studio --no-watermark --guard MODE`) and shared state."""

    watermark: bool = True                  # watermark pictures in downloads
    guard: str = "flag"                     # flag | strict | off (see ganvas.publish.publisher)
    _guards: dict[str, Any] = field(default_factory=dict)
    _key: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.guard not in GUARD_MODES:
            from ganvas.errors import GanvasError

            raise GanvasError(f"guard must be one of {', '.join(GUARD_MODES)}, got '{self.guard}'")

    def publisher(self, model: Any, name: str, checkpoint: str) -> Publisher:
        """A Publisher for one request on `model` (its guard and the key shared with other requests)."""
        pub = Publisher(model, name, checkpoint, self.watermark, self.guard)
        with self._lock:
            if self._key is None:
                self._key = pub.key
            pub._key = self._key
            pub._guard = self._guards.get(str(model.path))
        return pub

    def distance_from_data(self, model: Any, pictures: Any) -> float | None:
        """The first picture's distance from `model`'s training data (ganvas.publish.guard), by the model's shared
        guard index; None when it cannot be measured."""
        from ganvas.publish.guard import guard_for

        with self._lock:
            guard = self._guards.get(str(model.path))
        if guard is None:
            guard = guard_for(model)
            with self._lock:
                self._guards[str(model.path)] = guard
        d = guard.distance_from_data(pictures)
        return None if d is None else float(d[0])

    def keep(self, pub: Publisher) -> None:
        """Remember the guard `pub` built, for the next request on the same model."""
        if pub._guard is not None:
            with self._lock:
                self._guards[str(pub.model.path)] = pub._guard


def zip_files(pub: Publisher, files: dict[str, bytes], record: dict[str, Any]) -> dict[str, bytes]:
    """A download's files (name → bytes), each published for `record`; sidecar manifests join them."""
    from ganvas.publish.publisher import FORMAT_OF_SUFFIX

    out: dict[str, bytes] = {}
    for name, data in files.items():
        fmt = FORMAT_OF_SUFFIX[name[name.rfind("."):].lower()]
        published = pub.publish(data, fmt, record)
        out[name] = published.data
        if published.sidecar is not None:
            out[name + ".ganvas.json"] = published.sidecar        # as ganvas.publish.output.sidecar_path names it
    return out


def withheld(pub: Publisher, model: str, notes: list[str]) -> None:
    """Refuse a download the guard withheld (strict mode), naming the near-copy."""
    if notes:
        from ganvas.errors import GanvasError

        raise GanvasError(f"the memorization guard withheld this download from '{model}' (the studio runs with "
                          f"--guard strict): {notes[0]}")
