"""Implementation of the telemetry component.

The component owns one OpenTelemetry SDK ``MeterProvider`` (never the global one). When
``telemetry.enabled`` is true its metrics are served in Prometheus text format at
``http://127.0.0.1:<telemetry.port>/metrics`` between the lifecycle's start and stop; when false the
provider is OpenTelemetry's no-op one and no port is opened.

Each instance has its own ``prometheus_client.CollectorRegistry``: the exporter's reader accepts the
registry to register its collector in, so nothing touches prometheus_client's global ``REGISTRY`` and
several instances live side by side in one process.

Names in ``/metrics``: every character outside ``[a-zA-Z0-9:]`` becomes ``_``
(``remote_agent_registry.registered`` → ``remote_agent_registry_registered``); monotonic counters get
the Prometheus ``_total`` suffix (``configstream.updates_sent`` → ``configstream_updates_sent_total``);
up-down counters and gauges are gauges without suffix; an instrument unit is appended as a suffix
unless the name already ends with it (unit ``s`` → ``_seconds``). No ``target_info`` metric and no
``otel_scope_*`` labels are exported: the name's namespace already says where a metric comes from.
Histograms use OpenTelemetry's default buckets (meant for milliseconds) unless the instrument is
created with ``explicit_bucket_boundaries_advisory``: pass ``SECONDS_BUCKETS`` for durations.

With a ``program`` name (``core_agent``) ``/metrics`` also carries ``<program>_build_info`` and the
process's own series (CPU, memory, fds, threads: :mod:`.process`). Only the binary that serves the
merged ``/metrics`` names itself: a remote agent's process series, relayed into the core's with an
``emitter`` label, would share the core's family names.

Families of one name from several collectors (a remote agent's relayed series beside the core's
own) are served as one family (:mod:`.exposition`); a family of the same name but another type is
left out, logged once per name and reason, and counted in ``telemetry_dropped_families_total``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import Meter, MeterProvider, NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from comp.core.config import def_ as config_def
from comp.core.settings.def_ import StatusFields, StatusProvider
from comp.core.telemetry.def_ import Component, Params
from comp.core.telemetry.impl.endpoint import MetricsEndpoint
from comp.core.telemetry.impl.exposition import DroppedFamily, MergedFamilies
from comp.core.telemetry.impl.process import register_process_collectors
from pkg.config.errors import ConfigValueError
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]

_log = logging.getLogger(__name__)

HOST = "127.0.0.1"
_NAMESPACE = "telemetry"
_MAX_WARNED = 1000
_MAX_PORT = 65535


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component
    params: Params = field(default_factory=Params)


@dataclass(frozen=True)
class Provides:
    """``status``: the metrics URL, for the agent's status."""

    comp: Component
    status: StatusProvider


class Telemetry:
    """A MeterProvider owned by the component, optionally served at ``/metrics`` on loopback."""

    def __init__(self, *, enabled: bool, port: int, program: str = "") -> None:
        if not 0 <= port <= _MAX_PORT:
            raise ConfigValueError("telemetry.port", port, f"a port number between 0 and {_MAX_PORT}")
        self._enabled = enabled
        self._endpoint: MetricsEndpoint | None = None
        self._registry: CollectorRegistry | None = None
        self._warned: set[tuple[str, str]] = set()
        self._provider: MeterProvider
        if enabled:
            registry = CollectorRegistry(auto_describe=False)
            reader = PrometheusMetricReader(
                disable_target_info=True, scope_info_enabled=False, registry=registry
            )
            # Nothing to flush at exit (Prometheus pulls), so no atexit hook per instance.
            self._provider = SdkMeterProvider(metric_readers=[reader], shutdown_on_exit=False)
            if program:
                register_process_collectors(registry, program)
            self._dropped = self._provider.get_meter(_NAMESPACE).create_counter(
                f"{_NAMESPACE}.dropped_families",
                description="Families or series left out of a scrape of /metrics: their name was "
                "another family's of another type, or the same series came twice",
            )
            self._dropped.add(0)
            self._endpoint = MetricsEndpoint(MergedFamilies(registry, self._on_drop), HOST, port)
            self._registry = registry
        else:
            self._provider = NoOpMeterProvider()

    def _on_drop(self, dropped: DroppedFamily) -> None:
        self._dropped.add(1)
        key = (dropped.name, dropped.reason)
        if key in self._warned or len(self._warned) >= _MAX_WARNED:
            _log.debug("metric %r left out of /metrics: %s", dropped.name, dropped.reason)
            return
        self._warned.add(key)
        _log.warning("metric %r left out of /metrics (logged once): %s", dropped.name, dropped.reason)

    @property
    def meter_provider(self) -> MeterProvider:
        return self._provider

    def meter(self, namespace: str) -> Meter:
        """A meter for one namespace (the SDK hands out one meter per namespace)."""
        return self._provider.get_meter(namespace)

    @property
    def enabled(self) -> bool:
        """``telemetry.enabled`` as read at construction."""
        return self._enabled

    @property
    def port(self) -> int | None:
        """The bound port while serving (the real one when configured with 0), else None."""
        return None if self._endpoint is None else self._endpoint.port

    @property
    def url(self) -> str | None:
        """``http://127.0.0.1:<port>/metrics`` while serving, else None."""
        return None if self._endpoint is None else self._endpoint.url

    def register_collector(self, collector: Collector) -> None:
        """Serve ``collector``'s families at ``/metrics`` too (nothing when telemetry is disabled)."""
        if self._registry is not None:
            self._registry.register(collector)

    async def start(self) -> None:
        """Open the endpoint (when enabled). Raises MetricsEndpointError naming the address."""
        if self._endpoint is None:
            _log.info("telemetry disabled: no metrics endpoint")
            return
        await self._endpoint.start()
        _log.info("telemetry: serving Prometheus metrics at %s", self._endpoint.url)

    async def stop(self) -> None:
        """Close the endpoint and free its port."""
        if self._endpoint is not None:
            await self._endpoint.stop()


def new_component(requires: Requires) -> Provides:
    """Build the telemetry component from ``telemetry.enabled`` and ``telemetry.port``."""
    telemetry = Telemetry(
        enabled=requires.config.get_bool("telemetry.enabled"),
        port=requires.config.get_int("telemetry.port"),
        program=requires.params.program,
    )
    requires.lifecycle.append(Hook("telemetry", on_start=telemetry.start, on_stop=telemetry.stop))

    def status() -> StatusFields:
        return {"telemetry_url": telemetry.url or ""}

    return Provides(comp=telemetry, status=status)
