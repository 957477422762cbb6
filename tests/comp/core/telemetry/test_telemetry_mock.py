"""The telemetry mock reads back what components record."""

from __future__ import annotations

import pytest

from comp.core.telemetry.def_ import Component
from comp.core.telemetry.mock import MockTelemetry


def test_implements_the_component() -> None:
    assert isinstance(MockTelemetry(), Component)


def test_counter_value_is_the_sum_per_attribute_set() -> None:
    telemetry = MockTelemetry()
    counter = telemetry.meter("remote_agent_registry").create_counter("remote_agent_registry.action_error")
    counter.add(1, {"action": "register"})
    counter.add(2, {"action": "register"})
    counter.add(5, {"action": "refresh"})

    assert telemetry.value("remote_agent_registry.action_error", action="register") == 3
    assert telemetry.value("remote_agent_registry.action_error", action="refresh") == 5
    assert telemetry.value("remote_agent_registry.action_error") is None
    assert telemetry.value("remote_agent_registry.action_error", action="other") is None


def test_gauge_and_up_down_counter_values() -> None:
    telemetry = MockTelemetry()
    meter = telemetry.meter("configstream")
    meter.create_gauge("remote_agent_registry.registered").set(4)
    meter.create_gauge("remote_agent_registry.registered").set(2)
    subscribers = meter.create_up_down_counter("configstream.subscribers")
    subscribers.add(3)
    subscribers.add(-1)

    assert telemetry.value("remote_agent_registry.registered") == 2
    assert telemetry.value("configstream.subscribers") == 2


def test_histogram_count() -> None:
    telemetry = MockTelemetry()
    histogram = telemetry.meter("rar").create_histogram("remote_agent_registry.action_duration_seconds")
    histogram.record(0.1, {"action": "register"})
    histogram.record(0.3, {"action": "register"})

    assert telemetry.histogram_count("remote_agent_registry.action_duration_seconds", action="register") == 2
    assert telemetry.histogram_count("remote_agent_registry.action_duration_seconds", action="x") is None
    with pytest.raises(TypeError, match="histogram"):
        telemetry.value("remote_agent_registry.action_duration_seconds", action="register")


def test_unknown_names_read_as_none_and_instances_are_separate() -> None:
    first, second = MockTelemetry(), MockTelemetry()
    first.meter("configstream").create_counter("configstream.updates_sent").add(1)

    assert first.value("configstream.nothing") is None
    assert second.value("configstream.updates_sent") is None
    with pytest.raises(TypeError, match="not a histogram"):
        first.histogram_count("configstream.updates_sent")
