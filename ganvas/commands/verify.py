"""`ganvas verify FILE…`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ganvas.commands import PathArg


@click.command()
@click.argument("files", nargs=-1, required=True, type=PathArg)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object per file (a list)")
def verify(files: tuple[Path, ...], as_json: bool) -> int:
    """Check files made by ganvas: manifest and signature, content unchanged, watermark, C2PA, model/dataset/licence.

    Exit status: 0 every file verified, 1 some file not verified, 2 some file could not be read (missing,
    truncated, damaged, unsupported)."""
    from ganvas.publish.keys import trusted_keys
    from ganvas.publish.verify import EXIT, verify_file

    trusted = trusted_keys()
    results = [verify_file(f, trusted=trusted) for f in files]
    if as_json:
        print(json.dumps([r.to_record() for r in results], ensure_ascii=False, indent=1))
    else:
        for r in results:
            print("\n".join(r.lines()))
    sys.stdout.flush()
    return max(EXIT[r.status] for r in results)
