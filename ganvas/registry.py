"""Name → implementation tables, imported lazily.

Every pluggable piece of ganvas (models, datasets, domains) is found by name through a `Registry`.
Entries are ``"module:attribute"`` strings, so adding a model is one new file plus one line in a
table, and listing names never imports torch-heavy modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from ganvas.errors import unknown_name


class Registry:
    """A lazily imported table of named implementations of one kind of thing."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind                                # what the entries are, for error messages
        self._entries: dict[str, Any] = dict(entries)   # name -> "module:attr" or the object itself

    def register(self, name: str, target: Any) -> None:
        """Add or replace an entry; plugins and tests use this to extend ganvas without editing it."""
        self._entries[name] = target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        """The implementation registered as `name`; a one-line error naming the known ones if absent."""
        if name not in self._entries:
            raise unknown_name(self.kind, name, self.names())
        target = self._entries[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._entries[name] = target
        return target
