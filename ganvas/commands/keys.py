"""`ganvas keys`: the signing key every output's manifest is signed with."""

from __future__ import annotations

from pathlib import Path

import click

from ganvas.commands import FullHelpGroup, PathArg


@click.group(cls=FullHelpGroup, invoke_without_command=True)
@click.pass_context
def keys(ctx: click.Context) -> None:
    """Show this install's signing key (created on first use, owner-only) and the keys it trusts."""
    if ctx.invoked_subcommand is not None:
        return
    from ganvas.publish.keys import load_key, trusted_keys

    key = load_key()
    print(f"signing key: {key.id}")
    print(f"  folder:     {key.folder} (private key readable by its owner only)")
    print(f"  public key: {key.public.b64} (Ed25519; `ganvas keys export FILE` writes it as PEM)")
    others = [k for k in trusted_keys(key.folder) if k != key.id]
    print(f"trusted keys besides it: {', '.join(others) if others else 'none (`ganvas keys trust FILE` adds one)'}")


@keys.command()
def create() -> None:
    """Create the signing key now (outputs create it on first use anyway); never replaces one."""
    from ganvas.publish.keys import create_key

    key = create_key()
    print(f"created signing key {key.id} in {key.folder}")


@keys.command()
@click.argument("file", type=PathArg)
def export(file: Path) -> None:
    """Write the public key as PEM, for others to check your outputs with `ganvas keys trust`."""
    from ganvas.files import write_text
    from ganvas.publish.keys import load_key

    key = load_key()
    write_text(file, key.public.pem())
    print(f"wrote the public key {key.id} to {file}")


@keys.command()
@click.argument("file", type=PathArg)
def trust(file: Path) -> None:
    """Trust another install's public key (a PEM from its `ganvas keys export`) when verifying."""
    from ganvas.publish.keys import trust as add

    key = add(file)
    print(f"now trusting {key.id}")
