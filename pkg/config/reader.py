"""The read interface shared by the core agent's config and the remote agents' streamed view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from pkg.config.sources import Source

__all__ = ["Reader"]


@runtime_checkable
class Reader(Protocol):
    """Typed read access to effective settings (flattened, dotted, lower-case keys).

    Getters of a key that is absent return the type's zero value ("" / 0 / False / [] / {}) like the
    Go agent, unless a default is declared for it. A value that cannot be converted to the asked type
    raises :class:`pkg.config.errors.ConfigValueError`.
    """

    def get(self, key: str) -> Any:
        """The effective value, or None. A prefix of leaf keys returns them as a nested dict."""
        ...

    def get_string(self, key: str) -> str: ...

    def get_int(self, key: str) -> int: ...

    def get_bool(self, key: str) -> bool: ...

    def get_float(self, key: str) -> float: ...

    def get_duration(self, key: str) -> timedelta:
        """Go syntax ("10ms", "1m30s") or a plain number of seconds."""
        ...

    def get_string_list(self, key: str) -> list[str]: ...

    def get_string_map(self, key: str) -> dict[str, Any]: ...

    def get_source(self, key: str) -> Source | None:
        """The source of the effective value, or None when no source holds the key."""
        ...

    def is_set(self, key: str) -> bool:
        """True when some source other than ``default`` holds the key."""
        ...

    def all_settings(self) -> dict[str, Any]:
        """Every effective leaf setting, flattened."""
        ...
