"""The StreamConfigEvents handler behind a real grpc.aio server with mTLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from comp.core.config.mock import new_mock as new_config_mock
from comp.core.configstream import impl as configstream_impl
from comp.core.configstream.mock import MockConfigStream
from comp.core.configstreamserver import impl as server_impl
from comp.core.configstreamserver.def_ import Component
from comp.core.configstreamserver.impl.handler import (
    MAX_EPOCH_CHARS,
    MAX_NAME_CHARS,
    MSG_SESSION_REQUIRED,
    MSG_SHUTTING_DOWN,
    ConfigStreamHandler,
)
from comp.core.ipc.mock import MockIpc
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import ConfigChange, Setting
from pkg.config.sources import Source
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigEvent, ConfigStreamRequest, ResumeFrom
from pkg.proto.gen.datadog.remoteagent.v1.remoteagent_pb2 import RefreshRemoteAgentRequest
from pkg.protoconv.values import from_value
from pkg.util.lifecycle import Hook, Lifecycle


@dataclass
class Served:
    """The handler served over mTLS, a client stub, and a registered session."""

    handler: Component
    stream: MockConfigStream
    registry: MockRemoteAgentRegistry
    stub: api_pb2_grpc.AgentSecureAsyncStub
    session_id: str


@pytest.fixture(scope="module")
def ipc() -> MockIpc:
    return MockIpc()


@pytest.fixture
def registry() -> MockRemoteAgentRegistry:
    return MockRemoteAgentRegistry()


@pytest.fixture
def stream() -> MockConfigStream:
    return MockConfigStream({"log_level": Setting("info", Source.FILE)}, sequence_id=3)


async def serve(
    ipc: MockIpc,
    lifecycle: Lifecycle,
    provides: server_impl.Provides,
    channel_options: tuple[tuple[str, Any], ...] = (),
) -> tuple[grpc.aio.Server, grpc.aio.Channel]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    provides.grpc_service.register(server)
    port = server.add_secure_port("127.0.0.1:0", ipc.server_credentials())
    await lifecycle.start()
    await server.start()
    return server, secure_channel(f"127.0.0.1:{port}", ipc.client_credentials(), channel_options)


@pytest.fixture
async def served(
    ipc: MockIpc, registry: MockRemoteAgentRegistry, stream: MockConfigStream
) -> AsyncIterator[Served]:
    lifecycle = Lifecycle()
    config = new_config_mock({"remote_agent.configstream.sleep_interval": "1ms"})
    provides = server_impl.new_component(server_impl.Requires(lifecycle, config, stream, registry))
    server, channel = await serve(ipc, lifecycle, provides)
    try:
        session_id, _ = registry.register("42", "system-probe", "System Probe")
        yield Served(provides.comp, stream, registry, api_pb2_grpc.AgentSecureStub(channel), session_id)
    finally:
        await channel.close()
        await server.stop(None)
        await lifecycle.stop()


def open_stream(
    served: Served, *, metadata: tuple[tuple[str, str], ...] = (), name: str = "", session_id: str = ""
) -> Any:
    request = ConfigStreamRequest(name=name, session_id=session_id)
    return served.stub.StreamConfigEvents(request, metadata=metadata, timeout=10)


def session(served: Served) -> tuple[tuple[str, str], ...]:
    return (("session_id", served.session_id),)


async def first_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async with asyncio.timeout(10):
            async for _ in call:
                pass
    return info.value


async def read(call: Any, count: int) -> list[ConfigEvent]:
    events: list[ConfigEvent] = []
    async with asyncio.timeout(10):
        async for event in call:
            events.append(event)
            if len(events) == count:
                break
    return events


@pytest.mark.parametrize(
    ("metadata", "request_session", "code", "details"),
    [
        ((), "", grpc.StatusCode.UNAUTHENTICATED, MSG_SESSION_REQUIRED),
        ((("session_id", ""),), "", grpc.StatusCode.UNAUTHENTICATED, "session_id cannot be empty"),
        ((("session_id", "nope"),), "", grpc.StatusCode.PERMISSION_DENIED, "session_id 'nope' not found"),
        (
            (),
            "old-client-unknown",
            grpc.StatusCode.PERMISSION_DENIED,
            "session_id 'old-client-unknown' not found",
        ),
    ],
)
async def test_session_checks_answer_with_exact_codes_and_messages(
    served: Served, metadata: tuple[tuple[str, str], ...], request_session: str, code: Any, details: str
) -> None:
    error = await first_error(open_stream(served, metadata=metadata, session_id=request_session))
    assert (error.code(), error.details()) == (code, details)
    assert served.stream.subscriber_count == 0
    assert served.stream.subscriptions == []


async def test_disabled_registry_answers_unimplemented_before_anything_else(
    served: Served, registry: MockRemoteAgentRegistry
) -> None:
    registry._enabled = False  # the mock has no setter: flip it as a config change would
    error = await first_error(open_stream(served))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.UNIMPLEMENTED,
        "remote agent registry not enabled",
    )


async def test_metadata_wins_over_request_field_2(served: Served) -> None:
    error = await first_error(
        open_stream(served, metadata=(("session_id", "unknown"),), session_id=served.session_id)
    )
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    call = open_stream(served, metadata=session(served), session_id="ignored")
    assert (await read(call, 1))[0].WhichOneof("event") == "snapshot"
    call.cancel()


async def test_request_field_2_serves_older_clients(served: Served) -> None:
    call = open_stream(served, session_id=served.session_id, name="old-agent")
    assert (await read(call, 1))[0].WhichOneof("event") == "snapshot"
    assert served.stream.subscriptions[0].name == "old-agent"
    call.cancel()


async def test_stream_sends_the_snapshot_then_updates_and_counts_as_a_refresh(served: Served) -> None:
    call = open_stream(served, metadata=session(served), name="system-probe")
    (snapshot,) = await read(call, 1)
    assert served.registry.refreshes[served.session_id] == 1
    assert snapshot.snapshot.sequence_id == 3
    assert [(s.key, from_value(s.value), s.source) for s in snapshot.snapshot.settings] == [
        ("log_level", "info", "file")
    ]
    served.stream.push_update(ConfigChange("log_level", "info", "debug", Source.AGENT_RUNTIME, 4))
    served.stream.push_update(ConfigChange("extra", 1, None, None, 5, unset_source=Source.CLI))
    first, second = await read(call, 2)
    assert (first.update.sequence_id, first.update.setting.key) == (4, "log_level")
    assert from_value(first.update.setting.value) == "debug"
    assert (second.update.setting.unset_source, second.update.setting.source) == ("cli", "")
    assert [e.payload for e in served.stream.subscriptions[0].delivered][1:] == [
        first.SerializeToString(),
        second.SerializeToString(),
    ]
    call.cancel()


async def test_client_cancellation_unsubscribes(served: Served) -> None:
    calls = [open_stream(served, metadata=session(served), name=f"agent-{i}") for i in range(3)]
    for call in calls:
        await read(call, 1)
    assert served.stream.subscriber_count == 3
    assert served.handler.active_streams == 3
    for call in calls:
        call.cancel()
    async with asyncio.timeout(10):
        await served.stream.wait_for_subscribers(0)
    assert all(s.closed for s in served.stream.subscriptions)
    assert served.handler.active_streams == 0


async def test_eviction_ends_the_stream_with_permission_denied(served: Served) -> None:
    other_id, _ = served.registry.register("43", "trace-agent", "Trace Agent")
    evicted = open_stream(served, metadata=session(served))
    kept = open_stream(served, metadata=(("session_id", other_id),))
    await read(evicted, 1)
    await read(kept, 1)

    served.registry.evict(served.session_id)
    error = await first_error(evicted)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert served.session_id in (error.details() or "")
    assert "evicted" in (error.details() or "")
    async with asyncio.timeout(10):
        await served.stream.wait_for_subscribers(1)

    served.stream.push_update(ConfigChange("log_level", "info", "warn", Source.CLI, 4))
    assert (await read(kept, 1))[0].update.sequence_id == 4
    kept.cancel()


async def test_producer_shutdown_ends_the_stream_with_unavailable(served: Served) -> None:
    call = open_stream(served, metadata=session(served))
    await read(call, 1)
    served.stream.close_all()
    error = await first_error(call)
    assert (error.code(), error.details()) == (grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)


async def test_eviction_ends_a_stream_whose_client_does_not_read(
    served: Served, stream: MockConfigStream
) -> None:
    call = open_stream(served, metadata=session(served))
    await read(call, 1)
    big = "x" * 1_000_000
    for sequence_id in range(4, 24):  # far more than the transport buffers for a client that does not read
        stream.push_update(ConfigChange("blob", None, big, Source.CLI, sequence_id))
    async with asyncio.timeout(10):
        await stream.subscriptions[0].wait_delivered(3)  # the writer is past the first big event
    served.registry.evict(served.session_id)
    async with asyncio.timeout(10):
        await stream.wait_for_subscribers(0)
    error = await first_error(call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_drain_ends_every_stream_with_unavailable_and_waits_for_the_handlers(
    served: Served, stream: MockConfigStream
) -> None:
    other_id, _ = served.registry.register("43", "trace-agent", "Trace Agent")
    reading = open_stream(served, metadata=session(served))
    not_reading = open_stream(served, metadata=(("session_id", other_id),))
    await read(reading, 1)
    await read(not_reading, 1)
    big = "x" * 1_000_000
    for sequence_id in range(4, 24):  # the second client reads nothing: its writer is stuck in a write
        stream.push_update(ConfigChange("blob", None, big, Source.CLI, sequence_id))
    async with asyncio.timeout(10):
        await stream.subscriptions[1].wait_delivered(3)
        await served.handler.drain()
    assert served.handler.active_streams == 0
    assert all(s.closed for s in stream.subscriptions)
    for call in (reading, not_reading):
        error = await first_error(call)
        assert (error.code(), error.details()) == (grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)


async def test_a_stream_evicted_then_drained_while_its_write_is_blocked_ends_with_its_status(
    served: Served, stream: MockConfigStream
) -> None:
    call = open_stream(served, metadata=session(served))
    await read(call, 1)
    big = "x" * 1_000_000
    for sequence_id in range(4, 24):  # the client reads nothing more: the write blocks
        stream.push_update(ConfigChange("blob", None, big, Source.CLI, sequence_id))
    async with asyncio.timeout(10):
        await stream.subscriptions[0].wait_delivered(3)
        served.registry.evict(served.session_id)
        await served.handler.drain()  # ends the same stream a second time: its task is cancelled once
    error = await first_error(call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert served.handler.active_streams == 0


async def test_streams_opened_during_the_drain_are_refused(served: Served) -> None:
    async with asyncio.timeout(10):
        await served.handler.drain()  # nothing to end: returns at once
    error = await first_error(open_stream(served, metadata=session(served)))
    assert (error.code(), error.details()) == (grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
    assert served.stream.subscriptions == []
    assert served.registry.refreshes.get(served.session_id, 0) == 0


async def test_the_grpc_service_hands_the_drain_to_the_server(
    ipc: MockIpc, registry: MockRemoteAgentRegistry, stream: MockConfigStream
) -> None:
    provides = server_impl.new_component(
        server_impl.Requires(Lifecycle(), new_config_mock(), stream, registry)
    )
    assert provides.grpc_service.drain == provides.comp.drain


async def test_other_methods_of_the_service_can_come_from_another_contribution(served: Served) -> None:
    # The handler's generic handler answers only StreamConfigEvents: the server goes on to the next
    # generic handler (none here) for the other AgentSecure methods.
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await served.stub.RefreshRemoteAgent(RefreshRemoteAgentRequest(session_id="x"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_real_producer_over_grpc(ipc: MockIpc, registry: MockRemoteAgentRegistry) -> None:
    lifecycle = Lifecycle()
    config = new_config_mock({"log_level": "info"})
    producer = configstream_impl.new_component(
        configstream_impl.Requires(lifecycle, config, MockTelemetry())
    ).comp
    provides = server_impl.new_component(server_impl.Requires(lifecycle, config, producer, registry))
    server, channel = await serve(ipc, lifecycle, provides)
    try:
        session_id, _ = registry.register("42", "system-probe", "System Probe")
        stub = api_pb2_grpc.AgentSecureStub(channel)
        call = stub.StreamConfigEvents(ConfigStreamRequest(name="probe", session_id=session_id), timeout=10)
        (snapshot,) = await read(call, 1)
        settings = {s.key: (from_value(s.value), s.source) for s in snapshot.snapshot.settings}
        assert settings == {k: (v, str(config.get_source(k))) for k, v in config.all_settings().items()}
        config.set("log_level", "debug", Source.AGENT_RUNTIME)
        (update,) = await read(call, 1)
        assert update.update.sequence_id == snapshot.snapshot.sequence_id + 1
        assert (update.update.setting.key, from_value(update.update.setting.value)) == ("log_level", "debug")
        call.cancel()
    finally:
        await channel.close()
        await server.stop(None)
        await lifecycle.stop()


async def test_eviction_while_the_first_write_is_in_flight_still_sends_permission_denied(
    served: Served, stream: MockConfigStream, caplog: pytest.LogCaptureFixture
) -> None:
    # The handler has taken the snapshot and awaits its context.write: the send is in the core.
    # Cancelling that write, then aborting, made the core refuse the status batch (the initial
    # metadata of the first write was still pending): the client never got its status.
    call = open_stream(served, metadata=session(served))
    async with asyncio.timeout(10):
        await stream.wait_for_subscribers(1)
        await stream.subscriptions[0].wait_delivered(1)
    served.registry.evict(served.session_id)
    events: list[ConfigEvent] = []
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async with asyncio.timeout(10):
            async for event in call:
                events.append(event)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [e.WhichOneof("event") for e in events] == ["snapshot"], "the write in flight was completed"
    assert "ExecuteBatchError" not in caplog.text
    assert served.handler.active_streams == 0


async def test_a_write_blocked_by_flow_control_is_ended_and_the_client_gets_its_status_when_it_reads(
    ipc: MockIpc,
    registry: MockRemoteAgentRegistry,
    stream: MockConfigStream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = ConfigStreamHandler(stream, registry, sleep_interval=0.001, write_grace=0.05)
    lifecycle = Lifecycle()
    lifecycle.append(Hook("handler", on_start=handler.start, on_stop=handler.stop))
    provides = server_impl.Provides(comp=handler, grpc_service=server_impl.new_grpc_service(handler))
    # A 1 KiB receive window that does not grow: a client that stops reading blocks the core's writes.
    narrow_window = (("grpc.http2.bdp_probe", 0), ("grpc.http2.lookahead_bytes", 1024))
    server, narrow = await serve(ipc, lifecycle, provides, narrow_window)
    try:
        session_id, _ = registry.register("42", "system-probe", "System Probe")
        call = api_pb2_grpc.AgentSecureStub(narrow).StreamConfigEvents(
            ConfigStreamRequest(), metadata=(("session_id", session_id),), timeout=20
        )
        await read(call, 1)
        big = "x" * 1_000_000
        pushed = [
            stream.push_update(ConfigChange("blob", None, f"{i}{big}", Source.CLI, i)) for i in range(4, 24)
        ]
        subscription = stream.subscriptions[0]
        async with asyncio.timeout(10):
            await subscription.wait_delivered(2)  # the handler writes the first big event
        with caplog.at_level(logging.INFO):
            registry.evict(session_id)
            async with asyncio.timeout(10):
                await stream.wait_for_subscribers(0)  # at once: the subscription is closed
                # Returns once the stream's handler is done: after the grace, the blocked write cancelled.
                await handler.drain()
            assert handler.active_streams == 0
        assert "a write is blocked (the client reads nothing): cancelled" in caplog.text
        taken = len(subscription.delivered) - 1  # updates the handler took (the snapshot was read)

        updates: list[ConfigEvent] = []
        with pytest.raises(grpc.aio.AioRpcError) as info:
            async with asyncio.timeout(10):
                async for event in call:
                    updates.append(event)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "evicted" in (info.value.details() or "")
        # What the handler took was written, the blocked write included, in order, then the status.
        assert [e.SerializeToString() for e in updates] == [e.payload for e in pushed[:taken]]
        assert taken < len(pushed)
        assert "ExecuteBatchError" not in caplog.text
    finally:
        await narrow.close()
        await server.stop(None)
        await lifecycle.stop()


async def test_a_name_one_past_its_bound_is_refused_naming_the_field_and_the_limit(served: Served) -> None:
    error = await first_error(open_stream(served, metadata=session(served), name="n" * (MAX_NAME_CHARS + 1)))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"name is too long: {MAX_NAME_CHARS + 1} characters, the limit is {MAX_NAME_CHARS}",
    )
    assert served.stream.subscriptions == []
    call = open_stream(served, metadata=session(served), name="n" * MAX_NAME_CHARS)
    assert (await read(call, 1))[0].WhichOneof("event") == "snapshot"
    call.cancel()


async def test_a_resume_epoch_past_its_bound_is_refused(served: Served) -> None:
    request = ConfigStreamRequest(resume_from=ResumeFrom(epoch="e" * (MAX_EPOCH_CHARS + 1)))
    call = served.stub.StreamConfigEvents(request, metadata=session(served), timeout=10)
    error = await first_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"resume_from.epoch is too long: {MAX_EPOCH_CHARS + 1} characters" in (error.details() or "")


@pytest.mark.parametrize("where", ["metadata", "request"])
async def test_a_huge_session_id_is_unknown_and_never_echoed_whole(served: Served, where: str) -> None:
    huge = "s" * (5_000 if where == "metadata" else 1_000_000)  # metadata: under grpc's 8 KiB limit
    if where == "metadata":
        call = open_stream(served, metadata=(("session_id", huge),))
    else:
        call = open_stream(served, session_id=huge)
    error = await first_error(call)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    details = error.details() or ""
    assert details.startswith("session_id 'sss") and details.endswith("not found")
    assert len(details) < 200
    assert served.registry.refreshes == {}
