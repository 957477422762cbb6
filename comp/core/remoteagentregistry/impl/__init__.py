"""The remote agent registry component, its gRPC services, its queries to the agents and events.

Modules: :mod:`.registry` (sessions, refresh, eviction), :mod:`.grpc_service` (register, refresh),
:mod:`.queries` (status, flare and telemetry fan-out), :mod:`.events` (ReportRemoteAgentEvent and
its subscribers), :mod:`.remote_metrics` (remote agents' series in the core's ``/metrics``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from comp.core.remoteagentregistry.def_ import Component, EventSubscriber, Params, Queries
from comp.core.remoteagentregistry.impl.events import EventDispatcher, InvalidApiKeyLogger, new_events_service
from comp.core.remoteagentregistry.impl.grpc_service import new_grpc_service
from comp.core.remoteagentregistry.impl.queries import RemoteAgentQueries
from comp.core.remoteagentregistry.impl.registry import TELEMETRY_NAMESPACE, RemoteAgentRegistry
from comp.core.remoteagentregistry.impl.remote_metrics import RemoteMetricsCollector
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``ipc``: the credentials to dial the agents (None: queries fail, saying so).
    ``event_subscribers``: the contributed receivers of reported events."""

    lifecycle: Lifecycle
    config: config_def.Component
    telemetry: telemetry_def.Component
    ipc: ipc_def.Component | None = None
    event_subscribers: Sequence[EventSubscriber] = ()
    params: Params = field(default_factory=Params)


@dataclass(frozen=True)
class Provides:
    comp: Component
    grpc_service: GrpcService
    events_service: GrpcService
    queries: Queries


def new_component(requires: Requires) -> Provides:
    """Build the registry; its start hook launches the idle eviction, its stop hook ends it.

    The remote agents' series join the telemetry's ``/metrics``; reported invalid API keys are
    logged and counted, then handed to ``event_subscribers``.
    """
    telemetry = requires.telemetry
    meter = telemetry.meter(TELEMETRY_NAMESPACE)
    registry = RemoteAgentRegistry(
        requires.config,
        meter,
        clock=requires.params.clock,
        check_interval=requires.params.check_interval,
        max_agents=requires.params.max_agents,
    )
    requires.lifecycle.append(Hook("remote agent registry", on_start=registry.start, on_stop=registry.stop))
    queries = RemoteAgentQueries(registry, requires.config, meter, requires.ipc)
    collector = RemoteMetricsCollector(queries, queries.timeout)
    telemetry.register_collector(collector)
    requires.lifecycle.append(Hook("remote agent metrics", on_start=collector.start, on_stop=collector.stop))
    subscribers: list[EventSubscriber] = [InvalidApiKeyLogger(meter), *requires.event_subscribers]
    return Provides(
        comp=registry,
        grpc_service=new_grpc_service(registry),
        events_service=new_events_service(EventDispatcher(registry, subscribers)),
        queries=queries,
    )
