"""Definition of the log component."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Component"]


@runtime_checkable
class Component(Protocol):
    """Standard ``logging`` configured from ``log_level``, changed live when the setting changes."""

    @property
    def level(self) -> str:
        """The current level name (``info``, ``debug``, ...)."""
        ...
