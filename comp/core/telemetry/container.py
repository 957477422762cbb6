"""Dependency-injection wiring of the telemetry component."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.config import def_ as config_def
from comp.core.telemetry.def_ import Params
from comp.core.telemetry.impl import Requires, new_component
from pkg.util.lifecycle import Lifecycle

__all__ = ["TelemetryContainer"]


class TelemetryContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``config`` (the config component) and optional ``params``.
    Outputs: ``component``, ``status`` (its part of the agent's status)."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    config: providers.Dependency[config_def.Component] = providers.Dependency()
    params = providers.Dependency(instance_of=Params, default=Params())
    provides = providers.Singleton(
        new_component, providers.Factory(Requires, lifecycle=lifecycle, config=config, params=params)
    )
    component = provides.provided.comp
    status = provides.provided.status
