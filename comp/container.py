"""What every binary's root container shares: building all of its components at once.

A component is constructed only when something asks for it, so one that nothing depends on would
never be built and would silently never start. A binary builds its whole root instead.
"""

from __future__ import annotations

from dependency_injector import containers, providers

__all__ = ["build_every_component"]


def build_every_component(root: containers.Container) -> None:
    """Build every component of ``root`` (each ``providers.Container`` through its ``provides``)
    and every singleton, in the order the root declares them.

    Each is built after what it depends on, so the lifecycle hooks the constructors append are in
    dependency order, and that order is fixed by the root's declarations. Raises what a constructor
    raises.
    """
    for provider in root.providers.values():
        if isinstance(provider, providers.Container):
            provider.provides()
        elif isinstance(provider, providers.Singleton):
            provider()
