"""A fleet source for tests of its users: a status and applied values set by the test."""

from __future__ import annotations

from comp.core.fleet.def_ import AppliedValue, Component, FleetStatus

__all__ = ["MockFleet"]


class MockFleet(Component):
    """Returns what the test put in ``fleet_status`` and ``values``; ``revision`` drives ``wait_revision``."""

    def __init__(self, fleet_status: FleetStatus | None = None) -> None:
        self.fleet_status = fleet_status or FleetStatus(enabled=False)
        self.values: dict[str, AppliedValue] = {}

    def status(self) -> FleetStatus:
        return self.fleet_status

    def applied(self) -> dict[str, AppliedValue]:
        return dict(self.values)

    async def wait_revision(self, revision: int, within: float) -> bool:
        return self.fleet_status.revision >= revision
