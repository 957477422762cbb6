"""Fleet values by scope, and the effective one of each key (highest-priority scope wins)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Entry", "FleetLayers"]


@dataclass(frozen=True)
class Entry:
    """A value as stored in etcd (YAML text) and the revision of its last change."""

    text: str
    revision: int


class FleetLayers:
    """The values of the configured scopes; keys of other scopes are not kept."""

    def __init__(self, scopes: Sequence[str]) -> None:
        self.scopes = tuple(scopes)
        self._rank = {scope: i for i, scope in enumerate(self.scopes)}
        self._values: dict[str, dict[str, Entry]] = {scope: {} for scope in self.scopes}

    def watches(self, scope: str) -> bool:
        return scope in self._rank

    def put(self, scope: str, key: str, entry: Entry) -> bool:
        """Store ``entry``; False (and nothing stored) for a scope not configured."""
        if scope not in self._rank:
            return False
        self._values[scope][key] = entry
        return True

    def delete(self, scope: str, key: str) -> bool:
        """Remove ``key`` from ``scope``; True if it was there."""
        return self._values.get(scope, {}).pop(key, None) is not None

    def effective(self, key: str) -> tuple[str, Entry] | None:
        """The scope and entry that decide ``key``, or None when no scope has it."""
        for scope in reversed(self.scopes):
            entry = self._values[scope].get(key)
            if entry is not None:
                return scope, entry
        return None

    def keys(self) -> set[str]:
        return {key for values in self._values.values() for key in values}

    def by_scope(self) -> dict[str, dict[str, Entry]]:
        """A copy of every scope's values."""
        return {scope: dict(values) for scope, values in self._values.items()}

    def replace(self, values: Mapping[str, Mapping[str, Entry]]) -> set[str]:
        """Replace everything with ``values`` (scope → key → entry); returns the keys whose entry in
        some scope changed, appeared or disappeared."""
        changed: set[str] = set()
        for scope in self.scopes:
            old = self._values[scope]
            new = dict(values.get(scope, {}))
            changed.update(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            self._values[scope] = new
        return changed

    @staticmethod
    def group(items: Iterable[tuple[str, str, Entry]]) -> dict[str, dict[str, Entry]]:
        """``(scope, key, entry)`` triples as scope → key → entry."""
        grouped: dict[str, dict[str, Entry]] = {}
        for scope, key, entry in items:
            grouped.setdefault(scope, {})[key] = entry
        return grouped
