"""ganvas: generative adversarial networks for creative work.

    import ganvas
    G = ganvas.load("runs/emoji-dcgan-32")     # a run folder or a checkpoint folder
    images = G.sample(16, seed=7, pil=True)   # PIL images, the same ones every time for seed 7
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganvas.version import __version__

if TYPE_CHECKING:
    from ganvas.api import Generator


def load(path: Any, device: str = "cpu") -> Generator:
    """Load a trained generator; see `ganvas.api.load`."""
    from ganvas.api import load as _load

    return _load(path, device)


__all__ = ["__version__", "load"]
