"""The root container of ``core-agent``: composes the core components and gathers contributions.

Each component's own container is composed with ``providers.Container``; what components contribute
is gathered in lists: the gRPC services for the server (``grpc_services``) and the parts of the
agent's status for the settings component (``status_providers``), so a new service or status part is
one more entry there and no change to the component that uses them. The server contributes its
status through ``server_state``, built before it: the settings service it serves can then show it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dependency_injector import containers, providers

from comp.api.grpcserver import def_ as grpcserver_def
from comp.api.grpcserver.container import GrpcServerContainer
from comp.container import build_every_component
from comp.core.config import def_ as config_def
from comp.core.config.container import ConfigContainer
from comp.core.configstream.container import ConfigStreamContainer
from comp.core.configstreamserver.container import ConfigStreamServerContainer
from comp.core.diagnostics.container import DiagnosticsContainer
from comp.core.fleet.container import FleetContainer
from comp.core.ipc import def_ as ipc_def
from comp.core.ipc.container import IpcContainer
from comp.core.log import def_ as log_def
from comp.core.log.container import LogContainer
from comp.core.remoteagentregistry.container import RemoteAgentRegistryContainer
from comp.core.remoteagentregistry.def_ import EventSubscriber
from comp.core.settings import def_ as settings_def
from comp.core.settings.container import SettingsContainer
from comp.core.telemetry import def_ as telemetry_def
from comp.core.telemetry.container import TelemetryContainer
from core_agent.locations import Locations
from pkg.util.lifecycle import Lifecycle

__all__ = ["CoreAgentContainer", "RootComponents", "build_root_container", "new_root_container"]


class CoreAgentContainer(containers.DeclarativeContainer):
    """Inputs: ``config_params`` (config file, environment, overrides) and ``ipc_params`` (state dir).

    Every component is built by :func:`build_root_container` in the order declared here (each after
    what it needs), which is the order of the lifecycle's start hooks: logging first, the IPC
    secrets before any port opens, the gRPC server last.
    """

    config_params = providers.Dependency(instance_of=config_def.Params, default=config_def.Params())
    ipc_params = providers.Dependency(instance_of=ipc_def.Params, default=ipc_def.Params())
    lifecycle = providers.Singleton(Lifecycle)

    config = providers.Container(ConfigContainer, params=config_params)
    log = providers.Container(LogContainer, lifecycle=lifecycle, config=config.component)
    ipc = providers.Container(IpcContainer, lifecycle=lifecycle, config=config.component, params=ipc_params)
    telemetry = providers.Container(
        TelemetryContainer,
        lifecycle=lifecycle,
        config=config.component,
        params=telemetry_def.Params(program="core_agent"),
    )
    # Receivers of the events remote agents report, contributed like the gRPC services (the
    # registry's own subscriber, which logs and counts invalid API keys, always comes first).
    event_subscribers: providers.Provider[list[EventSubscriber]] = providers.List()
    registry = providers.Container(
        RemoteAgentRegistryContainer,
        lifecycle=lifecycle,
        config=config.component,
        telemetry=telemetry.component,
        ipc=ipc.component,
        event_subscribers=event_subscribers,
    )
    configstream = providers.Container(
        ConfigStreamContainer, lifecycle=lifecycle, config=config.component, telemetry=telemetry.component
    )
    configstream_server = providers.Container(
        ConfigStreamServerContainer,
        lifecycle=lifecycle,
        config=config.component,
        configstream=configstream.component,
        registry=registry.component,
    )
    fleet = providers.Container(
        FleetContainer,
        lifecycle=lifecycle,
        config=config.component,
        ipc=ipc.component,
        telemetry=telemetry.component,
    )
    server_state = providers.Singleton(grpcserver_def.ServingState)
    status_providers = providers.List(server_state.provided.status, fleet.status, telemetry.status)
    settings = providers.Container(
        SettingsContainer,
        lifecycle=lifecycle,
        config=config.component,
        registry=registry.component,
        configstream=configstream.component,
        status_providers=status_providers,
    )
    diagnostics = providers.Container(
        DiagnosticsContainer,
        lifecycle=lifecycle,
        config=config.component,
        settings=settings.component,
        registry=registry.component,
        queries=registry.queries,
        telemetry=telemetry.component,
    )
    grpc_services = providers.List(
        registry.grpc_service,
        registry.events_service,
        configstream_server.grpc_service,
        settings.grpc_service,
        diagnostics.grpc_service,
    )
    grpc_server = providers.Container(
        GrpcServerContainer,
        lifecycle=lifecycle,
        config=config.component,
        ipc=ipc.component,
        services=grpc_services,
        state=server_state,
    )


@dataclass(frozen=True)
class RootComponents:
    """The built components ``core-agent run`` uses directly."""

    lifecycle: Lifecycle
    config: config_def.Component
    log: log_def.Component
    ipc: ipc_def.Component
    settings: settings_def.Component
    server: grpcserver_def.Component


def new_root_container(locations: Locations) -> CoreAgentContainer:
    """The container for a config file (or the embedded one) and, if any, a state directory."""
    return CoreAgentContainer(
        config_params=config_def.Params(
            config_file=locations.config_file, overrides=locations.secret_overrides()
        ),
        ipc_params=ipc_def.Params(state_dir=locations.state_dir),
    )


def build_root_container(container: CoreAgentContainer) -> RootComponents:
    """Build every component (see :class:`CoreAgentContainer` for the order). Raises what a
    constructor raises."""
    build_every_component(container)
    return RootComponents(
        lifecycle=container.lifecycle(),
        config=container.config.component(),
        log=container.log.component(),
        ipc=container.ipc.component(),
        settings=container.settings.component(),
        server=container.grpc_server.component(),
    )
