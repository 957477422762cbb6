from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pkg.config import safe_yaml
from pkg.config.errors import ConfigKeyError, ConfigLimitError, ConfigValueError
from pkg.config.schema import (
    MAX_KEY_CHARS,
    MAX_VALUE_DEPTH,
    KeySpec,
    Schema,
    ValueType,
    default_schema,
    plain_value,
)
from pkg.config.tree import find_nesting, flatten, parent_keys, subtree


def test_default_schema_declares_the_spec_keys_with_their_defaults() -> None:
    defaults = default_schema().defaults()
    assert defaults["cmd_host"] == "localhost"
    assert defaults["cmd_port"] == 5001
    assert defaults["auth_token_file_path"] == ""
    assert defaults["ipc_cert_file_path"] == ""
    assert defaults["remote_agent.registry.enabled"] is True
    assert defaults["remote_agent.registry.idle_timeout"] == "30s"
    assert defaults["remote_agent.registry.recommended_refresh_interval"] == "10s"
    assert defaults["remote_agent.configstream.sleep_interval"] == "10ms"
    assert defaults["remote_agent.configstream.history_size"] == 10000
    assert defaults["remote_agent.configstream.queue_size"] == 1000
    assert defaults["log_level"] == "info"
    assert defaults["api_key"] == ""
    assert defaults["site"] == "datadoghq.com"
    assert defaults["hostname"] == ""
    assert defaults["tags"] == []
    assert defaults["telemetry.enabled"] is True
    assert defaults["telemetry.port"] == 5000
    assert defaults["logs_config.enabled"] is False


def test_each_default_schema_is_a_fresh_copy() -> None:
    first, second = default_schema(), default_schema()
    first.declare(KeySpec("extra", ValueType.INT, 1))
    assert "extra" in first and "extra" not in second
    first.defaults()["tags"].append("mutated")
    assert first.defaults()["tags"] == []


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("CMD_PORT", "cmd_port"),
        (" Log_Level ", "log_level"),
        ("remote_agent_registry.idle_timeout", "remote_agent.registry.idle_timeout"),
        ("Remote_Agent_Registry.Enabled", "remote_agent.registry.enabled"),
        ("config_stream.sleep_interval", "remote_agent.configstream.sleep_interval"),
        ("config_stream", "remote_agent.configstream"),
        ("config_streamer.x", "config_streamer.x"),
        ("undeclared.Key", "undeclared.key"),
    ],
)
def test_canonical_lowercases_and_resolves_aliases(name: str, canonical: str) -> None:
    assert default_schema().canonical(name) == canonical


@pytest.mark.parametrize("key", ["", "  ", "a..b", ".a", "a.", 5, None])
def test_malformed_keys_are_refused(key: Any) -> None:
    with pytest.raises(ConfigKeyError, match="invalid config key"):
        default_schema().canonical(key)


def test_a_key_longer_than_the_limit_is_refused_without_echoing_it_whole() -> None:
    schema = default_schema()
    assert schema.canonical("k" * MAX_KEY_CHARS) == "k" * MAX_KEY_CHARS
    with pytest.raises(ConfigKeyError) as refused:
        schema.canonical("k" * (MAX_KEY_CHARS + 1))
    message = str(refused.value)
    assert f"{MAX_KEY_CHARS + 1} characters, the limit is {MAX_KEY_CHARS}" in message
    assert len(message) < 200


def test_per_key_aliases_and_names() -> None:
    schema = default_schema()
    schema.declare(KeySpec("new.name", ValueType.STRING, "", aliases=("Old_Name",)))
    assert schema.canonical("old_name") == "new.name"
    assert schema.names("new.name") == ("new.name", "old_name")
    assert schema.names("config_stream.sleep_interval") == (
        "remote_agent.configstream.sleep_interval",
        "config_stream.sleep_interval",
    )
    assert schema.names("Undeclared") == ("undeclared",)
    assert schema.spec("old_name") is schema.spec("new.name")


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("cmd_port", "5001", 5001),
        ("cmd_port", 6000.0, 6000),
        ("cmd_host", 127, "127"),
        ("site", Path("/x"), "/x"),
        ("remote_agent.registry.enabled", "false", False),
        ("remote_agent.registry.enabled", "YES", True),
        ("remote_agent.registry.idle_timeout", " 1m30s ", "1m30s"),
        ("remote_agent.registry.idle_timeout", 30, 30),
        ("remote_agent.registry.idle_timeout", 2.5, 2.5),
        ("remote_agent.registry.idle_timeout", "45", "45"),
        ("remote_agent.registry.idle_timeout", timedelta(seconds=90), "1m30s"),
        ("log_level", "WARNING", "WARNING"),
        ("log_level", "Off", "Off"),
        ("tags", ("x", 2), ["x", "2"]),
    ],
)
def test_validation_is_lax_for_text(key: str, value: Any, stored: Any) -> None:
    result = default_schema().validate(key, value)
    assert result == stored and type(result) is type(stored)


@pytest.mark.parametrize(
    ("text", "stored"),
    [("a:b, c:d e", ["a:b", "c:d", "e"]), ("[a, 1]", ["a", "1"]), ("", []), ("  x  ", ["x"])],
)
def test_text_spells_a_list_only_from_an_environment_variable(text: str, stored: list[str]) -> None:
    schema = default_schema()
    assert schema.validate("tags", text, origin="environment variable DD_TAGS", from_env=True) == stored
    with pytest.raises(
        ConfigValueError, match=r"'tags' \(from agent-runtime\): .*expected a list of strings$"
    ):
        schema.validate("tags", text, origin="agent-runtime")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("tags", {"a": "b"}, "a list of strings"),
        ("tags", 5, "a list of strings"),
        ("hostname", ["a"], "a string"),
        ("hostname", {"a": 1}, "a string"),
        ("cmd_port", [1], "an integer"),
        ("remote_agent.registry.idle_timeout", ["1s"], "a duration"),
        ("telemetry.enabled", {"x": True}, "a boolean"),
    ],
)
def test_a_value_of_the_wrong_shape_is_a_type_error_from_any_source(
    key: str, value: Any, expected: str
) -> None:
    for from_env in (False, True):
        with pytest.raises(ConfigValueError, match=f"expected {expected}"):
            default_schema().validate(key, value, origin="file", from_env=from_env)


def test_environment_text_over_a_yaml_limit_names_the_variable() -> None:
    origin = "environment variable DD_TAGS"
    with pytest.raises(
        ConfigLimitError, match=r"'tags' \(from environment variable DD_TAGS\): .*aliases"
    ) as info:
        default_schema().validate("tags", "[&a x, *a]", origin=origin, from_env=True)
    assert info.value.key == "tags"
    with pytest.raises(ConfigLimitError, match="nested deeper than 64"):
        default_schema().validate("tags", "[" * 10_000 + "]" * 10_000, origin=origin, from_env=True)


def test_values_nest_at_most_as_deep_as_yaml_may() -> None:
    assert safe_yaml.MAX_DEPTH == MAX_VALUE_DEPTH
    schema = default_schema()
    fits: Any = "leaf"
    for _ in range(MAX_VALUE_DEPTH):
        fits = [fits]
    assert schema.validate("custom.deep", fits) == fits
    deep: Any = []
    for _ in range(10_000):  # far beyond the interpreter's recursion limit
        deep = [deep]
    for value in ([fits], deep, {"k": deep}):
        with pytest.raises(
            ConfigLimitError, match=f"'custom.deep' \\(from cli\\): .* deeper than {MAX_VALUE_DEPTH}"
        ):
            schema.validate("custom.deep", value, origin="cli")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("cmd_port", "abc", "an integer between 0 and 65535"),
        ("cmd_port", 1.5, "an integer between 0 and 65535"),
        ("cmd_port", True, "an integer between 0 and 65535"),
        ("cmd_port", 70000, "an integer between 0 and 65535"),
        ("cmd_port", None, "an integer"),
        ("cmd_host", True, "a string"),
        ("cmd_host", ["a"], "a string"),
        ("remote_agent.registry.enabled", "maybe", "a boolean (true or false)"),
        ("remote_agent.registry.idle_timeout", "soon", "a duration"),
        ("remote_agent.registry.idle_timeout", "-5s", "a duration"),
        ("remote_agent.registry.idle_timeout", False, "a duration"),
        ("remote_agent.configstream.queue_size", 0, "an integer of at least 1"),
        ("log_level", "loud", "one of trace, debug, info, warn, warning, error, critical, off"),
        ("tags", {"a": 1}, "a list of strings"),
        ("tags", "[a", "a list of strings"),
        ("telemetry.port", {"x": 1}, "an integer"),
        ("undeclared", object(), "a plain value"),
        ("undeclared", {1, 2}, "a plain value"),
        ("undeclared", float("nan"), "a plain value"),
    ],
)
def test_bad_values_name_key_value_expected_and_origin(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigValueError) as info:
        default_schema().validate(key, value, origin="cli")
    message = str(info.value)
    assert f"invalid value for {key!r} (from cli): {value!r}" in message
    assert f"expected {expected}" in message
    assert (info.value.key, info.value.origin) == (key, "cli")


def test_map_types() -> None:
    schema = Schema(
        [
            KeySpec("labels", ValueType.STRING_MAP, {}),
            KeySpec("extra", ValueType.MAP, {"a": [1]}),
            KeySpec("ratio", ValueType.FLOAT, 0.5, minimum=0, maximum=1),
            KeySpec("limit", ValueType.INT, 1, maximum=10),
        ]
    )
    assert schema.validate("labels", {"a": 1}) == {"a": "1"}
    assert schema.validate("labels", '{"env": "prod"}', from_env=True) == {"env": "prod"}
    assert schema.validate("extra", "a: [1, 2]", from_env=True) == {"a": [1, 2]}
    for text in ('{"env": "prod"}', "a: [1, 2]"):  # text is a mapping only in an environment variable
        with pytest.raises(ConfigValueError, match="expected a mapping"):
            schema.validate("extra", text)
    with pytest.raises(ConfigValueError, match=r"expected a mapping \(YAML or JSON text\)"):
        schema.validate("extra", "[1]", from_env=True)
    with pytest.raises(ConfigValueError, match="expected a mapping"):
        schema.validate("extra", [["a", 1]])
    assert schema.validate("ratio", "0.25") == 0.25
    with pytest.raises(ConfigValueError, match="a mapping of strings to strings"):
        schema.validate("labels", {"a": {"nested": 1}})
    with pytest.raises(ConfigValueError, match="a number between 0 and 1"):
        schema.validate("ratio", 2)
    with pytest.raises(ConfigValueError, match="an integer of at most 10"):
        schema.validate("limit", 11)
    # A mapping on a map-typed key is one leaf; on an undeclared key it is flattened.
    assert schema.prepare("labels", {"a": "b"}) == {"labels": {"a": "b"}}
    assert schema.prepare("Custom", {"A": {"b": 1}, "c": [1]}) == {"custom.a.b": 1, "custom.c": [1]}


def test_prepare_resolves_aliases_inside_mappings_and_validates_leaves() -> None:
    schema = default_schema()
    assert schema.prepare("remote_agent_registry", {"Idle_Timeout": "5s", "x": {"y": 1}}) == {
        "remote_agent.registry.idle_timeout": "5s",
        "remote_agent.registry.x.y": 1,
    }
    with pytest.raises(ConfigValueError, match=r"remote_agent\.registry\.enabled"):
        schema.prepare("remote_agent", {"registry": {"enabled": "perhaps"}})


def test_declare_refuses_clashes_and_bad_defaults() -> None:
    schema = default_schema()
    with pytest.raises(ValueError, match="already declared"):
        schema.declare(KeySpec("CMD_PORT", ValueType.INT, 1))
    with pytest.raises(ValueError, match="already declared"):
        schema.declare(KeySpec("x", ValueType.INT, 1, aliases=("cmd_host",)))
    with pytest.raises(ValueError, match="alias prefix"):
        schema.declare(KeySpec("config_stream.new", ValueType.INT, 1))
    with pytest.raises(ValueError, match="cannot nest"):
        schema.declare(KeySpec("cmd_port.sub", ValueType.INT, 1))
    with pytest.raises(ValueError, match="cannot nest"):
        schema.declare(KeySpec("telemetry", ValueType.MAP, {}))
    with pytest.raises(ConfigValueError, match=r"'n' \(from declared default\): 'x', expected an integer"):
        schema.declare(KeySpec("n", ValueType.INT, "x"))


def test_frozen_schema_refuses_declarations_and_copy_is_open() -> None:
    schema = default_schema()
    schema.freeze()
    assert schema.frozen
    with pytest.raises(RuntimeError, match="declare keys before building the config"):
        schema.declare(KeySpec("late", ValueType.INT, 1))
    with pytest.raises(RuntimeError):
        schema.alias_prefix("a", "b")
    clone = schema.copy()
    clone.declare(KeySpec("late", ValueType.INT, 1))
    assert "late" in clone and "late" not in schema
    assert clone.canonical("config_stream.x") == "remote_agent.configstream.x"
    assert len(clone) == len(schema) + 1
    assert {spec.key for spec in schema} < {spec.key for spec in clone}
    assert 5 not in schema


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("API_KEY", True),
        ("cmd_port", False),
        ("logs_config.api_key", True),
        ("proxy.password", True),
        ("auth_token_file_path", False),
        ("hostname", False),
    ],
)
def test_is_secret(key: str, secret: bool) -> None:
    assert default_schema().is_secret(key) is secret


def test_plain_value_copies_and_normalizes() -> None:
    source = {"a": [1, (2, 3)], 5: None}
    result = plain_value("k", source)
    assert result == {"a": [1, [2, 3]], "5": None}
    result["a"].append(9)
    assert source["a"] == [1, (2, 3)]


def test_flatten_and_subtree() -> None:
    leaves = flatten({"A": {"B": 1, "c": {}}, "d": [1]}, "root")
    assert leaves == {"root.a.b": 1, "root.d": [1]}
    flat = [("a.b", 1), ("a.c.d", 2), ("a.m", {"x": 1}), ("a.m.y", 3), ("ab", 4), ("a.b.deeper", 5)]
    # A leaf on a path wins over deeper keys; a dict-valued leaf is never merged into.
    assert subtree(flat, "a") == {"b": 1, "c": {"d": 2}, "m": {"x": 1}}
    assert subtree(flat, "zz") is None


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("remote_agent.registry", "x", "a mapping ('remote_agent.registry' groups declared settings)"),
        ("remote_agent", 5, "a mapping ('remote_agent' groups declared settings)"),
        ("remote_agent_registry", [], "a mapping ('remote_agent.registry' groups declared settings)"),
        ("telemetry.enabled.x", 1, "no setting under 'telemetry.enabled', which is a setting itself"),
    ],
)
def test_undeclared_leaves_cannot_shadow_declared_keys(key: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigValueError) as info:
        default_schema().prepare(key, value)
    assert f"expected {expected}" in str(info.value)


def test_fractional_bounds_in_messages() -> None:
    schema = Schema([KeySpec("ratio", ValueType.FLOAT, 1.0, minimum=0.5)])
    with pytest.raises(ConfigValueError, match=r"expected a number of at least 0\.5$"):
        schema.validate("ratio", 0.25)


def test_parent_keys_and_nesting() -> None:
    assert list(parent_keys("a.b.c")) == ["a", "a.b"]
    assert list(parent_keys("a")) == []
    assert find_nesting(["a.b", "c", "a.bc"]) is None
    assert find_nesting(["a.b.c", "z", "a.b"]) == ("a.b", "a.b.c")


def test_live_keys_are_what_config_set_accepts_with_their_descriptions() -> None:
    schema = Schema(
        [
            KeySpec("a.live", ValueType.STRING, "", live=True, description="changes"),
            KeySpec("a.fixed", ValueType.INT, 1),
        ]
    )
    schema.declare_open_group("extra", "free-form")
    assert schema.live_keys() == {"a.live": "changes", "extra.*": "free-form"}


def test_a_frozen_schema_remembers_canonical_names_within_a_bound() -> None:
    schema = default_schema()
    schema.freeze()
    assert schema.canonical("Remote_Agent_Registry.Idle_Timeout") == "remote_agent.registry.idle_timeout"
    assert schema.canonical("Remote_Agent_Registry.Idle_Timeout") == "remote_agent.registry.idle_timeout"
    for i in range(3 * 4096):
        assert schema.canonical(f"k{i}.X") == f"k{i}.x"
    assert len(schema._canonical_cache) <= 4096


def test_an_open_schema_resolves_names_declared_later() -> None:
    schema = Schema()
    assert schema.canonical("old.key") == "old.key"
    schema.alias_prefix("old", "new")
    assert schema.canonical("old.key") == "new.key"


@pytest.mark.parametrize("key", [["a"], None, 3, "", "a..b"])
def test_malformed_keys_are_refused_by_a_frozen_schema_too(key: Any) -> None:
    schema = default_schema()
    schema.freeze()
    with pytest.raises(ConfigKeyError):
        schema.canonical(key)
