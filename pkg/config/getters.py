"""The typed getters of :class:`pkg.config.reader.Reader`, written once on top of ``get(key)``.

The core agent's config and the remote agents' streamed view both inherit :class:`TypedGetters` and
implement :meth:`~TypedGetters.get`, :meth:`~TypedGetters.get_source` and
:meth:`~TypedGetters.all_settings`. The conversions are lenient (see :mod:`pkg.config.coerce`)
because a streamed value has lost its type: numbers arrive as doubles and big integers as text.

Reads never guess:

- a key that holds a value is converted, or :class:`pkg.config.errors.ConfigValueError` names the key,
  the value and the expected type;
- a key without a value (absent, or null) gives ``default`` when one is passed;
- otherwise an absent key raises :class:`pkg.config.reader.MissingSettingError` (a ``KeyError``)
  naming the key and the close matches among the known keys, and a null one raises
  ``ConfigValueError``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import timedelta
from enum import Enum
from typing import Any, Final, Literal, TypeVar

from pkg.config import coerce
from pkg.config.errors import ConfigValueError
from pkg.config.reader import MissingSettingError
from pkg.config.sources import Source

__all__ = ["NO_DEFAULT", "NoDefault", "TypedGetters"]

_T = TypeVar("_T")


class NoDefault(Enum):
    """The type of :data:`NO_DEFAULT`, the getters' marker for "no default given"."""

    NO_DEFAULT = "NO_DEFAULT"


NO_DEFAULT: Final = NoDefault.NO_DEFAULT

_Default = Literal[NoDefault.NO_DEFAULT]


class TypedGetters(ABC):
    """Mixin: ``get_string``, ``get_int``, ... for any class that implements ``get``, ``get_source``
    and ``all_settings``."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The effective value of ``key`` (a nested dict for a prefix of leaf keys), or None."""

    @abstractmethod
    def get_source(self, key: str) -> Source | None:
        """The source of ``key``'s effective value, or None when no source holds it."""

    @abstractmethod
    def all_settings(self) -> dict[str, Any]:
        """Every effective leaf setting, flattened."""

    def _typed(
        self, key: str, default: _T | _Default, convert: Callable[[Any, str], _T], expected: str
    ) -> _T:
        value = self.get(key)
        if value is not None:
            return convert(value, key)
        if default is not NO_DEFAULT:
            return default
        if self.get_source(key) is not None:  # the key is there, with a null value
            raise ConfigValueError(key, None, expected)
        raise MissingSettingError(key, self.all_settings().keys())

    def get_string(self, key: str, default: str | _Default = NO_DEFAULT) -> str:
        """Text; numbers and booleans are formatted ("5001", "1.5", "true")."""
        return self._typed(key, default, coerce.to_string, "a string")

    def get_int(self, key: str, default: int | _Default = NO_DEFAULT) -> int:
        """An int from an int, an integral float or numeric text."""
        return self._typed(key, default, coerce.to_int, "an integer")

    def get_bool(self, key: str, default: bool | _Default = NO_DEFAULT) -> bool:
        """A bool from a bool, 0/1, or "true"/"false"/"1"/"0" (and yes/no/on/off)."""
        return self._typed(key, default, coerce.to_bool, "a boolean (true or false)")

    def get_float(self, key: str, default: float | _Default = NO_DEFAULT) -> float:
        """A float from a number or numeric text."""
        return self._typed(key, default, coerce.to_float, "a number")

    def get_duration(self, key: str, default: timedelta | _Default = NO_DEFAULT) -> timedelta:
        """Go syntax ("10ms", "1m30s") or a number of seconds."""
        return self._typed(key, default, coerce.to_duration, "a duration")

    def get_string_list(self, key: str, default: list[str] | _Default = NO_DEFAULT) -> list[str]:
        """A list of strings from a list or comma/space separated text."""
        return self._typed(key, default, coerce.to_string_list, "a list of strings")

    def get_string_map(self, key: str, default: dict[str, Any] | _Default = NO_DEFAULT) -> dict[str, Any]:
        """A mapping (a map-typed leaf, or the nested leaves under a prefix)."""
        return self._typed(key, default, coerce.to_string_map, "a mapping")
