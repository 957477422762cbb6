"""The config stream's first event and its updates, against a real core-agent process.

A raw ``StreamConfigEvents`` call receives a snapshot first: its origin is the base name of the
config file used (the core-agent binary always runs on a file: the one given with ``-c``, else the
``datadog.yaml`` embedded in the package, so the fallback origin ``core-agent`` is unreachable
from it), its settings are sorted by key and typed, and they equal the core's effective settings
and sources as the Settings API lists them. Then updates follow with ids that increase by one.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2

from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from tests.e2e.harness import API_KEY, AgentFactory, AgentProcess
from tests.e2e.stream_support import SettingsApi, StreamClient, register, view_mismatches

pytestmark = pytest.mark.e2e

_FILE_SETTINGS: dict[str, Any] = {
    "tags": ["env:e2e", "team:stream"],
    "logs_config.enabled": True,
    "custom.ratio": 0.25,
    "custom.count": -7,
    "custom.big": 2**60,
    "custom.rules": [{"name": "first", "limit": 3, "strict": False, "labels": {"team": "a"}}],
}


def _settings_by_key(snapshot: configstream_pb2.ConfigSnapshot) -> dict[str, configstream_pb2.ConfigSetting]:
    return {s.key: s for s in snapshot.settings}


def _value(**kind: Any) -> struct_pb2.Value:
    return struct_pb2.Value(**kind)


def _list(*items: struct_pb2.Value) -> struct_pb2.Value:
    return struct_pb2.Value(list_value=struct_pb2.ListValue(values=list(items)))


def _struct(**fields: struct_pb2.Value) -> struct_pb2.Value:
    return struct_pb2.Value(struct_value=struct_pb2.Struct(fields=fields))


def _text(value: str) -> struct_pb2.Value:
    return struct_pb2.Value(string_value=value)


async def test_snapshot_first_with_typed_values_equal_to_the_core(start_agent: AgentFactory) -> None:
    agent = start_agent(_FILE_SETTINGS)
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        # A runtime null: the file loader drops null values, the Settings API keeps them.
        await api.set({"custom.nothing": "null", "site": "datad0g.com"})
        core = await api.view()
        client = StreamClient(agent, channel, await register(agent, channel)).start()
        snapshot = await client.wait_snapshot()
        try:
            assert client.events[0].WhichOneof("event") == "snapshot"
            assert snapshot.origin == "datadog.yaml"
            assert snapshot.sequence_id == core.sequence_id
            assert [s.key for s in snapshot.settings] == sorted(core.settings)
            assert not client.violations
            assert view_mismatches(client.view, core) == []

            got = _settings_by_key(snapshot)
            expected = {
                "hostname": (_text("e2e-host"), "file"),
                "site": (_text("datad0g.com"), "agent-runtime"),
                "log_file": (_text(""), "default"),
                "cmd_port": (_value(number_value=agent.port), "file"),
                "custom.count": (_value(number_value=-7), "file"),
                "custom.ratio": (_value(number_value=0.25), "file"),
                # Beyond 2**53 a double is not exact: the digits travel as text.
                "custom.big": (_text(str(2**60)), "file"),
                "telemetry.enabled": (_value(bool_value=True), "file"),
                "log_to_console": (_value(bool_value=True), "default"),
                "logs_config.enabled": (_value(bool_value=True), "file"),
                "tags": (_list(_text("env:e2e"), _text("team:stream")), "file"),
                "custom.rules": (
                    _list(
                        _struct(
                            name=_text("first"),
                            limit=_value(number_value=3),
                            strict=_value(bool_value=False),
                            labels=_struct(team=_text("a")),
                        )
                    ),
                    "file",
                ),
                "custom.nothing": (_value(null_value=struct_pb2.NULL_VALUE), "agent-runtime"),
                "remote_agent.registry.idle_timeout": (_text("30s"), "default"),
                # The stream carries secrets as they are (remote agents need them); the Settings
                # API shows them masked.
                "api_key": (_text(API_KEY), "file"),
            }
            for key, (value, source) in expected.items():
                assert (got[key].value, got[key].source) == (value, source), key
                assert got[key].unset_source == ""
            assert core.settings["api_key"][2], "the Settings API masks the api_key"
        finally:
            await client.cancel()


async def test_updates_follow_with_ids_increasing_by_one(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        client = StreamClient(agent, channel, await register(agent, channel)).start()
        snapshot = await client.wait_snapshot()
        try:
            first = await api.set({"custom.ratio": "0.5"})
            await api.set({"log_level": "debug"})
            await api.set({"tags": "[a, b]"})
            await api.set({"custom.gone": "null"})
            await api.unset("custom.gone")  # no source left: removed
            last = await api.unset("log_level")  # falls back to the file's value
            assert first == snapshot.sequence_id + 1
            await client.wait_sequence_id(last)

            updates = [e.update for e in client.events[1:]]
            assert [e.WhichOneof("event") for e in client.events] == ["snapshot"] + ["update"] * 6
            assert [u.sequence_id for u in updates] == list(range(first, last + 1))
            assert {u.origin for u in updates} == {"datadog.yaml"}
            settings = [
                (u.setting.key, u.setting.value, u.setting.source, u.setting.unset_source) for u in updates
            ]
            null = _value(null_value=struct_pb2.NULL_VALUE)
            assert settings == [
                ("custom.ratio", _value(number_value=0.5), "agent-runtime", ""),
                ("log_level", _text("debug"), "agent-runtime", ""),
                ("tags", _list(_text("a"), _text("b")), "agent-runtime", ""),
                ("custom.gone", null, "agent-runtime", ""),
                ("custom.gone", null, "", "agent-runtime"),
                ("log_level", _text("info"), "file", "agent-runtime"),
            ]
            assert not client.violations
            assert view_mismatches(client.view, await api.view()) == []
        finally:
            await client.cancel()


@pytest.mark.parametrize("where", ["renamed", "embedded"])
async def test_origin_is_the_base_name_of_the_config_file_used(new_agent: AgentFactory, where: str) -> None:
    if where == "embedded":
        # No -c: the agent runs on the datadog.yaml shipped in the package.
        agent = new_agent(embedded=True)
        expected = "datadog.yaml"
    else:
        agent = new_agent()
        agent.config_file = agent.directory / "core-e2e.yaml"
        agent.write_config()
        expected = "core-e2e.yaml"
    agent.start()
    async with agent.aio_channel() as channel:
        client = StreamClient(agent, channel, await register(agent, channel)).start()
        try:
            snapshot = await client.wait_snapshot()
            assert snapshot.origin == expected
            last = await SettingsApi(agent, channel).set({"log_level": "warn"})
            await client.wait_sequence_id(last)
            assert client.events[-1].update.origin == expected
        finally:
            await client.cancel()
