"""config set refuses what it cannot do: undeclared keys, keys read only at startup."""

from __future__ import annotations

from pathlib import Path

import pytest

from comp.core.config.mock import new_mock as new_config_mock
from comp.core.settings.def_ import SettingsValueError
from comp.core.settings.impl.runtime_settings import RuntimeSettings
from pkg.config.schema import KeySpec, ValueType, default_schema


def _settings() -> RuntimeSettings:
    schema = default_schema()
    schema.declare(KeySpec("other_agent.batch", ValueType.INT, 10, live=True, description="batch size"))
    schema.declare_open_group("other_agent.extra", "free-form")
    config = new_config_mock(schema=schema, config_file=Path("/etc/dd/datadog.yaml"))
    return RuntimeSettings(config)


def test_a_typo_is_refused_naming_the_close_match() -> None:
    settings = _settings()
    before = settings.list()
    with pytest.raises(SettingsValueError, match=r"^unknown setting 'log_levl': did you mean log_level"):
        settings.set_from_text({"log_levl": "debug"})
    assert settings.list() == before


def test_a_key_without_close_match_is_refused_plainly() -> None:
    with pytest.raises(SettingsValueError, match=r"^unknown setting 'zzz\.qqq'$"):
        _settings().set_from_text({"zzz.qqq": "1"})


def test_a_startup_key_needs_a_restart_and_nothing_changes() -> None:
    settings = _settings()
    before = settings.list()
    message = (
        "'cmd_port' needs a restart: set it in /etc/dd/datadog.yaml (or DD_CMD_PORT) and restart the agent"
    )
    with pytest.raises(SettingsValueError) as err:
        settings.set_from_text({"log_level": "debug", "cmd_port": "6000"})
    assert str(err.value) == message
    assert settings.list() == before


def test_live_keys_apply_and_declared_remote_keys_are_typed() -> None:
    settings = _settings()
    settings.set_from_text({"log_level": "debug", "other_agent.batch": "20", "other_agent.extra.x": "[1]"})
    view = settings.get("other_agent.batch")
    assert view is not None and (view.value, view.source, view.live) == (20, "agent-runtime", True)
    with pytest.raises(SettingsValueError, match=r"other_agent\.batch"):
        settings.set_from_text({"other_agent.batch": "many"})


def test_list_live_only_names_the_runtime_keys_with_descriptions() -> None:
    views, _ = _settings().list(live_only=True)
    by_key = {v.key: v for v in views}
    assert {"log_level", "api_key", "other_agent.batch"} <= set(by_key)
    assert not {"cmd_port", "telemetry.port", "config_limits.value_max_bytes"} & set(by_key)
    assert by_key["other_agent.batch"].description == "batch size"
    assert all(v.live for v in views)
