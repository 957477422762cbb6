from __future__ import annotations

from comp.core.diagnostics.def_ import Component
from comp.core.diagnostics.mock import new_mock


async def test_the_mock_answers_copies_of_what_it_was_given_and_counts_calls() -> None:
    diagnostics = new_mock(statuses=[{"display_name": "Trace Agent", "error": None}])
    diagnostics.files["core/status.json"] = b"{}"
    assert isinstance(diagnostics, Component)

    statuses = await diagnostics.remote_agents_status()
    statuses[0]["error"] = "changed by the caller"
    files = await diagnostics.flare_files()
    files.clear()

    assert await diagnostics.remote_agents_status() == [{"display_name": "Trace Agent", "error": None}]
    assert await diagnostics.flare_files() == {"core/status.json": b"{}"}
    assert (diagnostics.status_calls, diagnostics.flare_calls) == (2, 2)
