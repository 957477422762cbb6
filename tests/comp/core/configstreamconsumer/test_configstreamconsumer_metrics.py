"""The consumer's counters are exported at 0 before their first event."""

from __future__ import annotations

import pytest

from comp.core.configstreamconsumer.impl.metrics import NAMESPACE, ConsumerMetrics
from comp.core.telemetry.mock import MockTelemetry


@pytest.mark.parametrize(
    "name",
    [
        "reconnects",
        "registrations",
        "snapshots",
        "updates",
        "gaps",
        "stale_events_dropped",
        "subscriber_overflows",
        "invalid_settings",
        "resumes",
        "resumes_refused",
    ],
)
def test_counters_start_at_zero(name: str) -> None:
    telemetry = MockTelemetry()
    ConsumerMetrics(telemetry)
    assert telemetry.value(f"{NAMESPACE}.{name}") == 0
