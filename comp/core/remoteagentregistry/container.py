"""Dependency-injection wiring of the remote agent registry."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from comp.core.remoteagentregistry.def_ import EventSubscriber
from comp.core.remoteagentregistry.impl import Requires, new_component
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["RemoteAgentRegistryContainer"]


class RemoteAgentRegistryContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``, ``telemetry``; optional ``ipc`` (to query the agents) and
    ``event_subscribers`` (a list). Outputs: ``component``, ``grpc_service``, ``events_service``,
    ``queries``."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    telemetry: providers.Dependency[telemetry_def.Component] = providers.Dependency()
    ipc: providers.Dependency[ipc_def.Component | None] = providers.Dependency(default=providers.Object(None))
    event_subscribers: providers.Dependency[Sequence[EventSubscriber]] = providers.Dependency(
        default=providers.Object(())
    )
    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires,
            lifecycle=lifecycle,
            config=config,
            telemetry=telemetry,
            ipc=ipc,
            event_subscribers=event_subscribers,
        ),
    )
    component = provides.provided.comp
    grpc_service = provides.provided.grpc_service
    events_service = provides.provided.events_service
    queries = provides.provided.queries
