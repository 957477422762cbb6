"""A test double of the telemetry component that keeps metrics in memory and reads them back.

Usage in the tests of a component that records metrics::

    telemetry = MockTelemetry()
    registry = new_component(Requires(..., telemetry=telemetry)).comp
    registry.register(...)
    assert telemetry.value("remote_agent_registry.registered") == 1
    assert telemetry.histogram_count("remote_agent_registry.action_duration_seconds", action="register") == 1
"""

from __future__ import annotations

from opentelemetry.metrics import Meter, MeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    NumberDataPoint,
)
from opentelemetry.util.types import AttributeValue
from prometheus_client.registry import Collector

__all__ = ["MockTelemetry"]


class MockTelemetry:
    """Implements the telemetry ``Component`` with an SDK MeterProvider and an in-memory reader.

    Values are cumulative since creation. ``attributes`` select the data point whose attributes are
    exactly those given (none given: the point without attributes).
    """

    def __init__(self) -> None:
        self._reader = InMemoryMetricReader()
        self._provider = SdkMeterProvider(metric_readers=[self._reader], shutdown_on_exit=False)
        self.collectors: list[Collector] = []

    @property
    def meter_provider(self) -> MeterProvider:
        return self._provider

    def meter(self, namespace: str) -> Meter:
        return self._provider.get_meter(namespace)

    @property
    def url(self) -> str | None:
        """None: nothing is served."""
        return None

    def register_collector(self, collector: Collector) -> None:
        """Kept in :attr:`collectors`, served nowhere."""
        self.collectors.append(collector)

    def value(self, name: str, /, **attributes: AttributeValue) -> float | None:
        """The sum of a counter or up-down counter, or the last value of a gauge; None if never recorded."""
        point = self._point(name, attributes)
        if point is None:
            return None
        if isinstance(point, HistogramDataPoint):
            raise TypeError(f"{name!r} is a histogram: use histogram_count()")
        return point.value

    def histogram_count(self, name: str, /, **attributes: AttributeValue) -> int | None:
        """How many values a histogram recorded; None if never recorded."""
        point = self._point(name, attributes)
        if point is None:
            return None
        if not isinstance(point, HistogramDataPoint):
            raise TypeError(f"{name!r} is not a histogram: use value()")
        return point.count

    def histogram_boundaries(self, name: str, /, **attributes: AttributeValue) -> tuple[float, ...] | None:
        """A histogram's bucket boundaries (upper bounds, ``+Inf`` left out); None if never recorded."""
        point = self._point(name, attributes)
        if point is None:
            return None
        if not isinstance(point, HistogramDataPoint):
            raise TypeError(f"{name!r} is not a histogram: use value()")
        return tuple(point.explicit_bounds)

    def _point(
        self, name: str, attributes: dict[str, AttributeValue]
    ) -> NumberDataPoint | HistogramDataPoint | None:
        metric = self._metric(name.lower())  # the SDK lower-cases instrument names
        if metric is None:
            return None
        for point in metric.data.data_points:
            if dict(point.attributes or {}) == attributes:
                if isinstance(point, NumberDataPoint | HistogramDataPoint):
                    return point
                raise TypeError(f"{name!r} has data points of an unsupported kind: {type(point).__name__}")
        return None

    def _metric(self, name: str) -> Metric | None:
        data = self._reader.get_metrics_data()
        if data is None:
            return None
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name == name:
                        return metric
        return None
