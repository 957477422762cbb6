"""The handler's test double behind a real grpc.aio server with mTLS: what a client's tests use."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from comp.core.configstreamserver.def_ import Component
from comp.core.configstreamserver.mock import new_mock
from comp.core.ipc.mock import MockIpc
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import (
    ConfigEvent,
    ConfigSnapshot,
    ConfigStreamRequest,
    ConfigUpdate,
)


async def test_the_mock_serves_initial_and_pushed_events_then_ends_with_the_status() -> None:
    ipc = MockIpc()
    snapshot = ConfigEvent(snapshot=ConfigSnapshot(origin="core-agent", sequence_id=3)).SerializeToString()
    update = ConfigEvent(update=ConfigUpdate(origin="core-agent", sequence_id=4)).SerializeToString()
    streams = new_mock(initial=(snapshot,))
    assert isinstance(streams, Component)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    streams.grpc_service().register(server)
    port = server.add_secure_port("127.0.0.1:0", ipc.server_credentials())
    await server.start()
    channel = secure_channel(f"127.0.0.1:{port}", ipc.client_credentials())
    try:
        call = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(
            ConfigStreamRequest(name="client", progress=True), timeout=10
        )
        async with asyncio.timeout(10):
            first = await call.read()
            await streams.wait_for_streams(1)
            assert streams.active_streams == 1
            streams.push(update)
            second = await call.read()
            streams.end_all(grpc.StatusCode.PERMISSION_DENIED, "evicted")
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                await call.read()
        assert (ended.value.code(), ended.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "evicted")
        assert isinstance(first, ConfigEvent) and isinstance(second, ConfigEvent)
        assert [first.SerializeToString(), second.SerializeToString()] == [snapshot, update]
        assert [(r.name, r.progress) for r in streams.requests] == [("client", True)]

        drained = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(ConfigStreamRequest(), timeout=10)
        async with asyncio.timeout(10):
            await drained.read()
            await streams.drain()
            assert await drained.code() == grpc.StatusCode.UNAVAILABLE
        assert streams.active_streams == 0
    finally:
        await channel.close()
        await server.stop(None)
