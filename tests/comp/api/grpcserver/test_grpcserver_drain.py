"""The server's stop: NOT_SERVING, then every service's drain, then the stop of the server.

The servers here have a stop grace far longer than the tests' own timeouts, so a stop that waited for
the grace instead of draining would fail them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from comp.api.grpcserver.def_ import Component, GrpcService, Params
from comp.api.grpcserver.impl import Requires, new_component
from comp.api.grpcserver.impl.server import GrpcServer
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import MockIpc, new_mock
from pkg.config.reader import MissingSettingError
from pkg.config.schema import Schema
from pkg.ipc import secure_channel
from pkg.util.lifecycle import Lifecycle

LONG_GRACE = 60.0
WAIT = 10.0


class StreamingService:
    """``test.v1.<name>/Stream`` holds its calls open until :meth:`drain` ends them with UNAVAILABLE."""

    def __init__(self, name: str) -> None:
        self.name = f"test.v1.{name}"
        self.stream_open = asyncio.Event()
        self.draining = asyncio.Event()
        self.handler_done = asyncio.Event()

    async def stream(self, request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> None:
        try:
            await context.write(b"first")
            self.stream_open.set()
            await self.draining.wait()
            await context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        finally:
            self.handler_done.set()

    async def unary(self, request: bytes, context: Any) -> bytes:
        return b"ok"

    async def drain(self) -> None:
        self.draining.set()
        await self.handler_done.wait()

    def grpc_service(self, drain: Any = None) -> GrpcService:
        handler = grpc.method_handlers_generic_handler(
            self.name,
            {
                "Stream": grpc.unary_stream_rpc_method_handler(self.stream),
                "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            },
        )
        return GrpcService(
            names=(self.name,),
            register=lambda server: server.add_generic_rpc_handlers([handler]),
            drain=drain or self.drain,
        )


@pytest.fixture
def ipc() -> MockIpc:
    return new_mock()


@pytest.fixture
async def lifecycle() -> AsyncIterator[Lifecycle]:
    lifecycle = Lifecycle()
    try:
        yield lifecycle
    finally:
        await lifecycle.stop()


async def _start(lifecycle: Lifecycle, ipc: MockIpc, services: list[GrpcService], grace: float) -> Component:
    config = new_config_mock({"cmd_host": "127.0.0.1", "cmd_port": 0})
    server = new_component(Requires(lifecycle, config, ipc, services, params=Params(stop_grace=grace))).comp
    await lifecycle.start()
    return server


async def _health(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return int((await stub.Check(health_pb2.HealthCheckRequest(), timeout=WAIT)).status)


def _stream(
    channel: grpc.aio.Channel, service: StreamingService
) -> grpc.aio.UnaryStreamMultiCallable[bytes, bytes]:
    """The service's ``Stream`` method; without serializers, requests and replies are raw bytes."""
    return channel.unary_stream(f"/{service.name}/Stream")


async def _read_to_the_end(call: Any) -> list[Any]:
    replies = []
    while (reply := await asyncio.wait_for(call.read(), WAIT)) is not grpc.aio.EOF:
        replies.append(reply)
    return replies


async def test_drain_runs_after_not_serving_and_before_the_server_stops(
    lifecycle: Lifecycle, ipc: MockIpc
) -> None:
    service = StreamingService("Drained")
    seen: list[str] = []

    async def drain() -> None:  # uses the test's channel, opened below

        seen.append(f"health {health_pb2.HealthCheckResponse.ServingStatus.Name(await _health(channel))}")
        unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(f"/{service.name}/Unary")
        seen.append(f"unary {(await unary(b'', metadata=ipc.auth_metadata(), timeout=WAIT)).decode()}")
        await service.drain()
        seen.append("drained")

    server = await _start(lifecycle, ipc, [service.grpc_service(drain)], LONG_GRACE)
    async with secure_channel(server.address, ipc.client_credentials()) as channel:
        stream = _stream(channel, service)(b"", metadata=ipc.auth_metadata())
        assert await stream.read() == b"first"
        await asyncio.wait_for(lifecycle.stop(), WAIT)
        seen.append("stopped")
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await asyncio.wait_for(stream.read(), WAIT)
        assert (ended.value.code(), ended.value.details()) == (grpc.StatusCode.UNAVAILABLE, "draining")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _health(channel)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert seen == ["health NOT_SERVING", "unary ok", "drained", "stopped"]


async def test_a_failing_or_endless_drain_does_not_prevent_the_stop(
    lifecycle: Lifecycle, ipc: MockIpc, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = StreamingService("Healthy")
    failing = StreamingService("Failing")
    endless = StreamingService("Endless")

    async def fail() -> None:
        raise RuntimeError("drain broke")

    async def never_end() -> None:
        await asyncio.Event().wait()

    services = [failing.grpc_service(fail), endless.grpc_service(never_end), healthy.grpc_service()]
    server = await _start(lifecycle, ipc, services, grace=0.5)
    async with secure_channel(server.address, ipc.client_credentials()) as channel:
        calls: dict[StreamingService, grpc.aio.UnaryStreamCall[bytes, bytes]] = {}
        for service in (failing, endless, healthy):
            calls[service] = _stream(channel, service)(b"", metadata=ipc.auth_metadata())
            assert await calls[service].read() == b"first"
        with caplog.at_level(logging.WARNING, logger="comp.api.grpcserver"):
            await asyncio.wait_for(lifecycle.stop(), WAIT)
        # The healthy service drained its stream; the server cancelled the others' at the end of the grace.
        for service, details in (
            (healthy, "draining"),
            (failing, "Cancelling all calls"),
            (endless, "Cancelling all calls"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await asyncio.wait_for(calls[service].read(), WAIT)
            assert (ended.value.code(), ended.value.details()) == (grpc.StatusCode.UNAVAILABLE, details)
    messages = [record.getMessage() for record in caplog.records]
    assert "draining test.v1.Failing failed: RuntimeError('drain broke')" in messages
    assert "draining test.v1.Endless took more than 0.5s: its calls are cancelled" in messages


async def test_health_watches_end_after_telling_not_serving(lifecycle: Lifecycle, ipc: MockIpc) -> None:
    server = await _start(lifecycle, ipc, [], LONG_GRACE)
    async with secure_channel(server.address, ipc.client_credentials()) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        watches = [
            stub.Watch(health_pb2.HealthCheckRequest(service=name)) for name in ("", "test.v1.Unknown")
        ]
        first = [(await asyncio.wait_for(watch.read(), WAIT)).status for watch in watches]
        assert first == [
            health_pb2.HealthCheckResponse.SERVING,
            health_pb2.HealthCheckResponse.SERVICE_UNKNOWN,
        ]

        await asyncio.wait_for(lifecycle.stop(), WAIT)
        rest = [[reply.status for reply in await _read_to_the_end(watch)] for watch in watches]
        assert rest == [[health_pb2.HealthCheckResponse.NOT_SERVING], []]
        assert [await watch.code() for watch in watches] == [grpc.StatusCode.OK, grpc.StatusCode.OK]


def test_the_grace_is_the_cmd_shutdown_grace_setting_unless_given(ipc: MockIpc) -> None:
    address = {"cmd_host": "127.0.0.1", "cmd_port": 0}
    for config, given, expected in (
        (new_config_mock({**address, "cmd_shutdown_grace": "250ms"}), None, 0.25),
        (new_config_mock({**address, "cmd_shutdown_grace": "250ms"}), 1.5, 1.5),
        (new_config_mock(address), None, 3.0),
    ):
        server = new_component(Requires(Lifecycle(), config, ipc, [], params=Params(stop_grace=given))).comp
        assert isinstance(server, GrpcServer)
        assert server.stop_grace == expected
    with pytest.raises(MissingSettingError, match="cmd_shutdown_grace"):
        new_component(Requires(Lifecycle(), new_config_mock(address, schema=Schema()), ipc, []))
