"""The `ganvas` subcommands, one module each; `ganvas/cli.py` lists them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

PathArg = click.Path(path_type=Path)


class FullHelpGroup(click.Group):
    """A command group whose listing shows each command's whole first sentence, wrapped: click cuts it to
    the space left on one line ("Print the attribution to publish with the outputs of RUN (a..."), and
    a newcomer reading `ganvas --help` could not tell what half the commands were for."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10**6)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class RegistryChoice(click.Choice):
    """A click choice read from a registry (`ganvas.registry.Choices`) whenever click asks, so a name
    registered by a plugin after this module was imported is accepted and listed in `--help`."""

    def __init__(self, source: Iterable[str]) -> None:
        self.source = source
        super().__init__([], case_sensitive=True)

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.source)

    @choices.setter
    def choices(self, _: Any) -> None:      # click's __init__ assigns; the registry is the truth
        pass


class ListedOption(click.Option):
    """An option whose help text names the registered choices: ``{choices}`` is filled in at `--help` time."""

    def __init__(self, *args: Any, listed: Iterable[str], **kwargs: Any) -> None:
        self.listed = listed
        self.help_template = kwargs.get("help", "")
        super().__init__(*args, **kwargs)

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = self.help_template.replace("{choices}", " | ".join(self.listed))
        return super().get_help_record(ctx)


def publish_options(f: Any) -> Any:
    """--no-watermark and --guard, for every command that writes outputs of a model."""
    f = click.option("--guard", type=click.Choice(["flag", "strict", "off"]), default="flag", show_default=True,
                     help="memorization guard: flag near-copies of training items in their manifests, withhold "
                          "them (strict), or skip the check (off)")(f)
    return click.option("--no-watermark", is_flag=True,
                        help="do not watermark pictures (the signed manifest records that you chose this)")(f)


def make_publisher(model: Any, no_watermark: bool, guard: str) -> Any:
    """The Publisher every output of a command goes through (ganvas.publish.publisher)."""
    from ganvas.publish.publisher import Publisher

    return Publisher(model, watermark=not no_watermark, guard=guard)
