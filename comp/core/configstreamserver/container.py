"""Dependency-injection wiring of the ``StreamConfigEvents`` handler."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.configstream import def_ as configstream_def
from comp.core.configstreamserver.impl import Requires, new_component
from comp.core.remoteagentregistry import def_ as registry_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["ConfigStreamServerContainer"]


class ConfigStreamServerContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``, ``configstream``, ``registry``.

    Outputs: ``component`` and ``grpc_service`` (for the server's list of services).
    """

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    configstream: providers.Dependency[configstream_def.Component] = providers.Dependency()
    registry: providers.Dependency[registry_def.Component] = providers.Dependency()
    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires, lifecycle=lifecycle, config=config, configstream=configstream, registry=registry
        ),
    )
    component = provides.provided.comp
    grpc_service = provides.provided.grpc_service
