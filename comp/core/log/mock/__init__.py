"""A test double of the log component: a level that tests set; logging itself is left alone."""

from __future__ import annotations

__all__ = ["MockLog"]


class MockLog:
    """Implements the log ``Component``; ``level`` is settable and configures nothing."""

    def __init__(self, level: str = "info") -> None:
        self._level = level

    @property
    def level(self) -> str:
        return self._level

    @level.setter
    def level(self, value: str) -> None:
        self._level = value
