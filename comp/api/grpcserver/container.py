"""Dependency-injection wiring of the IPC gRPC server."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.api.grpcserver.def_ import Params, ServingState
from comp.api.grpcserver.impl import Requires, new_component
from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["GrpcServerContainer"]


class GrpcServerContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``, ``ipc``, ``services`` (a list of GrpcService); optional
    ``params`` and ``state`` (where the server publishes its address and health: give it to show them
    in a status served by one of the services). Outputs: ``component``, ``status`` (its status part)."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    ipc: providers.Dependency[ipc_def.Component] = providers.Dependency()
    services = providers.Dependency(instance_of=list)
    params = providers.Dependency(instance_of=Params, default=Params())

    state = providers.Dependency(instance_of=ServingState, default=providers.Singleton(ServingState))
    provides = providers.Singleton(
        new_component,
        providers.Factory(
            Requires,
            lifecycle=lifecycle,
            config=config,
            ipc=ipc,
            services=services,
            params=params,
            state=state,
        ),
    )
    component = provides.provided.comp
    status = state.provided.status
