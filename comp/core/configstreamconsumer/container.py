"""Dependency-injection wiring of the config stream consumer."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.configstreamconsumer.def_ import Params, SessionSource
from comp.core.configstreamconsumer.impl import Requires, new_component
from comp.core.telemetry import def_ as telemetry_def
from pkg.util.lifecycle import Lifecycle

__all__ = ["ConfigStreamConsumerContainer"]


class ConfigStreamConsumerContainer(containers.DeclarativeContainer):
    """Inputs: ``lifecycle``, ``telemetry`` (the telemetry component), ``params``; optional ``session``
    (the registration component, when the agent registers through it). Output: ``component``."""

    lifecycle = providers.Dependency(instance_of=Lifecycle)
    telemetry: providers.Dependency[telemetry_def.Component] = providers.Dependency()
    params = providers.Dependency(instance_of=Params)
    session: providers.Dependency[SessionSource | None] = providers.Dependency(default=providers.Object(None))
    provides = providers.Singleton(
        new_component,
        providers.Factory(Requires, lifecycle=lifecycle, telemetry=telemetry, params=params, session=session),
    )
    component = provides.provided.comp
