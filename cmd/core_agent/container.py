"""The root container of ``core-agent``: composes the core components and gathers gRPC services.

Each component's own container is composed with ``providers.Container``; the gRPC services the
components contribute are gathered in ``grpc_services`` (a ``providers.List``) for the server, so a
new service is one more entry there and no change to the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dependency_injector import containers, providers

from comp.api.grpcserver import def_ as grpcserver_def
from comp.api.grpcserver.container import GrpcServerContainer
from comp.core.config import def_ as config_def
from comp.core.config.container import ConfigContainer
from comp.core.configstream.container import ConfigStreamContainer
from comp.core.configstreamserver.container import ConfigStreamServerContainer
from comp.core.diagnostics.container import DiagnosticsContainer
from comp.core.fleet import def_ as fleet_def
from comp.core.fleet.container import FleetContainer
from comp.core.ipc import def_ as ipc_def
from comp.core.ipc.container import IpcContainer
from comp.core.log import def_ as log_def
from comp.core.log.container import LogContainer
from comp.core.remoteagentregistry.container import RemoteAgentRegistryContainer
from comp.core.remoteagentregistry.impl import RemoteMetricsCollector, new_invalid_api_key_logger
from comp.core.settings import def_ as settings_def
from comp.core.settings.container import SettingsContainer
from comp.core.telemetry.container import TelemetryContainer
from comp.core.telemetry.impl import Telemetry
from core_agent.locations import Locations
from pkg.util.lifecycle import Lifecycle

__all__ = ["CoreAgentContainer", "RootComponents", "build_root_container", "new_root_container"]


def _server_address(root: Any) -> Callable[[], str]:
    """The bound address of the gRPC server, looked up when asked (the server is built after the
    settings service it serves, so it cannot be passed as a value)."""
    return lambda: str(root.grpc_server.component().address)


def _fleet_status(fleet: fleet_def.Component) -> Callable[[], dict[str, Any]]:
    return lambda: fleet.status().as_dict()


def _server_health(root: Any) -> Callable[[], str]:
    """The gRPC server's health state, looked up when asked (as for ``_server_address``)."""
    return lambda: str(root.grpc_server.component().health)


def _metrics_url(telemetry: Telemetry) -> Callable[[], str | None]:
    return lambda: telemetry.url


def _serve_remote_metrics(telemetry: Telemetry, collector: RemoteMetricsCollector) -> RemoteMetricsCollector:
    """Remote agents' series in the core's ``/metrics``."""
    telemetry.register_collector(collector)
    return collector


class CoreAgentContainer(containers.DeclarativeContainer):
    """Inputs: ``config_params`` (config file, environment, overrides) and ``ipc_params`` (state dir)."""

    __self__ = providers.Self()

    config_params = providers.Dependency(instance_of=config_def.Params, default=config_def.Params())
    ipc_params = providers.Dependency(instance_of=ipc_def.Params, default=ipc_def.Params())
    lifecycle = providers.Singleton(Lifecycle)

    config = providers.Container(ConfigContainer, params=config_params)
    log = providers.Container(LogContainer, lifecycle=lifecycle, config=config.component)
    telemetry = providers.Container(
        TelemetryContainer, lifecycle=lifecycle, config=config.component, program="core_agent"
    )
    ipc = providers.Container(IpcContainer, lifecycle=lifecycle, config=config.component, params=ipc_params)
    registry_event_subscribers = providers.List(
        providers.Singleton(new_invalid_api_key_logger, telemetry.component),
    )
    registry = providers.Container(
        RemoteAgentRegistryContainer,
        lifecycle=lifecycle,
        config=config.component,
        telemetry=telemetry.component,
        ipc=ipc.component,
        event_subscribers=registry_event_subscribers,
    )
    remote_metrics = providers.Singleton(
        _serve_remote_metrics, telemetry.component, registry.metrics_collector
    )
    configstream = providers.Container(
        ConfigStreamContainer, lifecycle=lifecycle, config=config.component, telemetry=telemetry.component
    )
    fleet = providers.Container(
        FleetContainer,
        lifecycle=lifecycle,
        config=config.component,
        ipc=ipc.component,
        telemetry=telemetry.component,
    )
    configstream_server = providers.Container(
        ConfigStreamServerContainer,
        lifecycle=lifecycle,
        config=config.component,
        configstream=configstream.component,
        registry=registry.component,
    )
    settings = providers.Container(
        SettingsContainer,
        lifecycle=lifecycle,
        config=config.component,
        registry=registry.component,
        configstream=configstream.component,
        listen_address=providers.Callable(_server_address, __self__),
        fleet_status=providers.Callable(_fleet_status, fleet.component),
        health=providers.Callable(_server_health, __self__),
        metrics_url=providers.Callable(_metrics_url, telemetry.component),
    )
    diagnostics = providers.Container(
        DiagnosticsContainer,
        lifecycle=lifecycle,
        config=config.component,
        settings=settings.component,
        registry=registry.component,
        queries=registry.queries,
        metrics_url=providers.Callable(_metrics_url, telemetry.component),
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
    """Build every component; their lifecycle hooks are appended in dependency order.

    Logging is built first so that it starts first and stops last. Raises what a constructor raises.
    """
    log = container.log.component()
    container.remote_metrics()
    container.fleet.component()
    server = container.grpc_server.component()
    return RootComponents(
        lifecycle=container.lifecycle(),
        config=container.config.component(),
        log=log,
        ipc=container.ipc.component(),
        settings=container.settings.component(),
        server=server,
    )
