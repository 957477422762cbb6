"""Dependency-injection wiring of the config component."""

from __future__ import annotations

from dependency_injector import containers, providers

from comp.core.config.def_ import Params
from comp.core.config.impl import Requires, new_component
from pkg.config.schema import Schema, default_schema

__all__ = ["ConfigContainer"]


class ConfigContainer(containers.DeclarativeContainer):
    """Inputs: ``params`` (default ``Params()``) and ``schema`` (default: a fresh default schema).

    Output: ``component``, the config (a singleton).
    """

    params = providers.Dependency(instance_of=Params, default=Params())
    schema = providers.Dependency(instance_of=Schema, default=providers.Factory(default_schema))
    provides = providers.Singleton(new_component, providers.Factory(Requires, params=params, schema=schema))
    component = provides.provided.comp
