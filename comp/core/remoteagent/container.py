"""Dependency-injection wiring of the remote agent component."""

from __future__ import annotations

from collections.abc import Sequence

from dependency_injector import containers, providers

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagent.def_ import Params
from comp.core.remoteagent.impl import Requires, new_component
from pkg.util.lifecycle import Lifecycle

__all__ = ["RemoteAgentContainer"]


class RemoteAgentContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``params``, ``services`` (a list of contributions). Output: ``component``."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    params = providers.Dependency(instance_of=Params)
    services: providers.Dependency[Sequence[GrpcService]] = providers.Dependency(default=providers.Object(()))
    provides = providers.Singleton(
        new_component, providers.Factory(Requires, lifecycle=lifecycle, params=params, services=services)
    )
    component = provides.provided.comp
