"""The view: whole-snapshot swaps, per-key updates, diffs, and the typed reader over it."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from comp.core.configstreamconsumer.def_ import ChangeEvent
from comp.core.configstreamconsumer.impl.view import ViewHolder, ViewReader, diff_views, parse_source
from pkg.config.change import Setting
from pkg.config.errors import ConfigValueError
from pkg.config.reader import MissingSettingError, Reader
from pkg.config.sources import Source

FILE, RUNTIME, DEFAULT = Source.FILE, Source.AGENT_RUNTIME, Source.DEFAULT


def _holder(settings: dict[str, Setting], seq: int = 1) -> ViewHolder:
    holder = ViewHolder()
    holder.replace(dict(settings), seq)
    return holder


def test_diff_reports_added_changed_removed_and_source_only_changes_sorted_by_key() -> None:
    old = {"a": Setting(1, FILE), "b": Setting("x", FILE), "c": Setting(True, DEFAULT), "d": Setting(5, FILE)}
    new = {
        "a": Setting(1, FILE),
        "b": Setting("y", RUNTIME),
        "c": Setting(True, FILE),
        "e": Setting([1], FILE),
    }
    assert diff_views(old, new) == [
        ChangeEvent("b", "x", "y", RUNTIME),
        ChangeEvent("c", True, True, FILE),
        ChangeEvent("d", 5, None, None),
        ChangeEvent("e", None, [1], FILE),
    ]


def test_diff_sees_a_change_of_type_between_equal_values() -> None:
    assert diff_views({"k": Setting(1, FILE)}, {"k": Setting(True, FILE)}) == [
        ChangeEvent("k", 1, True, FILE)
    ]


def test_replace_swaps_the_whole_view_and_returns_the_diff() -> None:
    holder = _holder({"a": Setting(1, FILE)}, seq=3)
    before = holder.view
    changes = holder.replace({"b": Setting(2, FILE)}, 9)
    assert changes == [ChangeEvent("a", 1, None, None), ChangeEvent("b", None, 2, FILE)]
    assert dict(before) == {"a": Setting(1, FILE)}  # the old view object is untouched
    assert dict(holder.view) == {"b": Setting(2, FILE)}
    assert holder.sequence_id == 9


def test_apply_sets_and_removes_keys_without_touching_the_previous_view() -> None:
    holder = _holder({"a": Setting(1, FILE)})
    before = holder.view
    assert holder.apply("a", Setting(2, RUNTIME), 2) == ChangeEvent("a", 1, 2, RUNTIME)
    assert holder.apply("b", Setting("x", RUNTIME), 3) == ChangeEvent("b", None, "x", RUNTIME)
    assert holder.apply("a", None, 4) == ChangeEvent("a", 2, None, None)
    assert dict(before) == {"a": Setting(1, FILE)}
    assert dict(holder.view) == {"b": Setting("x", RUNTIME)}
    assert holder.sequence_id == 4


def test_apply_of_an_identical_setting_changes_nothing_visible_but_the_sequence_id() -> None:
    holder = _holder({"a": Setting(1, FILE)})
    assert holder.apply("a", Setting(1, FILE), 2) is None
    assert holder.sequence_id == 2


def test_the_view_cannot_be_mutated_through_its_mapping() -> None:
    holder = _holder({"a": Setting(1, FILE)})
    with pytest.raises(TypeError):
        holder.view["a"] = Setting(2, FILE)  # type: ignore[index]


def test_reader_typed_getters_sources_and_prefixes() -> None:
    holder = _holder(
        {
            "log_level": Setting("debug", RUNTIME),
            "cmd_port": Setting(5001, DEFAULT),
            "remote_agent.registry.idle_timeout": Setting("30s", DEFAULT),
            "remote_agent.registry.enabled": Setting(True, FILE),
            "tags": Setting(["a:1", "b:2"], FILE),
            "ratio": Setting(0.5, FILE),
        }
    )
    reader = ViewReader(holder)
    assert isinstance(reader, Reader)
    assert reader.get_string("log_level") == "debug"
    assert reader.get_string("LOG_LEVEL") == "debug"
    assert reader.get_int("cmd_port") == 5001
    assert reader.get_string("cmd_port") == "5001"
    assert reader.get_duration("remote_agent.registry.idle_timeout") == timedelta(seconds=30)
    assert reader.get_bool("remote_agent.registry.enabled") is True
    assert reader.get_string_list("tags") == ["a:1", "b:2"]
    assert reader.get_float("ratio") == 0.5
    assert reader.get("remote_agent") == {"registry": {"idle_timeout": "30s", "enabled": True}}
    assert reader.get_string_map("remote_agent.registry") == {"idle_timeout": "30s", "enabled": True}
    assert reader.get_source("log_level") == RUNTIME
    assert reader.get_source("absent") is None
    assert reader.is_set("log_level") and not reader.is_set("cmd_port") and not reader.is_set("absent")
    assert reader.get_string("absent", default="") == "" and reader.get_int("absent", default=0) == 0
    with pytest.raises(MissingSettingError, match=r"'log_levl'.*did you mean 'log_level'"):
        reader.get_string("log_levl")
    assert reader.sequence_id == holder.sequence_id
    assert reader.all_settings()["cmd_port"] == 5001
    with pytest.raises(ConfigValueError, match="log_level"):
        reader.get_int("log_level")


def test_reader_resolves_keys_like_the_core() -> None:
    holder = _holder(
        {
            "remote_agent.registry.idle_timeout": Setting("45s", FILE),
            "remote_agent.registry.enabled": Setting(True, DEFAULT),
            "remote_agent.configstream.sleep_interval": Setting("10ms", DEFAULT),
        }
    )
    reader = ViewReader(holder)
    # Old names, as the core's config accepts them.
    assert reader.get_duration("remote_agent_registry.idle_timeout") == timedelta(seconds=45)
    assert reader.get_source("Remote_Agent_Registry.Idle_Timeout") == FILE
    assert reader.get_string("config_stream.sleep_interval") == "10ms"
    # A prefix is set when a leaf under it comes from a source other than default.
    assert reader.is_set("remote_agent.registry") and reader.is_set("remote_agent")
    assert not reader.is_set("remote_agent.configstream")


def test_reader_follows_the_holder() -> None:
    holder = _holder({"a": Setting(1, FILE)})
    reader = ViewReader(holder)
    holder.replace({"a": Setting(2, FILE)}, 2)
    assert reader.get_int("a") == 2


def test_a_reader_on_another_thread_never_sees_half_a_snapshot() -> None:
    keys = [f"k{i}" for i in range(200)]
    holder = _holder({k: Setting(0, FILE) for k in keys})
    reader = ViewReader(holder)
    stop = threading.Event()
    mixed: list[set[int]] = []

    def read() -> None:
        while not stop.is_set():
            values = set(reader.all_settings().values())
            if len(values) != 1:
                mixed.append(values)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for generation in range(1, 300):
            holder.replace({k: Setting(generation, FILE) for k in keys}, generation)
    finally:
        stop.set()
        thread.join()
    assert mixed == []


def test_unknown_source_names_read_as_unknown_and_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert parse_source("agent-runtime") == RUNTIME
    assert parse_source("") is None
    assert parse_source("some-future-source") == Source.UNKNOWN
    assert parse_source("some-future-source") == Source.UNKNOWN
    assert sum("some-future-source" in r.getMessage() for r in caplog.records) == 1
