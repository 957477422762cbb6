"""How the handler reacts to send errors, eviction and cancellation, with a scripted servicer context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import grpc
import pytest

from comp.core.config.mock import new_mock as new_config_mock
from comp.core.configstream.mock import MockConfigStream
from comp.core.configstreamserver.def_ import ConfigStreamContext
from comp.core.configstreamserver.impl import Requires, new_component
from comp.core.configstreamserver.impl.handler import (
    TERMINAL_SEND_CODES,
    ConfigStreamHandler,
    send_error_code,
)
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from pkg.config.change import ConfigChange
from pkg.config.sources import Source
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest
from pkg.util.lifecycle import Lifecycle


class AbortedError(Exception):
    """What the scripted context's ``abort`` raises, like grpc.aio's AbortError."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


def rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="scripted")


class ScriptedContext:
    """A servicer context whose writes fail, block or succeed as the test scripted them."""

    def __init__(self, session_id: str, failures: list[BaseException | None] | None = None) -> None:
        self._metadata = (("session_id", session_id),)
        self.failures = list(failures or [])
        self.written: list[bytes] = []
        self.block_writes = False
        self.writing = asyncio.Event()
        self.headers: tuple[tuple[str, str], ...] | None = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    async def send_initial_metadata(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.headers = metadata

    async def write(self, message: bytes) -> None:
        self.writing.set()
        if self.block_writes:
            await asyncio.Event().wait()
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        self.written.append(message)

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise AbortedError(code, details)


@pytest.fixture
async def handler() -> AsyncIterator[tuple[ConfigStreamHandler, MockConfigStream, MockRemoteAgentRegistry]]:
    lifecycle = Lifecycle()
    stream, registry = MockConfigStream(), MockRemoteAgentRegistry()
    config = new_config_mock({"remote_agent.configstream.sleep_interval": "1ms"})
    comp = new_component(Requires(lifecycle, config, stream, registry)).comp
    assert isinstance(comp, ConfigStreamHandler)
    await lifecycle.start()
    yield comp, stream, registry
    await lifecycle.stop()


def run(handler: ConfigStreamHandler, context: ScriptedContext, name: str = "agent") -> asyncio.Task[None]:
    request = ConfigStreamRequest(name=name)
    return asyncio.create_task(handler.stream_config_events(request, cast(ConfigStreamContext, context)))


def push(stream: MockConfigStream, *sequence_ids: int) -> list[bytes]:
    return [stream.push_update(ConfigChange("k", None, i, Source.CLI, i)).payload for i in sequence_ids]


async def test_a_non_terminal_send_error_drops_the_event_and_goes_on(handler: Any) -> None:
    comp, stream, registry = handler
    session_id, _ = registry.register("1", "probe", "Probe")
    context = ScriptedContext(session_id, [rpc_error(grpc.StatusCode.INTERNAL), None, RuntimeError("odd")])
    task = run(comp, context)
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        payloads = push(stream, 1, 2, 3, 4)
        await stream.subscriptions[0].wait_delivered(4)
    stream.close_all()
    with pytest.raises(AbortedError) as info:
        async with asyncio.timeout(5):
            await task
    assert info.value.code == grpc.StatusCode.UNAVAILABLE  # the producer closed
    assert context.written == [payloads[1], payloads[3]]


@pytest.mark.parametrize(
    "failure",
    [
        *(rpc_error(code) for code in sorted(TERMINAL_SEND_CODES, key=str)),
        grpc.aio.UsageError("RPC already finished."),
        grpc.aio.InternalError("batch failed"),
    ],
)
async def test_terminal_send_errors_end_the_stream(handler: Any, failure: BaseException) -> None:
    comp, stream, registry = handler
    session_id, _ = registry.register("1", "probe", "Probe")
    task = run(comp, ScriptedContext(session_id, [failure]))
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        push(stream, 1, 2)
        await task  # returns: nobody is left to tell
    assert stream.subscriber_count == 0
    assert stream.subscriptions[0].delivered[1:] == []  # nothing after the failed event
    assert comp.active_streams == 0


async def test_eviction_ends_a_stream_blocked_in_a_write(handler: Any) -> None:
    comp, stream, registry = handler
    session_id, _ = registry.register("1", "probe", "Probe")
    context = ScriptedContext(session_id)
    context.block_writes = True
    task = run(comp, context)
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        push(stream, 1)
        await context.writing.wait()
    registry.evict(session_id)
    with pytest.raises(AbortedError) as info:
        async with asyncio.timeout(5):
            await task
    assert info.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert "evicted" in info.value.details
    assert stream.subscriber_count == 0
    assert comp.active_streams == 0


async def test_cancellation_during_a_write_propagates_and_unsubscribes(handler: Any) -> None:
    comp, stream, registry = handler
    session_id, _ = registry.register("1", "probe", "Probe")
    context = ScriptedContext(session_id)
    context.block_writes = True
    task = run(comp, context)
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        push(stream, 1)
        await context.writing.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
    assert stream.subscriber_count == 0
    assert comp.active_streams == 0


async def test_eviction_of_another_session_leaves_the_stream_alone(handler: Any) -> None:
    comp, stream, registry = handler
    mine, _ = registry.register("1", "probe", "Probe")
    other, _ = registry.register("2", "trace", "Trace")
    context = ScriptedContext(mine)
    task = run(comp, context)
    async with asyncio.timeout(5):
        await stream.wait_for_subscribers(1)
        registry.evict(other)
        payloads = push(stream, 1)
        await stream.subscriptions[0].wait_delivered(1)
    assert not task.done()
    assert comp.active_streams == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert context.written == payloads


def test_send_error_codes() -> None:
    assert (
        send_error_code(rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    assert send_error_code(grpc.aio.UsageError("finished")) == grpc.StatusCode.CANCELLED
    assert send_error_code(grpc.aio.InternalError("x")) == grpc.StatusCode.UNAVAILABLE
    assert send_error_code(ValueError("x")) is None
