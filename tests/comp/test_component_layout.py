"""Every component follows the layout and convention of ARCHITECTURE.md: a new component that does not
fails here, naming what is missing."""

from __future__ import annotations

import importlib
import typing
from pathlib import Path
from typing import Protocol

import pytest

_COMP = Path(__file__).resolve().parents[2] / "comp"
COMPONENTS = sorted(
    ".".join(path.relative_to(_COMP.parent).parts)
    for path in _COMP.glob("*/*")
    if path.is_dir() and (path / "def_").is_dir()
)


def test_every_component_directory_is_found() -> None:
    bundles = {path.parent.parent.name for path in _COMP.glob("*/*/def_")}
    assert bundles == {"api", "core"}
    assert "comp.core.configstream" in COMPONENTS and len(COMPONENTS) >= 10


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_component_has_a_definition_implementation_mock_and_container(component: str) -> None:
    directory = _COMP.parent.joinpath(*component.split("."))
    missing = [
        part
        for part in (
            "__init__.py",
            "def_/__init__.py",
            "impl/__init__.py",
            "mock/__init__.py",
            "container.py",
        )
        if not (directory / part).is_file()
    ]
    assert not missing, f"{component} lacks {missing}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_definition_is_a_protocol_and_the_implementation_exports_only_its_constructor(
    component: str,
) -> None:
    definition = importlib.import_module(f"{component}.def_")
    assert issubclass(definition.Component, Protocol), f"{component}.def_.Component is not a Protocol"
    impl = importlib.import_module(f"{component}.impl")
    assert sorted(impl.__all__) == ["Provides", "Requires", "new_component"], component
    provided = typing.get_type_hints(impl.Provides)["comp"]
    assert provided is definition.Component, f"{component}: Provides.comp is {provided}, not def_.Component"
    assert "lifecycle" in typing.get_type_hints(impl.Requires) or component.endswith(".config"), component
