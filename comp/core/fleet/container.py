"""Dependency-injection wiring of the fleet source."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.fleet.impl import Requires, new_component
from comp.core.ipc import def_ as ipc_def
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["FleetContainer"]


class FleetContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config``, ``ipc`` (the cache file's default place), ``telemetry``.
    Outputs: ``component``, ``status`` (its part of the agent's status)."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    ipc: providers.Dependency[ipc_def.Component] = providers.Dependency()
    telemetry: providers.Dependency[telemetry_def.Component] = providers.Dependency()
    provides = providers.Singleton(
        new_component,
        providers.Factory(Requires, lifecycle=lifecycle, config=config, ipc=ipc, telemetry=telemetry),
    )
    component = provides.provided.comp
    status = provides.provided.status
