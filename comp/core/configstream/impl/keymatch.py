"""A key filter's decision per key, cached: a filtered subscriber pays one dict look-up per update."""

from __future__ import annotations

from comp.core.configstream.def_ import KeyFilter

__all__ = ["MAX_CACHED_KEYS", "KeyMatcher"]

MAX_CACHED_KEYS = 65536
"""Keys whose decision is kept; the cache starts over past it (keys are bounded, so rarely)."""


class KeyMatcher:
    """``matches(key)`` of a :class:`KeyFilter`, each key decided once."""

    __slots__ = ("_cache", "_filter", "_keys", "_prefixes")

    def __init__(self, key_filter: KeyFilter) -> None:
        self._filter = key_filter
        self._keys = frozenset(key_filter.keys)
        self._prefixes = tuple(sorted(set(key_filter.prefixes)))
        self._cache: dict[str, bool] = {}

    @property
    def key_filter(self) -> KeyFilter:
        return self._filter

    def matches(self, key: str) -> bool:
        decided = self._cache.get(key)
        if decided is not None:
            return decided
        decided = key in self._keys or any(
            key == prefix or key.startswith(prefix + ".") for prefix in self._prefixes
        )
        if len(self._cache) >= MAX_CACHED_KEYS:
            self._cache.clear()
        self._cache[key] = decided
        return decided
