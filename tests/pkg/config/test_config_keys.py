from __future__ import annotations

import subprocess
import sys

import pytest

from pkg.config import keys
from pkg.config.schema import declared_default, default_schema
from pkg.ipc.locate import DEFAULT_ADDRESS, DEFAULT_CMD_HOST, DEFAULT_CMD_PORT

_NAMES = {name: getattr(keys, name) for name in keys.__all__}


def test_every_name_is_a_declared_key_spelled_as_stored() -> None:
    schema = default_schema()
    for constant, key in _NAMES.items():
        spec = schema.spec(key)
        assert spec is not None, constant
        assert spec.key == key, constant


def test_every_core_declaration_has_a_name() -> None:
    declared = {spec.key for spec in default_schema() if not spec.key.startswith("remote_config.")}
    assert declared == set(_NAMES.values())


def test_declared_default_is_the_schema_default() -> None:
    schema = default_schema()
    for key in _NAMES.values():
        spec = schema.spec(key)
        assert spec is not None
        assert declared_default(key) == spec.default, key
    with pytest.raises(KeyError):
        declared_default("no_such_key")


def test_clients_locate_the_agent_with_the_declared_defaults() -> None:
    assert (
        declared_default(keys.CMD_HOST),
        declared_default(keys.CMD_PORT),
    ) == (DEFAULT_CMD_HOST, DEFAULT_CMD_PORT)
    assert DEFAULT_ADDRESS == "localhost:5001"


def test_reading_declarations_does_not_load_pydantic() -> None:
    code = "import sys, pkg.ipc.locate, pkg.config.schema; print('pydantic' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "False"
