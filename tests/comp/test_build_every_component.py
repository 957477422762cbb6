"""build_every_component: a component nothing depends on is built too, in declaration order."""

from __future__ import annotations

from dataclasses import dataclass

from dependency_injector import containers, providers

from comp.container import build_every_component
from pkg.util.lifecycle import Hook, Lifecycle


@dataclass(frozen=True)
class _Provides:
    comp: str


def _component(lifecycle: Lifecycle, name: str, needs: str = "") -> _Provides:
    lifecycle.append(Hook(name))
    return _Provides(comp=name)


class _Child(containers.DeclarativeContainer):
    lifecycle = providers.Dependency(instance_of=Lifecycle)
    name = providers.Dependency(instance_of=str)
    needs: providers.Dependency[str] = providers.Dependency(default=providers.Object(""))
    provides = providers.Singleton(_component, lifecycle, name, needs)
    component = provides.provided.comp


class _Root(containers.DeclarativeContainer):
    lifecycle = providers.Singleton(Lifecycle)
    first = providers.Container(_Child, lifecycle=lifecycle, name="first")
    second = providers.Container(_Child, lifecycle=lifecycle, name="second")
    needs_first = providers.Container(_Child, lifecycle=lifecycle, name="needs first", needs=first.component)
    unused = providers.Container(_Child, lifecycle=lifecycle, name="unused")
    standalone = providers.Singleton(_component, lifecycle, "standalone")


def test_every_component_is_built_once_in_declaration_order() -> None:
    root = _Root()
    root.second.provides()  # already built by something else: keeps its place
    build_every_component(root)
    build_every_component(root)  # singletons: nothing is built twice
    assert root.lifecycle().hook_names == ["second", "first", "needs first", "unused", "standalone"]
