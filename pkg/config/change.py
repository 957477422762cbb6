"""Plain value types shared by the config model and its users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pkg.config.sources import Source

__all__ = ["ConfigChange", "Setting", "UpdateCallback"]


@dataclass(frozen=True, slots=True)
class Setting:
    """An effective value and the source it comes from."""

    value: Any
    source: Source


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One change of a key's effective value.

    ``source`` is the source of the new effective value (None when no source holds the key any more).
    ``unset_source`` is set when the change comes from removing the key from that source.
    """

    key: str
    old: Any
    new: Any
    source: Source | None
    sequence_id: int
    unset_source: Source | None = None


UpdateCallback = Callable[[ConfigChange], None]
