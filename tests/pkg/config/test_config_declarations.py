"""Keys declared by remote agents: entry points and declaration files beside the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from comp.core.config.def_ import Params
from comp.core.config.impl import Requires, new_component
from pkg.config.declarations import (
    DECLARATIONS_DIR,
    ConfigDeclarationError,
    declare_from_entry_points,
    declare_from_files,
)
from pkg.config.errors import ConfigValueError
from pkg.config.schema import ValueType, default_schema


def _write(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "datadog.yaml"
    config.write_text("log_level: info\n", encoding="utf-8")
    directory = tmp_path / DECLARATIONS_DIR
    directory.mkdir(exist_ok=True)
    (directory / "agent.yaml").write_text(text, encoding="utf-8")
    return config


def test_a_declaration_file_types_validates_and_masks(tmp_path: Path) -> None:
    config_file = _write(
        tmp_path,
        "keys:\n"
        "  - {key: my_agent.batch, type: int, default: 5, minimum: 1, live: true, description: batch}\n"
        "  - {key: my_agent.credential, type: str, default: '', secret: true}\n"
        "open_groups:\n  - {prefix: my_agent.extra, description: anything}\n",
    )
    schema = default_schema()
    declared = declare_from_files(schema, config_file)
    assert declared[0].keys == ("my_agent.batch", "my_agent.credential", "my_agent.extra.*")
    spec = schema.spec("my_agent.batch")
    assert spec is not None and (spec.type, spec.default, spec.live) == (ValueType.INT, 5, True)
    assert schema.is_secret("my_agent.credential") and not schema.is_live("my_agent.credential")
    assert schema.is_live("my_agent.extra.anything")
    with pytest.raises(ConfigValueError, match=r"my_agent\.batch"):
        schema.validate("my_agent.batch", 0)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("keys:\n  - {key: log_level, type: str, default: x}\n", "'log_level' is already declared"),
        ("keys:\n  - {key: a.b, type: complex, default: 1}\n", "type 'complex' is not one of"),
        ("keys:\n  - {key: a.b, type: int, default: x}\n", "a.b"),
        ("keys:\n  - {key: a.b, colour: red}\n", "unknown fields ['colour']"),
        ("- just a list\n", "expected a mapping"),
        ("keys: [\n", "cannot read"),
    ],
)
def test_a_bad_declaration_stops_startup_naming_file_and_key(tmp_path: Path, text: str, reason: str) -> None:
    config_file = _write(tmp_path, text)
    with pytest.raises(ConfigDeclarationError) as err:
        declare_from_files(default_schema(), config_file)
    assert str(tmp_path / DECLARATIONS_DIR / "agent.yaml") in str(err.value)
    assert reason in str(err.value)


def test_the_sample_remote_agent_declares_its_keys_by_entry_point() -> None:
    schema = default_schema()
    origins = [d.origin for d in declare_from_entry_points(schema)]
    assert any("sample_remote_agent.keys:config_keys" in o for o in origins)
    assert schema.is_live("sample_remote_agent.greeting")


def test_the_config_component_reads_declarations_and_file_values(tmp_path: Path) -> None:
    config_file = _write(tmp_path, "keys:\n  - {key: my_agent.batch, type: int, default: 5, live: true}\n")
    config_file.write_text("my_agent:\n  batch: '7'\n", encoding="utf-8")
    config = new_component(Requires(Params(config_file=config_file, environ={"DD_MY_AGENT_BATCH": "9"}))).comp
    assert config.get("my_agent.batch") == 9
    assert config.get("sample_remote_agent.greeting") == "hello"
