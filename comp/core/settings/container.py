"""Dependency-injection wiring of the runtime settings component."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.remoteagentregistry import def_ as registry_def
from comp.core.settings.def_ import StatusProvider
from comp.core.settings.impl import Requires, new_component
from pkg.util.lifecycle import Lifecycle

__all__ = ["SettingsContainer"]


class SettingsContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``; optional ``registry``, ``configstream`` and
    ``status_providers`` (a list of contributions). Outputs: ``component``, ``grpc_service``."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    registry: providers.Dependency[registry_def.Component | None] = providers.Dependency(
        default=providers.Object(None)
    )
    configstream: providers.Dependency[configstream_def.Component | None] = providers.Dependency(
        default=providers.Object(None)
    )
    status_providers: providers.Dependency[Sequence[StatusProvider]] = providers.Dependency(
        default=providers.Object(())
    )
    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires,
            lifecycle=lifecycle,
            config=config,
            registry=registry,
            configstream=configstream,
            status_providers=status_providers,
        ),
    )
    component = provides.provided.comp
    grpc_service = provides.provided.grpc_service
