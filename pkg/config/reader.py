"""The read interface shared by the core agent's config and the remote agents' streamed view."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from pkg.config.errors import ConfigError
from pkg.config.sources import Source

__all__ = ["MissingSettingError", "Reader"]

_MAX_SUGGESTIONS = 3


class MissingSettingError(ConfigError, KeyError):
    """A typed getter was asked for a key that no source holds, and given no default.

    ``key``: the key asked for; ``close_matches``: the known keys that look like it (best first).
    """

    def __init__(self, key: str, known_keys: Iterable[str] = ()) -> None:
        self.key = key
        self.close_matches = tuple(
            difflib.get_close_matches(key.lower(), list(known_keys), n=_MAX_SUGGESTIONS, cutoff=0.75)
        )
        hint = ""
        if self.close_matches:
            hint = "; did you mean " + " or ".join(repr(k) for k in self.close_matches) + "?"
        super().__init__(f"setting {key!r} is not set and no default was given{hint}")

    def __str__(self) -> str:
        # KeyError quotes its argument; the message reads better as it is.
        return str(self.args[0])


@runtime_checkable
class Reader(Protocol):
    """Typed read access to effective settings (flattened, dotted, lower-case keys).

    Reads never guess. A getter converts the key's value to its type, or raises
    :class:`pkg.config.errors.ConfigValueError` naming the key, the value and the expected type. A key
    without a value gives ``default`` when one is passed; otherwise :class:`MissingSettingError` (a
    ``KeyError`` naming the key and close matches) when it is absent, ``ConfigValueError`` when it is
    null. The core agent's declared keys always have a value (their schema default at least).
    """

    def get(self, key: str) -> Any:
        """The effective value, or None. A prefix of leaf keys returns them as a nested dict."""
        ...

    def get_string(self, key: str, default: str = ...) -> str:
        """Text; numbers and booleans are formatted ("5001", "1.5", "true")."""
        ...

    def get_int(self, key: str, default: int = ...) -> int:
        """An int from an int, an integral float or numeric text ("42", "1e3")."""
        ...

    def get_bool(self, key: str, default: bool = ...) -> bool:
        """A bool from a bool, 0/1, or true/false text (and yes/no/on/off)."""
        ...

    def get_float(self, key: str, default: float = ...) -> float:
        """A float from a number or numeric text."""
        ...

    def get_duration(self, key: str, default: timedelta = ...) -> timedelta:
        """Go syntax ("10ms", "1m30s") or a plain number of seconds."""
        ...

    def get_string_list(self, key: str, default: list[str] = ...) -> list[str]:
        """A list of strings from a list or comma/space separated text ("a, b", "[a, b]")."""
        ...

    def get_string_map(self, key: str, default: dict[str, Any] = ...) -> dict[str, Any]:
        """A mapping: a map-typed leaf, or the nested leaves under a prefix."""
        ...

    def get_source(self, key: str) -> Source | None:
        """The source of the effective value, or None when no source holds the key."""
        ...

    def is_set(self, key: str) -> bool:
        """True when some source other than ``default`` holds the key."""
        ...

    def all_settings(self) -> dict[str, Any]:
        """Every effective leaf setting, flattened."""
        ...

    @property
    def sequence_id(self) -> int:
        """The sequence id of the values read: incremented by one for every change of an effective
        value (a streamed view: the id of the last event applied, -1 before the first snapshot)."""
        ...
