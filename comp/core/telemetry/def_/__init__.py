"""Definition of the telemetry component.

Components get meters from it (never from OpenTelemetry's global provider)::

    counter = telemetry.meter("configstream").create_counter("configstream.snapshots_sent")
    counter.add(1)

Conventions every component follows, so that a Prometheus user can alert on what it exports:

- a histogram of durations is named ``*_seconds``, has ``unit="s"`` and
  ``explicit_bucket_boundaries_advisory=SECONDS_BUCKETS`` (OpenTelemetry's default boundaries are
  meant for milliseconds: every duration in seconds would fall in the first bucket);
- a counter is added ``0`` for each of its known label sets when it is created, so that it is
  exported from the start and ``increase()`` sees its first event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from opentelemetry.metrics import Meter, MeterProvider
from prometheus_client.registry import Collector

__all__ = ["SECONDS_BUCKETS", "Component", "Params"]

SECONDS_BUCKETS: Final[tuple[float, ...]] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Bucket boundaries of duration histograms, in seconds (100 µs, as a loopback call takes, to 10 s;
slower lands in ``+Inf``)."""


@dataclass(frozen=True)
class Params:
    """``program``: the binary's name for ``<program>_build_info`` and its process series ("": none;
    only the binary that serves the merged ``/metrics`` names itself)."""

    program: str = ""


@runtime_checkable
class Component(Protocol):
    """Hands out meters of one MeterProvider owned by this component."""

    @property
    def meter_provider(self) -> MeterProvider: ...

    def meter(self, namespace: str) -> Meter:
        """A meter for one namespace (``remote_agent_registry``, ``configstream``, ...)."""
        ...

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>/metrics`` while serving, else None."""
        ...

    def register_collector(self, collector: Collector) -> None:
        """Serve ``collector``'s families at ``/metrics`` too (nothing when nothing is served)."""
        ...
