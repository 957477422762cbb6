"""Definition of the telemetry component.

Components get meters from it (never from OpenTelemetry's global provider)::

    counter = telemetry.meter("configstream").create_counter("configstream.snapshots_sent")
    counter.add(1)
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from opentelemetry.metrics import Meter, MeterProvider

__all__ = ["Component"]


@runtime_checkable
class Component(Protocol):
    """Hands out meters of one MeterProvider owned by this component."""

    @property
    def meter_provider(self) -> MeterProvider: ...

    def meter(self, namespace: str) -> Meter:
        """A meter for one namespace (``remote_agent_registry``, ``configstream``, ...)."""
        ...
