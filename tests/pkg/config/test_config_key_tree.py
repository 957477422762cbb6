"""The key space is a tree: a key is a setting or a group of settings, never both, across all sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkg.config.errors import ConfigError, ConfigFileError, ConfigKeyConflictError, ConfigValueError
from pkg.config.loader import build_config
from pkg.config.model import LayeredConfig
from pkg.config.schema import KeySpec, ValueType, default_schema
from pkg.config.sources import SOURCES_BY_PRIORITY, Source
from pkg.config.tree import find_nesting
from pkg.config.wire_size import setting_size, value_size


def test_a_leaf_then_a_key_under_it_is_refused_naming_both() -> None:
    config = LayeredConfig()
    config.set("x", 1, Source.FILE)
    sequence_id = config.sequence_id
    with pytest.raises(ConfigKeyConflictError) as info:
        config.set("x.y", 2, Source.AGENT_RUNTIME)
    assert str(info.value).startswith("cannot set 'x.y' at agent-runtime: 'x' is set at file, and a key ")
    assert (info.value.key, info.value.other, info.value.other_source) == ("x.y", "x", "file")
    assert config.get("x") == 1 and config.get("x.y") is None and config.sequence_id == sequence_id


def test_a_group_then_a_leaf_in_its_place_is_refused_at_any_source() -> None:
    config = LayeredConfig()
    config.set("x", {"y": {"z": 1}}, Source.AGENT_RUNTIME)  # a mapping on an undeclared key: leaves
    for source in SOURCES_BY_PRIORITY:
        for key in ("x", "x.y"):
            with pytest.raises(ConfigKeyConflictError, match=r"'x\.y\.z' is set at agent-runtime"):
                config.set(key, 5, source)
    assert config.get("x") == {"y": {"z": 1}}


def test_a_mapping_for_a_leaf_is_refused_and_so_are_both_in_one_change() -> None:
    config = LayeredConfig()
    config.set("x", 1, Source.FILE)
    with pytest.raises(ConfigKeyConflictError):
        config.set("x", {"y": 2}, Source.AGENT_RUNTIME)
    with pytest.raises(ConfigKeyConflictError, match=r"'a\.b' is set at cli in the same change"):
        config.set_many({"a.b": 1, "a.b.c": 2, "other": 3}, Source.CLI)
    with pytest.raises(ConfigKeyConflictError):
        config.set("m", {"k": 1, "k.j": 2}, Source.CLI)
    assert config.get("a") is None and config.get("other") is None and config.get("m") is None


def test_unsetting_the_leaf_frees_the_group_and_back() -> None:
    config = LayeredConfig()
    config.set("x", 1, Source.FILE)
    config.set("x", 2, Source.AGENT_RUNTIME)
    config.unset_for_source("x", Source.AGENT_RUNTIME)
    with pytest.raises(ConfigKeyConflictError):  # the file still holds x
        config.set("x.y", 1, Source.AGENT_RUNTIME)
    config.unset_for_source("x", Source.FILE)
    config.set("x.y", 1, Source.AGENT_RUNTIME)
    config.set("x.z", 2, Source.FILE)
    assert config.get("x") == {"y": 1, "z": 2}
    config.unset_for_source("x", Source.AGENT_RUNTIME)  # a prefix unsets every leaf under it
    with pytest.raises(ConfigKeyConflictError, match=r"'x\.z' is set at file"):
        config.set("x", 1, Source.AGENT_RUNTIME)
    config.unset_for_source("x", Source.FILE)
    config.set("x", 1, Source.AGENT_RUNTIME)
    assert config.get("x") == 1


def test_setting_the_same_leaf_again_or_a_sibling_is_no_conflict() -> None:
    config = LayeredConfig()
    config.set("a.b", 1, Source.FILE)
    config.set("a.b", 2, Source.AGENT_RUNTIME)
    config.set("a.c", 3, Source.FILE)
    config.set("a.bc", 4, Source.FILE)  # a name that shares a prefix of characters, not of keys
    assert config.get("a") == {"b": 2, "c": 3, "bc": 4}


def test_a_file_holding_a_key_and_a_key_under_it_is_refused_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "datadog.yaml"
    path.write_text("custom:\n  x: 1\nlog_level: info\ncustom.x.y: 2\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as info:
        build_config(default_schema(), path, {})
    assert str(info.value) == (
        f"config file {path}:4: 'custom.x.y' lies under 'custom.x' (line 2), which holds a value: "
        "a key cannot be both a setting and a group of settings"
    )


def test_a_file_and_the_environment_cannot_make_a_key_both(tmp_path: Path) -> None:
    schema = default_schema()
    schema.declare(KeySpec("x.y", ValueType.INT, 0))
    path = tmp_path / "datadog.yaml"
    path.write_text("x: 1\n", encoding="utf-8")
    with pytest.raises(ConfigValueError, match=r"'x' \(from .*datadog.yaml:1\): 1, expected a mapping"):
        build_config(schema, path, {"DD_X_Y": "2"})
    # Undeclared keys from the file and later sources meet in the model.
    path.write_text("custom: 1\n", encoding="utf-8")
    config = build_config(default_schema(), path, {})
    with pytest.raises(ConfigKeyConflictError, match="'custom' is set at file"):
        config.set("custom.sub", 1, Source.REMOTE_CONFIG)


KEYS = ["a", "a.b", "a.b.c", "a.d", "n"]
SOURCES = st.sampled_from(SOURCES_BY_PRIORITY)
VALUES = st.one_of(st.integers(0, 3), st.text(max_size=30), st.lists(st.integers(0, 9), max_size=30))
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(KEYS), VALUES, SOURCES),
        st.tuples(st.just("unset"), st.sampled_from(KEYS), st.none(), SOURCES),
    ),
    max_size=40,
)


def snapshot(config: LayeredConfig) -> tuple[Any, ...]:
    return (config.all_settings_by_source(), config.sequence_id, config.total_bytes)


@settings(max_examples=80, deadline=None)
@given(OPS)
def test_any_sequence_of_writes_keeps_a_tree_and_a_true_total(
    ops: list[tuple[str, str, Any, Source]],
) -> None:
    config = LayeredConfig()
    for op, key, value, source in ops:
        before = snapshot(config)
        try:
            if op == "set":
                config.set(key, value, source)
            else:
                config.unset_for_source(key, source)
        except ConfigError:
            assert snapshot(config) == before  # a refused write changes nothing
        held = {k for layer in config.all_settings_by_source().values() for k in layer}
        assert find_nesting(held) is None
        effective, _ = config.flattened_with_sequence_id()
        assert config.total_bytes == sum(
            setting_size(k, s.source.value, value_size(s.value)) for k, s in effective.items()
        )
