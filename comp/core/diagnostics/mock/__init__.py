"""A test double of the diagnostics component: the statuses and flare files a test gives it.

Usage::

    diagnostics = new_mock(statuses=[{"display_name": "Trace Agent", "error": None}])
    diagnostics.files["core/status.json"] = b"{}"
    assert await diagnostics.flare_files() == {"core/status.json": b"{}"}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MockDiagnostics", "new_mock"]


class MockDiagnostics:
    """Implements the diagnostics ``Component``: answers copies of ``statuses`` and ``files``, and
    counts the calls."""

    def __init__(
        self, statuses: Iterable[Mapping[str, Any]] = (), files: Mapping[str, bytes] | None = None
    ) -> None:
        self.statuses: list[dict[str, Any]] = [dict(status) for status in statuses]
        self.files: dict[str, bytes] = dict(files or {})
        self.status_calls = 0
        self.flare_calls = 0

    async def remote_agents_status(self) -> list[dict[str, Any]]:
        self.status_calls += 1
        return [dict(status) for status in self.statuses]

    async def flare_files(self) -> dict[str, bytes]:
        self.flare_calls += 1
        return dict(self.files)


def new_mock(
    statuses: Iterable[Mapping[str, Any]] = (), files: Mapping[str, bytes] | None = None
) -> MockDiagnostics:
    """A mock answering ``statuses`` and ``files``."""
    return MockDiagnostics(statuses, files)
