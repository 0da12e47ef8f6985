"""Messages for people at the terminal, kept apart from machine-readable output on stdout."""

from __future__ import annotations

import os
import sys


def is_secondary_rank() -> bool:
    """A process of a torchrun run other than rank 0: it does the same work, so it keeps quiet."""
    world, rank = os.environ.get("WORLD_SIZE", ""), os.environ.get("RANK", "")
    return world.isdigit() and int(world) > 1 and rank.isdigit() and int(rank) > 0


def info(message: str) -> None:
    if not is_secondary_rank():
        print(message, file=sys.stderr, flush=True)


def warning(message: str) -> None:
    """A warning for people: one line on stderr, starting ``warning:`` (rank 0 only, as `info`)."""
    info(f"warning: {message}")


def skipped_summary(skipped: dict[str, int], total: int, where: str) -> str:
    """'skipped 3 of 40 files in X: 1 zero-byte, 2 unreadable' (empty when nothing was skipped)."""
    n = sum(skipped.values())
    if not n:
        return ""
    parts = ", ".join(f"{v} {k}" for k, v in sorted(skipped.items()))
    return f"skipped {n} of {total} files in {where}: {parts}"
