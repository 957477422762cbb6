from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from pkg.config.change import ConfigChange, Setting
from pkg.config.errors import ConfigKeyError, ConfigValueError
from pkg.config.model import LayeredConfig
from pkg.config.reader import MissingSettingError, Reader
from pkg.config.schema import KeySpec, Schema, ValueType, default_schema
from pkg.config.sources import SOURCES_BY_PRIORITY, Source


def recording(config: LayeredConfig) -> list[ConfigChange]:
    changes: list[ConfigChange] = []
    config.on_update(changes.append)
    return changes


def test_starts_with_the_declared_defaults_at_sequence_id_zero() -> None:
    config = LayeredConfig()
    assert config.sequence_id == 0
    assert config.get_int("cmd_port") == 5001
    assert config.get_source("cmd_port") is Source.DEFAULT
    assert config.get_duration("remote_agent.registry.idle_timeout") == timedelta(seconds=30)
    assert config.get_duration("config_stream.sleep_interval") == timedelta(milliseconds=10)
    assert not config.is_set("cmd_port")
    assert config.config_file_used() is None
    assert config.schema.frozen
    assert isinstance(config, Reader)


def test_highest_source_wins_and_unset_falls_back() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set("cmd_port", 6000, Source.FILE)
    config.set("cmd_port", "7000", Source.CLI)
    config.set("cmd_port", 6500, Source.AGENT_RUNTIME)  # below cli: nothing effective changes
    assert (config.get_int("cmd_port"), config.get_source("cmd_port")) == (7000, Source.CLI)
    config.unset_for_source("cmd_port", Source.CLI)
    assert (config.get("cmd_port"), config.get_source("cmd_port")) == (6500, Source.AGENT_RUNTIME)
    assert [(c.old, c.new, c.source, c.sequence_id, c.unset_source) for c in changes] == [
        (5001, 6000, Source.FILE, 1, None),
        (6000, 7000, Source.CLI, 2, None),
        (7000, 6500, Source.AGENT_RUNTIME, 3, Source.CLI),
    ]
    assert config.sequence_id == 3
    assert config.is_set("cmd_port")


def test_unset_of_the_last_source_removes_an_undeclared_key() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set("custom.key", [1, 2], Source.REMOTE_CONFIG)
    config.unset_for_source("custom.key", Source.REMOTE_CONFIG)
    assert config.get("custom.key") is None
    assert config.get_source("custom.key") is None
    assert "custom.key" not in config.all_settings()
    assert changes[-1] == ConfigChange("custom.key", [1, 2], None, None, 2, Source.REMOTE_CONFIG)


def test_writes_that_change_nothing_effective_are_silent() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set("cmd_port", 5001, Source.DEFAULT)  # same value, same source
    config.set("log_level", "info", Source.DEFAULT)
    config.unset_for_source("cmd_port", Source.CLI)  # not held there
    config.unset_for_source("nothing.here", Source.FILE)
    config.set("empty", {}, Source.FILE)  # an empty mapping has no leaf
    config.set_many({}, Source.FILE)
    assert changes == [] and config.sequence_id == 0


def test_same_value_at_another_source_is_a_change_of_source() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set("cmd_port", 5001, Source.FILE)
    assert changes == [ConfigChange("cmd_port", 5001, 5001, Source.FILE, 1)]


def test_type_changes_count_even_when_python_calls_them_equal() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set("x", 1, Source.FILE)
    config.set("x", 1.0, Source.FILE)
    config.set("x", True, Source.FILE)
    config.set("x", [True], Source.FILE)
    config.set("x", [1], Source.FILE)
    config.set("y", {"a": 1}, Source.FILE)  # a mapping on an undeclared key: leaves
    assert [c.new for c in changes] == [1, 1.0, True, [True], [1], 1]
    assert [c.key for c in changes][-1] == "y.a"


def test_failed_writes_change_nothing() -> None:
    config = LayeredConfig()
    changes = recording(config)
    with pytest.raises(ConfigValueError, match=r"'cmd_port' \(from cli\): 'abc', expected an integer"):
        config.set_many({"log_level": "debug", "cmd_port": "abc"}, Source.CLI)
    with pytest.raises(ConfigValueError):
        config.set("remote_agent.registry", {"enabled": "yes", "idle_timeout": "never"}, Source.FILE)
    with pytest.raises(ConfigKeyError):
        config.set("a..b", 1, Source.FILE)
    with pytest.raises(ValueError, match="is not a valid Source"):
        config.set("x", 1, "nowhere")  # type: ignore[arg-type]
    assert config.get_string("log_level") == "info"
    assert config.get("remote_agent.registry.enabled") is True
    assert changes == [] and config.sequence_id == 0


def test_set_many_applies_every_leaf_with_one_id_each() -> None:
    config = LayeredConfig()
    changes = recording(config)
    config.set_many(
        {"log_level": "debug", "Config_Stream": {"Sleep_Interval": "1s"}, "site": "x"}, Source.FILE
    )
    assert [(c.key, c.sequence_id) for c in changes] == [
        ("log_level", 1),
        ("remote_agent.configstream.sleep_interval", 2),
        ("site", 3),
    ]


def test_nested_reads_and_prefix_unset() -> None:
    config = LayeredConfig()
    config.set("logs_config", {"enabled": "true", "batch": {"size": 10, "wait": "5s"}}, Source.FILE)
    assert config.get("logs_config") == {"enabled": True, "batch": {"size": 10, "wait": "5s"}}
    assert config.get_string_map("logs_config.batch") == {"size": 10, "wait": "5s"}
    assert config.get_source("logs_config") is None  # not a leaf
    assert config.is_set("logs_config")
    changes = recording(config)
    config.unset_for_source("LOGS_CONFIG", Source.FILE)
    assert sorted(c.key for c in changes) == [
        "logs_config.batch.size",
        "logs_config.batch.wait",
        "logs_config.enabled",
    ]
    assert config.get("logs_config") == {"enabled": False}
    assert not config.is_set("logs_config")


def test_map_typed_key_is_one_leaf() -> None:
    schema = default_schema()
    schema.declare(KeySpec("labels", ValueType.STRING_MAP, {}))
    config = LayeredConfig(schema)
    changes = recording(config)
    config.set("labels", {"env": "prod"}, Source.FILE)
    assert config.get("labels") == {"env": "prod"}
    assert [c.key for c in changes] == ["labels"]
    assert "labels.env" not in config.all_settings()


def test_reads_return_copies() -> None:
    config = LayeredConfig()
    config.set("tags", ["a"], Source.FILE)
    config.get("tags").append("mutated")
    config.all_settings()["tags"].append("mutated")
    config.all_settings_by_source()[Source.FILE]["tags"].append("mutated")
    config.flattened_with_sequence_id()[0]["tags"].value.append("mutated")
    assert config.get("tags") == ["a"]


def test_views_of_the_whole_config() -> None:
    config = LayeredConfig(config_file=Path("/etc/datadog.yaml"))
    config.set("hostname", "h1", Source.FILE)
    config.set("hostname", "h2", Source.CLI)
    config.set("api_key", "secret", Source.ENVIRONMENT_VARIABLE)
    settings, sequence_id = config.flattened_with_sequence_id()
    assert sequence_id == 3 == config.sequence_id
    assert settings["hostname"] == Setting("h2", Source.CLI)
    assert settings["cmd_port"] == Setting(5001, Source.DEFAULT)
    by_source = config.all_settings_by_source()
    assert list(by_source) == list(SOURCES_BY_PRIORITY)
    assert by_source[Source.FILE] == {"hostname": "h1"}
    assert by_source[Source.REMOTE_CONFIG] == {}
    assert config.all_settings()["hostname"] == "h2"
    assert config.config_file_used() == Path("/etc/datadog.yaml")
    assert config.is_secret("api_key") and not config.is_secret("hostname")


def test_unsubscribe_is_idempotent_and_stops_delivery() -> None:
    config = LayeredConfig()
    seen: list[int] = []
    unsubscribe = config.on_update(lambda change: seen.append(change.sequence_id))
    config.set("x", 1, Source.FILE)
    unsubscribe()
    unsubscribe()
    config.set("x", 2, Source.FILE)
    assert seen == [1]


def test_a_raising_callback_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    config = LayeredConfig()

    def broken(change: ConfigChange) -> None:
        raise RuntimeError("boom")

    config.on_update(broken)
    changes = recording(config)
    with caplog.at_level(logging.ERROR, logger="pkg.config.model"):
        config.set("x", 1, Source.FILE)
    assert [c.key for c in changes] == ["x"]
    assert "config update callback" in caplog.text and "boom" in caplog.text
    assert config.get("x") == 1


def test_callbacks_run_outside_the_lock_and_may_read_and_write() -> None:
    config = LayeredConfig()
    order: list[tuple[str, int, object]] = []

    def first(change: ConfigChange) -> None:
        order.append(("first", change.sequence_id, config.get(change.key)))
        if change.key == "x":
            config.set("y", config.get_int("x") + 1, Source.AGENT_RUNTIME)

    def second(change: ConfigChange) -> None:
        order.append(("second", change.sequence_id, change.new))

    config.on_update(first)
    config.on_update(second)
    config.set("x", 1, Source.FILE)
    # The nested write is delivered after every callback of the current change: ids stay in order.
    assert order == [("first", 1, 1), ("second", 1, 1), ("first", 2, 2), ("second", 2, 2)]
    assert config.get("y") == 2


def test_callbacks_registered_later_get_only_later_changes() -> None:
    config = LayeredConfig()
    config.set("x", 1, Source.FILE)
    changes = recording(config)
    config.set("x", 2, Source.FILE)
    assert [c.sequence_id for c in changes] == [2]


def test_concurrent_writers_lose_nothing_and_deliver_in_order() -> None:
    config = LayeredConfig()
    seen: list[int] = []
    lock = threading.Lock()

    def record(change: ConfigChange) -> None:
        with lock:
            seen.append(change.sequence_id)

    config.on_update(record)
    threads_count, writes = 4, 200
    barrier = threading.Barrier(threads_count)

    def writer(index: int) -> None:
        barrier.wait(timeout=10)
        for i in range(writes):
            config.set(f"w{index}.k{i % 10}", i, Source.AGENT_RUNTIME)
            config.set("shared", f"{index}-{i}", Source.AGENT_RUNTIME)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert seen == list(range(1, config.sequence_id + 1))
    for index in range(threads_count):
        for k in range(10):
            assert config.get_int(f"w{index}.k{k}") == max(i for i in range(writes) if i % 10 == k)


def test_is_set_and_get_of_absent_keys() -> None:
    config = LayeredConfig(Schema())
    assert config.get("nothing") is None
    with pytest.raises(MissingSettingError, match="'nothing'"):
        config.get_int("nothing")
    assert config.get_int("nothing", default=0) == 0
    assert config.get_string_list("nothing", default=[]) == []
    assert config.all_settings() == {}
    assert not config.is_set("nothing")


def test_mapping_values_compare_deeply() -> None:
    schema = default_schema()
    schema.declare(KeySpec("extra", ValueType.MAP, {}))
    config = LayeredConfig(schema)
    changes = recording(config)
    config.set("extra", {"a": [1, {"b": True}]}, Source.FILE)
    config.set("extra", {"a": [1, {"b": True}]}, Source.FILE)
    config.set("extra", {"a": [1, {"b": 1}]}, Source.FILE)
    assert [c.sequence_id for c in changes] == [1, 2]


def test_a_callback_unsubscribed_during_delivery_gets_nothing_more() -> None:
    config = LayeredConfig()
    late: list[int] = []
    unsubscribe_late: list[Callable[[], None]] = []

    def first(change: ConfigChange) -> None:
        unsubscribe_late[0]()

    config.on_update(first)
    unsubscribe_late.append(config.on_update(lambda change: late.append(change.sequence_id)))
    config.set("x", 1, Source.FILE)
    assert late == []


def test_source_priorities() -> None:
    assert [s.priority for s in SOURCES_BY_PRIORITY] == list(range(10))
    assert (
        Source.CLI.priority > Source.REMOTE_CONFIG.priority > Source.FILE.priority > Source.DEFAULT.priority
    )


def test_flattened_settings_copy_lists_and_dicts_whatever_a_key_held_before() -> None:
    config = LayeredConfig(Schema([KeySpec("x.y", ValueType.MAP, {})]))
    config.set("tags", ["a"], Source.FILE)
    config.set("x.y", {"k": [1]}, Source.FILE)
    config.set("tags", "text", Source.AGENT_RUNTIME)
    config.unset_for_source("tags", Source.AGENT_RUNTIME)
    settings, _ = config.flattened_with_sequence_id()
    settings["tags"].value.append("mutated")
    settings["x.y"].value["k"].append(2)
    again, _ = config.flattened_with_sequence_id()
    assert again["tags"].value == ["a"] and again["x.y"].value == {"k": [1]}
    config.set("tags", "plain", Source.CLI)
    assert config.flattened_with_sequence_id()[0]["tags"].value == "plain"
