from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from pkg.config.errors import ConfigFileError, ConfigKeyError, ConfigLimitError, ConfigValueError
from pkg.config.limits import CONFIG_FILE_MAX_BYTES
from pkg.config.loader import (
    build_config,
    env_var_name,
    environment_left_out,
    read_environment,
    read_yaml_file,
)
from pkg.config.safe_yaml import MAX_ALIAS_NODES, MAX_DEPTH
from pkg.config.schema import KeySpec, ValueType, default_schema
from pkg.config.sources import Source

DATADOG_YAML = """\
# The agent's settings
cmd_port: 6000
Remote_Agent_Registry:
  idle_timeout: 5s
config_stream:
  sleep_interval: 50ms
logs_config:
  enabled: yes
  custom:
    batch: 3
hostname:
tags: [env:dev, "service:x"]
"""


def write(tmp_path: Path, text: str, name: str = "datadog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_file_env_and_cli_layer_in_order(tmp_path: Path) -> None:
    path = write(tmp_path, DATADOG_YAML)
    environ = {"DD_CMD_PORT": "7000", "DD_LOG_LEVEL": "debug", "DD_TAGS": "a b", "DD_UNDECLARED": "x"}
    config = build_config(default_schema(), path, environ, {"log_level": "warn", "api_key": "k"})

    assert config.config_file_used() == path
    assert (config.get_int("cmd_port"), config.get_source("cmd_port")) == (7000, Source.ENVIRONMENT_VARIABLE)
    assert (config.get("log_level"), config.get_source("log_level")) == ("warn", Source.CLI)
    assert config.get_duration("remote_agent.registry.idle_timeout") == timedelta(seconds=5)
    assert config.get_source("remote_agent.configstream.sleep_interval") is Source.FILE
    assert config.get_duration("config_stream.sleep_interval") == timedelta(milliseconds=50)
    assert config.get("logs_config") == {"enabled": True, "custom": {"batch": 3}}
    assert (config.get("hostname"), config.get_source("hostname")) == ("", Source.DEFAULT)  # null: skipped
    assert config.get_string_list("tags") == ["a", "b"]
    assert config.all_settings_by_source()[Source.FILE]["tags"] == ["env:dev", "service:x"]
    assert (config.get("undeclared"), config.get_source("undeclared")) == ("x", Source.ENVIRONMENT_VARIABLE)
    assert config.is_secret("api_key")


def test_undeclared_variables_are_kept_as_text_unless_they_clash(tmp_path: Path) -> None:
    path = write(tmp_path, "my_agent:\n  extra: 1\n")
    environ = {
        "DD_MY_SETTING": "8",  # kept as the text given: nothing says it is a number
        "DD_LOGS_CONFIG": "x",  # a group of declared keys
        "DD_MY_AGENT": "y",  # the file's group
        "DD_": "z",  # no key name
        "DD_EMPTY": "",
        "NOT_DD_THING": "w",
    }
    config = build_config(default_schema(), path, environ)
    held = config.all_settings_by_source()[Source.ENVIRONMENT_VARIABLE]
    assert held == {"my_setting": "8"}
    assert config.get("my_agent") == {"extra": 1}
    assert environment_left_out(environ, default_schema(), held) == ["DD_", "DD_LOGS_CONFIG", "DD_MY_AGENT"]


def test_an_undeclared_variable_over_a_size_limit_is_left_out_not_fatal() -> None:
    environ = {"DD_HUGE": "x" * (2 * 1024 * 1024), "DD_SMALL": "ok"}
    config = build_config(default_schema(), None, environ)
    held = config.all_settings_by_source()[Source.ENVIRONMENT_VARIABLE]
    assert held == {"small": "ok"}
    assert environment_left_out(environ, default_schema(), held) == ["DD_HUGE"]


def test_without_inputs_only_defaults() -> None:
    config = build_config()
    assert config.config_file_used() is None
    assert not any(config.all_settings_by_source()[s] for s in Source if s is not Source.DEFAULT)


def test_environment_names_and_aliases() -> None:
    assert env_var_name("remote_agent.registry.idle_timeout") == "DD_REMOTE_AGENT_REGISTRY_IDLE_TIMEOUT"
    schema = default_schema()
    schema.declare(KeySpec("new_name", ValueType.INT, 1, aliases=("old_name",)))
    assert read_environment({"DD_CONFIG_STREAM_SLEEP_INTERVAL": "1s", "DD_OLD_NAME": "2"}, schema) == {
        "remote_agent.configstream.sleep_interval": "1s",
        "new_name": 2,
    }
    # The canonical name wins over an alias; empty variables are ignored.
    env = {"DD_NEW_NAME": "3", "DD_OLD_NAME": "2", "DD_HOSTNAME": ""}
    assert read_environment(env, schema) == {"new_name": 3}


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigValueError) as info:
        build_config(None, None, {"DD_REMOTE_AGENT_REGISTRY_ENABLED": "perhaps"})
    assert str(info.value) == (
        "invalid value for 'remote_agent.registry.enabled' (from environment variable "
        "DD_REMOTE_AGENT_REGISTRY_ENABLED): 'perhaps', expected a boolean (true or false)"
    )


def test_bad_value_in_file_names_file_line_key_value_and_type(tmp_path: Path) -> None:
    path = write(tmp_path, "site: x\n\nremote_agent:\n  registry:\n    idle_timeout: soon\n")
    with pytest.raises(ConfigValueError) as info:
        build_config(None, path)
    message = str(info.value)
    assert f"'remote_agent.registry.idle_timeout' (from {path}:5): 'soon', expected a duration" in message
    assert info.value.origin == f"{path}:5"


def test_wrong_shape_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "cmd_port:\n  nested: 1\n")
    with pytest.raises(ConfigValueError, match=r"'cmd_port' \(from .*datadog.yaml:1\): \{'nested': 1\}"):
        read_yaml_file(path, default_schema())


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(ConfigFileError) as info:
        build_config(None, path)
    assert info.value.path == str(path)
    assert info.value.line == 3
    assert str(info.value).startswith(f"config file {path}:3: invalid YAML")


def test_several_documents_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\n---\nb: 2\n")
    with pytest.raises(ConfigFileError, match="invalid YAML"):
        read_yaml_file(path, default_schema())


@pytest.mark.parametrize(
    ("text", "kind", "line"), [("- a\n- b\n", "a list", 1), ("\n# c\n42\n", "the value 42", 3)]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError, match=f"top level must be a mapping of settings, not {kind}") as info:
        read_yaml_file(path, default_schema())
    assert info.value.line == line


def test_bad_key_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n  '': 1\n")
    with pytest.raises(ConfigFileError, match=r"datadog.yaml:2: invalid key 'a\.'"):
        read_yaml_file(path, default_schema())


def test_empty_and_comment_only_files_hold_nothing(tmp_path: Path) -> None:
    assert read_yaml_file(write(tmp_path, ""), default_schema()) == {}
    assert read_yaml_file(write(tmp_path, "# nothing\n"), default_schema()) == {}


def test_missing_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read: No such file or directory"):
        build_config(None, tmp_path / "absent.yaml")
    with pytest.raises(ConfigFileError, match="cannot read"):
        build_config(None, tmp_path)  # a directory
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigFileError, match="not UTF-8 text"):
        build_config(None, binary)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\n")
    path.chmod(0)
    with pytest.raises(ConfigFileError, match="cannot read: Permission denied"):
        build_config(None, path)


def test_bad_override_and_bad_key_in_overrides() -> None:
    with pytest.raises(ConfigValueError, match=r"'cmd_port' \(from command line\): 'x'"):
        build_config(None, None, None, {"cmd_port": "x"})
    with pytest.raises(ConfigKeyError):
        build_config(None, None, None, {"": 1})


def test_unacceptable_characters_and_complex_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"yaml:2: invalid YAML: unacceptable character #x0007"):
        read_yaml_file(write(tmp_path, "z: 1\na: \x07\n"), default_schema())
    with pytest.raises(ConfigFileError, match="unhashable key") as info:
        read_yaml_file(write(tmp_path, "b: 1\n? [x, y]\n: 1\n"), default_schema())
    assert info.value.line == 2


def test_a_file_over_the_byte_limit_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    with path.open("wb") as stream:
        stream.truncate(CONFIG_FILE_MAX_BYTES + 1)  # sparse: 16 MiB + 1 of NUL bytes
    with pytest.raises(ConfigFileError) as info:
        build_config(default_schema(), path, {})
    assert (
        str(info.value)
        == f"config file {path}: bigger than {CONFIG_FILE_MAX_BYTES} bytes, the limit of a config file"
    )
    path.write_text("a: 1\n" * 20, encoding="utf-8")  # 100 bytes
    assert read_yaml_file(path, default_schema(), max_bytes=100) == {"a": 1}
    with pytest.raises(ConfigFileError, match="bigger than 99 bytes"):
        read_yaml_file(path, default_schema(), max_bytes=99)


def test_a_file_whose_aliases_expand_too_far_is_refused_with_the_line(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x,x,x,x,x,x,x,x,x]"]
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigFileError) as info:
        build_config(default_schema(), path, {})
    assert (
        str(info.value) == f"config file {path}:5: YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"
    )


@pytest.mark.parametrize(
    ("text", "reason", "line"),
    [
        ("ok: 1\nloop: &l [a, *l]\n", r"alias \*l lies inside the node it names", 2),
        ("deep: " + "[" * 10_000 + "]" * 10_000 + "\n", f"YAML nested deeper than {MAX_DEPTH} levels", 1),
        ("deep:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), "YAML nested deeper than", None),
    ],
)
def test_recursive_and_deep_files_are_refused_clearly(
    tmp_path: Path, text: str, reason: str, line: int | None
) -> None:
    with pytest.raises(ConfigFileError, match=reason) as info:
        build_config(default_schema(), write(tmp_path, text), {})
    if line is not None:
        assert info.value.line == line


def test_anchors_and_aliases_within_bounds_are_read_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "base: &tags [a, b]\ntags: *tags\ncustom:\n  <<: {x: 1}\n  y: *tags\n")
    config = build_config(default_schema(), path, {})
    assert config.get("tags") == ["a", "b"]
    assert config.get("custom") == {"x": 1, "y": ["a", "b"]}


def test_environment_values_are_read_as_yaml_without_aliases() -> None:
    schema = default_schema()
    schema.declare(KeySpec("labels", ValueType.STRING_MAP, {}))
    settings = read_environment({"DD_TAGS": "[a, 'b c']", "DD_LABELS": "{env: prod}"}, schema)
    assert settings == {"tags": ["a", "b c"], "labels": {"env": "prod"}}
    for var, text in (("DD_TAGS", "[&a x, *a]"), ("DD_LABELS", "{a: &a 1, b: *a}")):
        with pytest.raises(ConfigLimitError, match=f"from environment variable {var}.*anchors and aliases"):
            read_environment({var: text}, schema)
    with pytest.raises(ConfigLimitError, match=f"nested deeper than {MAX_DEPTH}"):
        read_environment({"DD_TAGS": "[" * 10_000 + "]" * 10_000}, schema)
