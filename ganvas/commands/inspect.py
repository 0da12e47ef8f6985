"""`ganvas models`, `ganvas presets`, `ganvas config`: what is available."""

from __future__ import annotations

import sys

import click


@click.command()
def models() -> None:
    """List the registered models and their options."""
    import dataclasses

    from ganvas.config import field_help
    from ganvas.registry import MODELS

    for name in MODELS.names():
        cls = MODELS.get(name)
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14} {doc}")
        for f in dataclasses.fields(cls.Options):
            print(f"    {f.name} = {f.default!r:<8} # {field_help(f)}")
        if cls.config_defaults:
            shown = ", ".join(f"{k} = {v!r}" for k, v in cls.config_defaults.items())
            print(f"    (its config defaults: {shown})")


@click.command()
def presets() -> None:
    """List the built-in presets."""
    from importlib import resources

    from ganvas.config import preset_names

    for name in preset_names():
        text = (resources.files("ganvas") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
        first = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), "")
        print(f"{name:<24} {first}")


@click.command()
def config() -> None:
    """List every config field with its default and allowed values."""
    from ganvas.config import TrainConfig

    print(TrainConfig.help_text())
