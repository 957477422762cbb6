"""Reloading the file and the environment into a running config (the real config model)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pkg.config.change import ConfigChange
from pkg.config.errors import ConfigFileError, ConfigLimitError, ConfigValueError
from pkg.config.loader import build_config
from pkg.config.model import LayeredConfig
from pkg.config.reload import diff_source, reload_sources
from pkg.config.schema import default_schema
from pkg.config.sources import Source


def _config(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> tuple[LayeredConfig, Path]:
    path = tmp_path / "datadog.yaml"
    path.write_text(text, encoding="utf-8")
    return build_config(default_schema(), path, environ or {}), path


def _changes(config: LayeredConfig) -> list[ConfigChange]:
    seen: list[ConfigChange] = []
    config.on_update(seen.append)
    return seen


def test_diff_sets_changed_values_unsets_gone_keys_and_holds_back_restart_keys() -> None:
    held = {"log_level": "info", "hostname": "a", "tags": ["x"], "cmd_host": "localhost"}
    read = {"log_level": "debug", "tags": ["x"], "site": "datadoghq.eu", "cmd_host": "0.0.0.0"}
    changes = diff_source(default_schema(), Source.FILE, held, read)
    assert changes.set == {"log_level": "debug", "site": "datadoghq.eu"}
    assert changes.unset == ("hostname",)
    assert changes.restart_required == ("cmd_host",)
    assert changes.keys == ("hostname", "log_level", "site")


def test_diff_of_the_same_values_is_empty_and_a_type_change_counts() -> None:
    same = diff_source(default_schema(), Source.FILE, {"tags": ["a"], "x": 1}, {"tags": ["a"], "x": 1})
    assert (same.set, same.unset, same.restart_required) == ({}, (), ())
    retyped = diff_source(default_schema(), Source.FILE, {"x": 1}, {"x": True})
    assert retyped.set == {"x": True}


def test_reload_applies_file_changes_at_source_file_as_ordinary_changes(tmp_path: Path) -> None:
    config, path = _config(tmp_path, "log_level: info\nhostname: old\nsite: datadoghq.eu\n")
    seen = _changes(config)
    before = config.sequence_id
    path.write_text("log_level: debug\nsite: datadoghq.eu\ntags: [a, b]\n", encoding="utf-8")

    report = reload_sources(config, path, {})

    assert report.applied == ("hostname", "log_level", "tags")
    assert report.restart_required == ()
    assert report.sequence_id == config.sequence_id == before + 3
    assert (config.get("log_level"), config.get_source("log_level")) == ("debug", Source.FILE)
    assert config.get("tags") == ["a", "b"]
    assert config.get_source("hostname") == Source.DEFAULT
    assert sorted(c.key for c in seen) == ["hostname", "log_level", "tags"]


def test_reload_of_an_unchanged_file_changes_nothing(tmp_path: Path) -> None:
    config, path = _config(tmp_path, "log_level: warn\n", {"DD_HOSTNAME": "h"})
    before = config.sequence_id
    report = reload_sources(config, path, {"DD_HOSTNAME": "h"})
    assert (report.applied, report.restart_required, report.sequence_id) == ((), (), before)


def test_the_environment_is_applied_at_its_own_source_and_still_wins(tmp_path: Path) -> None:
    config, path = _config(tmp_path, "log_level: info\n", {"DD_LOG_LEVEL": "warn"})
    path.write_text("log_level: debug\n", encoding="utf-8")
    report = reload_sources(config, path, {"DD_LOG_LEVEL": "error"})
    assert report.applied == ("log_level",)
    assert config.all_settings_by_source()[Source.FILE]["log_level"] == "debug"
    assert (config.get("log_level"), config.get_source("log_level")) == ("error", Source.ENVIRONMENT_VARIABLE)


def test_a_restart_only_key_is_reported_and_not_applied(tmp_path: Path) -> None:
    config, path = _config(tmp_path, "cmd_port: 5001\nlog_level: info\n")
    path.write_text("cmd_port: 6001\nlog_level: debug\n", encoding="utf-8")
    report = reload_sources(config, path, {})
    assert report.restart_required == ("cmd_port",)
    assert report.applied == ("log_level",)
    assert config.get("cmd_port") == 5001
    assert config.get("log_level") == "debug"


@pytest.mark.parametrize(
    ("text", "error", "named"),
    [
        ("log_level: [unclosed\n", ConfigFileError, "datadog.yaml"),
        ("log_level: debug\ncmd_port: many\n", ConfigValueError, "cmd_port"),
    ],
)
def test_an_invalid_file_raises_and_changes_nothing(
    tmp_path: Path, text: str, error: type[Exception], named: str
) -> None:
    config, path = _config(tmp_path, "log_level: info\nhostname: h\n")
    seen = _changes(config)
    before = config.all_settings_by_source()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=named):
        reload_sources(config, path, {})
    assert config.all_settings_by_source() == before
    assert seen == []


class _RefusingEnvironment:
    """The real config, except that it refuses any change at source environment-variable."""

    def __init__(self, config: LayeredConfig) -> None:
        self.config = config
        self.schema = config.schema
        self.all_settings_by_source = config.all_settings_by_source
        self.unset_for_source = config.unset_for_source

    @property
    def sequence_id(self) -> int:
        return self.config.sequence_id

    def set_many(self, values: Mapping[str, Any], source: Source) -> None:
        if source is Source.ENVIRONMENT_VARIABLE:
            raise ConfigLimitError("", "refused for the test", limit="x", maximum=0)
        self.config.set_many(values, source)


def test_a_refused_change_puts_back_what_was_applied_before(tmp_path: Path) -> None:
    config, path = _config(tmp_path, "hostname: a\nsite: datadoghq.eu\nlog_level: info\n")
    before = config.all_settings_by_source()
    path.write_text("hostname: b\nlog_level: info\ntags: [t]\n", encoding="utf-8")
    with pytest.raises(ConfigLimitError, match="refused for the test"):
        reload_sources(_RefusingEnvironment(config), path, {"DD_LOG_LEVEL": "debug"})
    assert config.all_settings_by_source() == before
    assert (config.get("hostname"), config.get("site"), config.get("tags")) == ("a", "datadoghq.eu", [])


def test_undeclared_variables_reload_as_they_started_one_over_a_limit_stays_out(tmp_path: Path) -> None:
    environ = {"DD_HUGE": "x" * (2 * 1024 * 1024), "DD_MY_MODE": "fast"}
    config, path = _config(tmp_path, "log_level: info\n", environ)
    path.write_text("log_level: debug\n")

    reload_sources(config, path, environ)

    assert config.get("log_level") == "debug"
    assert config.all_settings_by_source()[Source.ENVIRONMENT_VARIABLE] == {"my_mode": "fast"}
