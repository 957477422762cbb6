"""The public facades over the consumer: the async ConfigStream, the threaded SyncConfigStream and
their mocks; the location rules of connect_config_stream."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from pathlib import Path
from typing import Any

import pytest

from comp.core.configstreamconsumer import (
    ChangeEvent,
    ConsumerState,
    KeyNotStreamedError,
    MissingSettingError,
    NotReadyError,
    Source,
    SyncConfigStream,
    connect_config_stream,
)
from comp.core.configstreamconsumer.mock import MockConfigStream, MockSyncConfigStream
from comp.core.configstreamconsumer.stream import Location, config_stream_params
from comp.core.ipc.mock import MockIpc
from pkg.config.errors import ConfigValueError
from pkg.ipc import DEFAULT_MAX_MESSAGE_BYTES, IpcError
from tests.support import wire
from tests.support.fake_core import FakeCore

WAIT = 10.0


# --- the async facade, over its mock ------------------------------------------------------------


async def test_config_stream_reads_never_guess() -> None:
    config = MockConfigStream({"log_level": "info", "cmd_port": 5001.0, "my_agent.workers": "4"})
    assert config.get_string("log_level") == "info"
    assert config.get_int("cmd_port") == 5001
    assert config.get_int("my_agent.workers") == 4
    assert config.get_int("my_agent.batch", default=100) == 100
    assert config.get_source("log_level") == Source.FILE
    assert not config.is_set("absent") and config.is_set("log_level")
    assert config.sequence_id == 1
    assert config.all_settings()["log_level"] == "info"
    with pytest.raises(KeyError) as missing:
        config.get_string("log_levl")
    assert isinstance(missing.value, MissingSettingError)
    assert str(missing.value) == (
        "setting 'log_levl' is not set and no default was given; did you mean 'log_level'?"
    )
    with pytest.raises(ConfigValueError, match=r"invalid value for 'log_level': 'info', expected an integer"):
        config.get_int("log_level")


async def test_mock_config_stream_pushes_changes_and_simulates_a_disconnect() -> None:
    config = MockConfigStream({"log_level": "info", "logs_config.enabled": False})
    changes = config.changes(prefix="log")
    config.set("log_level", "debug")
    config.disconnect()
    assert config.state == ConsumerState.DISCONNECTED
    assert config.get_string("log_level") == "debug"  # the last view keeps answering
    config.reconnect({"log_level": "debug", "logs_config.enabled": True})
    assert config.state in (ConsumerState.READY,)
    seen = [await asyncio.wait_for(anext(changes), WAIT) for _ in range(3)]
    assert seen == [
        ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME),
        # the new snapshot: log_level's source changed, logs_config.enabled its value
        ChangeEvent("log_level", "debug", "debug", Source.FILE),
        ChangeEvent("logs_config.enabled", False, True, Source.FILE),
    ]
    await config.close()
    assert [event async for event in changes] == []


async def test_a_mock_without_a_view_is_not_ready_until_reconnect() -> None:
    config = MockConfigStream()
    with pytest.raises(NotReadyError):
        await config.wait_ready(0.01)
    config.reconnect({"a": 1})
    await config.wait_ready(0.01)
    assert config.get_int("a") == 1


# --- locating the core agent ----------------------------------------------------------------------


def test_params_follow_the_config_file_like_the_binaries(tmp_path: Path) -> None:
    config_file = tmp_path / "datadog.yaml"
    config_file.write_text("cmd_host: 127.0.0.1\ncmd_port: 6001\n", encoding="utf-8")
    params = config_stream_params("my-agent", Location(config_file=config_file), environ={})
    assert params.ipc_address == "127.0.0.1:6001"
    assert params.auth_token_file == tmp_path / "auth_token"
    assert params.cert_file == tmp_path / "ipc_cert.pem"
    assert (params.name, params.flavor, params.display_name) == ("my-agent", "my-agent", "my-agent")


def test_params_without_a_config_file_use_the_environment_and_state_dir(tmp_path: Path) -> None:
    environ = {"DD_CMD_PORT": "7001", "XDG_STATE_HOME": str(tmp_path)}
    params = config_stream_params("a", environ=environ, display_name="Agent A")
    assert params.ipc_address == "localhost:7001"
    assert params.auth_token_file == tmp_path / "core-agent" / "auth_token"
    assert params.display_name == "Agent A"
    explicit = config_stream_params("a", Location(address="10.0.0.1:1", state_dir=tmp_path), environ={})
    assert explicit.ipc_address == "10.0.0.1:1"
    assert explicit.cert_file == tmp_path / "ipc_cert.pem"


def test_bad_location_settings_fail_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(IpcError, match=r"DD_CMD_PORT.*'cmd_port': 'x', expected a port number"):
        config_stream_params("a", environ={"DD_CMD_PORT": "x"})
    with pytest.raises(IpcError, match="cannot read config file"):
        config_stream_params("a", Location(config_file=tmp_path / "missing.yaml"), environ={})
    with pytest.raises(ValueError, match="name: blank"):
        config_stream_params(" ", environ={})


def test_params_accept_the_message_size_given_else_the_core_config_s_else_the_declared_one(
    tmp_path: Path,
) -> None:
    assert config_stream_params("a", environ={}).max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES
    config_file = tmp_path / "datadog.yaml"
    config_file.write_text("agent_ipc:\n  grpc_max_message_size: 16777216\n", encoding="utf-8")
    located = config_stream_params("a", Location(config_file=config_file), environ={})
    assert located.max_message_bytes == 16 * 1024 * 1024
    from_env = config_stream_params("a", environ={"DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE": "8388608"})
    assert from_env.max_message_bytes == 8 * 1024 * 1024
    given = config_stream_params(
        "a", Location(config_file=config_file), environ={}, max_message_bytes=5 << 20
    )
    assert given.max_message_bytes == 5 << 20
    with pytest.raises(ValueError, match="max_message_bytes: 0, expected bytes > 0"):
        config_stream_params("a", environ={}, max_message_bytes=0)


async def test_connect_without_a_core_fails_clearly_and_leaves_nothing_running(
    tmp_path: Path, free_address: str
) -> None:
    MockIpc(tmp_path)
    tasks_before = asyncio.all_tasks()
    with pytest.raises(NotReadyError) as info:
        async with connect_config_stream(
            "my-agent", state_dir=tmp_path, address=free_address, ready_timeout=0.5
        ):
            pytest.fail("connected to nothing")
    assert "not ready after 0.5s" in str(info.value)
    assert free_address in str(info.value)
    assert asyncio.all_tasks() == tasks_before


async def test_connect_config_stream_accepts_a_snapshot_as_large_as_max_message_bytes(core: FakeCore) -> None:
    big = "x" * (5 * 1024 * 1024)

    async def answer() -> None:
        (await core.next_stream()).push(wire.snapshot(3, {"log_level": "info", "custom.big": big}))

    answering = asyncio.create_task(answer())
    async with connect_config_stream(
        "my-agent",
        state_dir=core.ipc.paths.auth_token.parent,
        address=core.address,
        max_message_bytes=8 * 1024 * 1024,
        ready_timeout=WAIT,
    ) as config:
        await answering
        assert config.get_string("custom.big") == big


# --- the threaded facade -------------------------------------------------------------------------


@pytest.mark.usefixtures("no_leaked_threads")
def test_sync_stream_reads_and_calls_back_on_its_own_thread() -> None:
    seen: queue.Queue[tuple[ChangeEvent, str]] = queue.Queue()
    with MockSyncConfigStream({"log_level": "info", "hostname": "h"}) as config:
        config.wait_ready(WAIT)
        assert config.get_string("log_level") == "info"
        assert config.get_int("workers", default=2) == 2
        with pytest.raises(MissingSettingError, match=r"'hostnme'.*did you mean 'hostname'"):
            config.get_string("hostnme")
        unsubscribe = config.on_change(
            lambda change: seen.put((change, threading.current_thread().name)), keys=["log_level"]
        )
        config.set("hostname", "other")  # not a key of the subscription
        config.set("log_level", "debug")
        change, thread = seen.get(timeout=WAIT)
        assert change == ChangeEvent("log_level", "info", "debug", Source.AGENT_RUNTIME)
        assert thread.startswith("config-stream callbacks")
        assert config.get_string("log_level") == "debug"
        unsubscribe()
        unsubscribe()
        config.set("log_level", "warn")
        config.on_change(lambda change: seen.put((change, "second")))
        config.set("log_level", "error")
        change, who = seen.get(timeout=WAIT)
        assert (change.new, who) == ("error", "second")  # the first callback no longer runs
    assert seen.empty()
    assert config.get_string("log_level") == "error"  # reads answer after close
    with pytest.raises(RuntimeError, match="closed"):
        config.wait_ready(1)


@pytest.mark.usefixtures("no_leaked_threads")
def test_a_failing_callback_is_logged_and_the_next_change_delivered(caplog: pytest.LogCaptureFixture) -> None:
    delivered: queue.Queue[object] = queue.Queue()

    def callback(change: ChangeEvent) -> None:
        if change.new == "bad":
            raise RuntimeError("boom")
        delivered.put(change.new)

    with MockSyncConfigStream({"k": "a"}) as config, caplog.at_level(logging.ERROR):
        config.on_change(callback)
        config.set("k", "bad")
        config.set("k", "good")
        assert delivered.get(timeout=WAIT) == "good"
    assert "change callback" in caplog.text and "boom" in caplog.text


@pytest.mark.usefixtures("no_leaked_threads")
def test_disconnect_keeps_the_view_and_a_reconnect_publishes_the_difference() -> None:
    seen: queue.Queue[ChangeEvent] = queue.Queue()
    config = MockSyncConfigStream({"a": 1, "b": 2})
    try:
        config.on_change(seen.put)
        config.disconnect()
        assert config.state == ConsumerState.DISCONNECTED
        assert config.get_int("a") == 1
        config.reconnect({"a": 1, "b": 3})
        assert seen.get(timeout=WAIT) == ChangeEvent("b", 2, 3, Source.FILE)
        assert config.state in (ConsumerState.READY,)
    finally:
        config.close()
        config.close()


@pytest.mark.usefixtures("no_leaked_threads")
def test_close_from_a_callback_is_refused() -> None:
    errors: queue.Queue[BaseException] = queue.Queue()
    with MockSyncConfigStream({"a": 1}) as config:

        def callback(change: ChangeEvent) -> None:
            try:
                config.close()
            except RuntimeError as exc:
                errors.put(exc)

        config.on_change(callback)
        config.set("a", 2)
        assert "cannot be called from a change callback" in str(errors.get(timeout=WAIT))


@pytest.mark.usefixtures("no_leaked_threads")
def test_sync_stream_without_a_core_times_out_clearly(tmp_path: Path, free_address: str) -> None:
    MockIpc(tmp_path)
    with SyncConfigStream("my-agent", state_dir=tmp_path, address=free_address) as config:
        with pytest.raises(NotReadyError, match=rf"not ready after 0.3s: .*{free_address}"):
            config.wait_ready(0.3)
        assert config.state in (ConsumerState.CONNECTING, ConsumerState.DISCONNECTED)
        with pytest.raises(MissingSettingError):
            config.get_string("log_level")


@pytest.mark.usefixtures("no_leaked_threads")
def test_sync_stream_with_bad_arguments_starts_no_thread() -> None:
    with pytest.raises(IpcError, match="DD_CMD_PORT"):
        SyncConfigStream("my-agent", environ={"DD_CMD_PORT": "0"})


# --- the key filter through both facades, against the scripted core ----------------------------


async def test_connect_config_stream_asks_for_its_filter(core: FakeCore) -> None:

    async def answer() -> Any:
        stream = await core.next_stream()
        stream.push(wire.snapshot(3, {"log_level": "info", "hostname": "h", "my_agent.port": 1}))
        return stream

    answering = asyncio.create_task(answer())
    async with connect_config_stream(
        "my-agent",
        state_dir=core.ipc.paths.auth_token.parent,
        address=core.address,
        keys=["log_level"],
        prefixes=["my_agent"],
    ) as config:
        stream = await answering
        assert stream.key_filter == (("log_level",), ("my_agent",))
        assert config.all_settings() == {"log_level": "info", "my_agent.port": 1}
        with pytest.raises(KeyNotStreamedError, match="'hostname'"):
            config.get_string("hostname", default="")
        assert config.liveness.last_event_at is not None


@pytest.mark.usefixtures("no_leaked_threads")
async def test_sync_config_stream_asks_for_its_filter(core: FakeCore) -> None:
    config = SyncConfigStream(
        "my-agent", state_dir=core.ipc.paths.auth_token.parent, address=core.address, keys=["log_level"]
    )
    try:
        stream = await core.next_stream()
        assert stream.key_filter == (("log_level",), ())
        stream.push(wire.snapshot(3, {"log_level": "info", "hostname": "h"}))
        await asyncio.to_thread(config.wait_ready, WAIT)
        assert config.all_settings() == {"log_level": "info"}
        with pytest.raises(KeyNotStreamedError, match="'hostname'"):
            config.get("hostname")
    finally:
        await asyncio.to_thread(config.close)
