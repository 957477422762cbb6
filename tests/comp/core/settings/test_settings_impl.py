"""The runtime settings service, served by the real IPC gRPC server with real mTLS."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml

from comp.api.grpcserver import def_ as grpcserver_def
from comp.api.grpcserver import impl as grpcserver_impl
from comp.api.grpcserver.def_ import ServingState
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.configstream.mock import MockConfigStream
from comp.core.ipc.mock import MockIpc
from comp.core.ipc.mock import new_mock as new_ipc_mock
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.settings.def_ import Component
from comp.core.settings.impl import Requires, new_component
from comp.core.settings.impl.change_log import LOGGED_KEYS
from comp.core.settings.impl.runtime_settings import mask_secret, parse_text_value
from pkg.config.model import LayeredConfig
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source
from pkg.ipc import secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2 as pb
from pkg.proto.gen.configstream.settings.v1 import settings_pb2_grpc
from pkg.protoconv.values import from_value
from pkg.util.lifecycle import Lifecycle

API_KEY = "0123456789abcdef0123456789abwxyz"
SETTINGS_LOGGER = "comp.core.settings.impl"


def _schema() -> Schema:
    """The core's keys, and ``custom.*`` declared as an open group (as a remote agent may)."""
    schema = default_schema()
    schema.declare_open_group("custom", "test settings")
    return schema


@dataclass
class Harness:
    config: LayeredConfig
    settings: Component
    stub: settings_pb2_grpc.SettingsAsyncStub
    metadata: tuple[tuple[str, str], ...]
    registry: MockRemoteAgentRegistry
    configstream: MockConfigStream


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    config = new_config_mock(
        {
            "cmd_host": "127.0.0.1",
            "cmd_port": 0,
            "log_level": "info",
            "hostname": "host-a",
            "api_key": API_KEY,
            "tags": ["env:test"],
            "custom.db_password": "hunter2-is-long-enough",
        },
        config_file=Path("/etc/agent/datadog.yaml"),
        schema=_schema(),
    )
    registry = MockRemoteAgentRegistry()
    configstream = MockConfigStream()
    ipc: MockIpc = new_ipc_mock()
    lifecycle = Lifecycle()
    state = ServingState()
    settings = new_component(Requires(lifecycle, config, registry, configstream, [state.status]))
    server = grpcserver_impl.new_component(
        grpcserver_impl.Requires(
            lifecycle,
            config,
            ipc,
            [settings.grpc_service],
            params=grpcserver_def.Params(stop_grace=0.1),
            state=state,
        )
    ).comp
    await lifecycle.start()
    try:
        async with secure_channel(server.address, ipc.client_credentials()) as channel:
            yield Harness(
                config,
                settings.comp,
                settings_pb2_grpc.SettingsStub(channel),
                ipc.auth_metadata(),
                registry,
                configstream,
            )
    finally:
        await lifecycle.stop()


async def test_get_returns_value_and_source(harness: Harness) -> None:
    reply = await harness.stub.GetSetting(pb.GetSettingRequest(key="hostname"), metadata=harness.metadata)
    assert reply.found
    assert from_value(reply.setting.value) == "host-a"
    assert reply.setting.source == "file"
    assert not reply.setting.masked

    reply = await harness.stub.GetSetting(pb.GetSettingRequest(key="cmd_port"), metadata=harness.metadata)
    assert from_value(reply.setting.value) == 0


async def test_get_of_an_absent_key_is_not_found(harness: Harness) -> None:
    reply = await harness.stub.GetSetting(pb.GetSettingRequest(key="no.such.key"), metadata=harness.metadata)
    assert not reply.found


async def test_secrets_are_masked(harness: Harness) -> None:
    reply = await harness.stub.GetSetting(pb.GetSettingRequest(key="api_key"), metadata=harness.metadata)
    assert reply.setting.masked
    assert from_value(reply.setting.value) == "*" * 27 + "bwxyz"

    listing = await harness.stub.ListSettings(pb.ListSettingsRequest(), metadata=harness.metadata)
    by_key = {s.key: s for s in listing.settings}
    assert by_key["api_key"].masked and from_value(by_key["api_key"].value) == "*" * 27 + "bwxyz"
    assert by_key["custom.db_password"].masked
    assert "hunter2" not in str(listing)
    assert API_KEY not in str(listing)

    # A prefix returns its leaves as a map, secrets still masked.
    reply = await harness.stub.GetSetting(pb.GetSettingRequest(key="custom"), metadata=harness.metadata)
    assert from_value(reply.setting.value) == {"db_password": "********"}


async def test_list_filters_by_prefix_and_sorts(harness: Harness) -> None:
    listing = await harness.stub.ListSettings(
        pb.ListSettingsRequest(prefix="remote_agent.registry."), metadata=harness.metadata
    )
    keys = [s.key for s in listing.settings]
    assert keys == sorted(keys)
    assert "remote_agent.registry.idle_timeout" in keys
    assert all(k.startswith("remote_agent.registry.") for k in keys)
    assert listing.sequence_id == harness.config.sequence_id


async def test_set_applies_parsed_values_at_agent_runtime(harness: Harness) -> None:
    before = harness.config.sequence_id
    reply = await harness.stub.SetSettings(
        pb.SetSettingsRequest(
            values={"log_level": "debug", "logs_config.enabled": "true", "tags": "[a, b]", "hostname": "yes"}
        ),
        metadata=harness.metadata,
    )
    config = harness.config
    assert reply.sequence_id == config.sequence_id == before + 4
    assert config.get_string("log_level") == "debug"
    assert config.get_source("log_level") is Source.AGENT_RUNTIME
    assert config.get("logs_config.enabled") is True
    assert config.get("tags") == ["a", "b"]
    # YAML reads "yes" as true; a string key keeps the text as given.
    assert config.get("hostname") == "yes"


@pytest.mark.parametrize("text", ["007", "0x1f", "1_000", "1.50", "null", "[a, b]", "'quoted'"])
async def test_a_key_declared_as_string_keeps_the_text_as_given(harness: Harness, text: str) -> None:
    await harness.stub.SetSettings(
        pb.SetSettingsRequest(values={"hostname": text, "api_key": text}), metadata=harness.metadata
    )
    assert harness.config.get("hostname") == text
    assert harness.config.get("api_key") == text


async def test_an_undeclared_key_is_read_as_yaml(harness: Harness) -> None:
    await harness.stub.SetSettings(
        pb.SetSettingsRequest(values={"custom.count": "007", "custom.list": "[a, b]"}),
        metadata=harness.metadata,
    )
    assert harness.config.get("custom.count") == 7
    assert harness.config.get("custom.list") == ["a", "b"]


async def test_a_change_is_logged_once_at_info_with_its_keys_and_never_its_values(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    values = {f"custom.k{i:02d}": f"secret-{i}" for i in range(LOGGED_KEYS + 2)}
    with caplog.at_level(logging.INFO, logger=SETTINGS_LOGGER):
        reply = await harness.stub.SetSettings(
            pb.SetSettingsRequest(values=values), metadata=harness.metadata
        )
    records = [r for r in caplog.records if r.name == SETTINGS_LOGGER]
    assert [r.levelno for r in records] == [logging.INFO]
    message = records[0].getMessage()
    assert f"sequence id {reply.sequence_id}" in message
    assert message.endswith(", ".join(sorted(values)[:LOGGED_KEYS]) + " and 2 more")
    assert "secret-" not in message


async def test_bad_value_is_invalid_argument_and_changes_nothing(harness: Harness) -> None:
    before = harness.config.sequence_id
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.SetSettings(
            pb.SetSettingsRequest(values={"log_level": "debug", "logs_config.enabled": "maybe"}),
            metadata=harness.metadata,
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "logs_config.enabled" in (err.value.details() or "")
    assert "maybe" in (err.value.details() or "")
    assert harness.config.sequence_id == before
    assert harness.config.get_string("log_level") == "info"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.SetSettings(pb.SetSettingsRequest(values={}), metadata=harness.metadata)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_unset_falls_back_to_the_lower_source(harness: Harness) -> None:
    await harness.stub.SetSettings(pb.SetSettingsRequest(values={"hostname": "b"}), metadata=harness.metadata)
    reply = await harness.stub.UnsetSetting(pb.UnsetSettingRequest(key="hostname"), metadata=harness.metadata)
    assert reply.sequence_id == harness.config.sequence_id
    assert harness.config.get("hostname") == "host-a"
    assert harness.config.get_source("hostname") is Source.FILE

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await harness.stub.UnsetSetting(pb.UnsetSettingRequest(key=""), metadata=harness.metadata)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_status_reports_the_agent(harness: Harness) -> None:
    session_id, _ = harness.registry.register("42", "system-probe", "System Probe")
    harness.configstream.subscribe("a")
    harness.configstream.subscribe("b")
    lower = time.time() - time.monotonic()
    status = await harness.stub.Status(pb.StatusRequest(), metadata=harness.metadata)
    upper = time.time() - time.monotonic()

    assert status.pid == os.getpid()
    assert status.listen_address.startswith("127.0.0.1:")
    assert not status.listen_address.endswith(":0")
    assert status.config_file == "/etc/agent/datadog.yaml"
    assert status.sequence_id == harness.config.sequence_id
    assert status.stream_subscribers == 2
    assert 0 < status.started_unix <= time.time()
    [agent] = status.remote_agents
    assert (agent.session_id, agent.display_name, agent.flavor, agent.pid) == (
        session_id,
        "System Probe",
        "system-probe",
        "42",
    )
    last_seen = harness.registry.list()[0].last_seen
    assert lower + last_seen - 0.01 <= agent.last_seen_unix <= upper + last_seen + 0.01


def test_status_without_optional_parts_uses_the_configured_address() -> None:
    config = new_config_mock({"cmd_host": "localhost", "cmd_port": 5123})
    settings = new_component(Requires(Lifecycle(), config)).comp
    status = settings.status()
    assert status.listen_address == "localhost:5123"
    assert status.remote_agents == ()
    assert status.stream_subscribers == 0
    assert status.config_file == ""


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("", ""), ("short", "********"), ("0123456789ab", "********"), (12345678901234, "********")],
)
def test_mask_secret(secret: object, shown: str) -> None:
    assert mask_secret(secret) == shown
    assert mask_secret(secret, "db_password") == shown


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("true", True),
        ("[a, b]", ["a", "b"]),
        ("{k: v}", {"k": "v"}),
        ("", ""),
        ("a: [b", "a: [b"),
    ],
)
def test_parse_text_value(text: str, value: object) -> None:
    assert parse_text_value(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "ts-1764300000000000000",
        "1.5",
        "0x1F",
        "~",
        "'quoted'",
        "2001-12-14",
        "- a\n- b",
        "yes",
        "!!binary aGVsbG8=",
    ],
)
def test_parse_text_value_reads_what_the_pure_python_loader_reads(text: str) -> None:
    value, expected = parse_text_value(text), yaml.load(text, Loader=yaml.SafeLoader)
    assert (type(value), value) == (type(expected), expected)


def test_parse_text_value_where_libyaml_refuses_reads_as_the_pure_python_loader() -> None:
    assert parse_text_value('"\\ud800"') == "\ud800"  # an escape libyaml rejects


@pytest.mark.parametrize("text", ["!!int x", "!!int \xa0", "!!float [1]", "!!timestamp 2001-13-45"])
def test_text_that_a_tag_cannot_build_stays_as_given(text: str) -> None:
    assert parse_text_value(text) == text


def test_status_shows_what_each_contribution_returns_when_asked() -> None:
    config = new_config_mock({"cmd_host": "localhost", "cmd_port": 5123})
    state = ServingState(address="127.0.0.1:6000", health="SERVING")
    fleet = {"enabled": False}
    settings = new_component(
        Requires(
            Lifecycle(),
            config,
            status_providers=[state.status, lambda: {"fleet": fleet, "telemetry_url": "http://x/metrics"}],
        )
    ).comp
    status = settings.status()
    assert (status.listen_address, status.health) == ("127.0.0.1:6000", "SERVING")
    assert (status.fleet, status.telemetry_url) == (fleet, "http://x/metrics")
    state.health = "NOT_SERVING"  # read at each request, not at construction
    assert settings.status().health == "NOT_SERVING"
