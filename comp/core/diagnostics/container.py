"""Dependency-injection wiring of the diagnostics component."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.diagnostics.impl import Requires, new_component
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings import def_ as settings_def
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["DiagnosticsContainer"]


class DiagnosticsContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``, ``settings``, ``registry``, ``queries``, ``telemetry``.
    Outputs: ``component``, ``grpc_service``."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    settings: providers.Dependency[settings_def.Component] = providers.Dependency()
    registry: providers.Dependency[registry_def.Component] = providers.Dependency()
    queries: providers.Dependency[registry_def.Queries] = providers.Dependency()
    telemetry: providers.Dependency[telemetry_def.Component] = providers.Dependency()
    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires,
            lifecycle=lifecycle,
            config=config,
            settings=settings,
            registry=registry,
            queries=queries,
            telemetry=telemetry,
        ),
    )
    component = provides.provided.comp
    grpc_service = provides.provided.grpc_service
