"""Errors that are the user's to fix.

A `GanvasError` is printed by the CLI as one line (``error: ...``) with no traceback, so its message
must name the file, field or value that was wrong and what was expected. Anything else that escapes
is a bug in ganvas and keeps its traceback.
"""

from __future__ import annotations

import difflib


class GanvasError(Exception):
    """A problem with the user's input, data or files, explained in one line."""


class TrainingDiverged(GanvasError):
    """A loss became NaN or infinite; the last good checkpoint is left untouched."""


def unknown_name(kind: str, name: str, known: list[str]) -> GanvasError:
    """An error for a name that is not registered, suggesting the closest known one."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return GanvasError(f"unknown {kind} '{name}'{hint}; known: {', '.join(sorted(known)) or 'none'}")
