"""The `ganvas` subcommands, one module each; `ganvas/cli.py` lists them."""

from pathlib import Path

import click

PathArg = click.Path(path_type=Path)
