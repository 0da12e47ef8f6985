"""Messages for people at the terminal, kept apart from machine-readable output on stdout."""

from __future__ import annotations

import sys


def info(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def skipped_summary(skipped: dict[str, int], total: int, where: str) -> str:
    """'skipped 3 of 40 files in X: 1 zero-byte, 2 unreadable' (empty when nothing was skipped)."""
    n = sum(skipped.values())
    if not n:
        return ""
    parts = ", ".join(f"{v} {k}" for k, v in sorted(skipped.items()))
    return f"skipped {n} of {total} files in {where}: {parts}"
