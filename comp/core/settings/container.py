"""Dependency-injection wiring of the runtime settings component."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings.impl import Requires, new_component
from pkg.util.lifecycle import Lifecycle

__all__ = ["SettingsContainer"]


class SettingsContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``; optional ``registry``, ``configstream`` and
    ``listen_address`` (a callable returning the IPC server's bound address), ``health`` (one returning
    its health state) and ``metrics_url`` (one returning the telemetry URL or None)."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    registry: providers.Dependency[registry_def.Component | None] = providers.Dependency(
        default=providers.Object(None)
    )
    configstream: providers.Dependency[configstream_def.Component | None] = providers.Dependency(
        default=providers.Object(None)
    )
    listen_address: providers.Dependency[Callable[[], str] | None] = providers.Dependency(
        default=providers.Object(None)
    )
    fleet_status: providers.Dependency[Callable[[], Mapping[str, Any]] | None] = providers.Dependency(
        default=providers.Object(None)
    )
    health: providers.Dependency[Callable[[], str] | None] = providers.Dependency(
        default=providers.Object(None)
    )
    metrics_url: providers.Dependency[Callable[[], str | None] | None] = providers.Dependency(
        default=providers.Object(None)
    )

    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires,
            lifecycle=lifecycle,
            config=config,
            registry=registry,
            configstream=configstream,
            listen_address=listen_address,
            fleet_status=fleet_status,
            health=health,
            metrics_url=metrics_url,
        ),
    )
    component = provides.provided.comp
    grpc_service = provides.provided.grpc_service
