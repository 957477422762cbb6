"""The typed getters of :class:`pkg.config.reader.Reader`, written once on top of ``get(key)``.

The core agent's config and the remote agents' streamed view both inherit :class:`TypedGetters` and
implement only :meth:`TypedGetters.get`. The conversions are lenient (see :mod:`pkg.config.coerce`)
because a streamed value has lost its type: numbers arrive as doubles and big integers as text.

A key that is absent (``get`` returns None) reads as the type's zero value. A value that cannot be
converted raises :class:`pkg.config.errors.ConfigValueError` naming the key, the value and the type.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any

from pkg.config import coerce

__all__ = ["TypedGetters"]


class TypedGetters(ABC):
    """Mixin: ``get_string``, ``get_int``, ... for any class that implements ``get``."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The effective value of ``key`` (a nested dict for a prefix of leaf keys), or None."""

    def get_string(self, key: str) -> str:
        """Text; numbers and booleans are formatted ("5001", "1.5", "true"); absent: ""."""
        value = self.get(key)
        return "" if value is None else coerce.to_string(value, key)

    def get_int(self, key: str) -> int:
        """An int from an int, an integral float or numeric text; absent: 0."""
        value = self.get(key)
        return 0 if value is None else coerce.to_int(value, key)

    def get_bool(self, key: str) -> bool:
        """A bool from a bool, 0/1, or "true"/"false"/"1"/"0" (and yes/no/on/off); absent: False."""
        value = self.get(key)
        return False if value is None else coerce.to_bool(value, key)

    def get_float(self, key: str) -> float:
        """A float from a number or numeric text; absent: 0.0."""
        value = self.get(key)
        return 0.0 if value is None else coerce.to_float(value, key)

    def get_duration(self, key: str) -> timedelta:
        """Go syntax ("10ms", "1m30s") or a number of seconds; absent: zero."""
        value = self.get(key)
        return timedelta(0) if value is None else coerce.to_duration(value, key)

    def get_string_list(self, key: str) -> list[str]:
        """A list of strings from a list or comma/space separated text; absent: []."""
        value = self.get(key)
        return [] if value is None else coerce.to_string_list(value, key)

    def get_string_map(self, key: str) -> dict[str, Any]:
        """A mapping (a map-typed leaf, or the nested leaves under a prefix); absent: {}."""
        value = self.get(key)
        return {} if value is None else coerce.to_string_map(value, key)
