"""The IPC gRPC server on 127.0.0.1 with real mTLS: auth, health, reflection, bind errors, stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from comp.api.grpcserver.def_ import Component, GrpcService, Params
from comp.api.grpcserver.impl import Requires, new_component
from comp.api.grpcserver.impl.server import GrpcServerError
from comp.core.config import def_ as config_def
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import MockIpc, new_mock
from pkg.config.sources import Source
from pkg.ipc import auth_metadata, client_credentials, generate_ipc_certificate, secure_channel
from pkg.util.lifecycle import Lifecycle, LifecycleError

SERVICE = "test.v1.Echo"
UNARY = f"/{SERVICE}/Unary"
SERVER_STREAM = f"/{SERVICE}/ServerStream"
BIDI = f"/{SERVICE}/Bidi"


class EchoService:
    """Raw-bytes handlers of three shapes; ``stream_started`` is set when a server stream begins."""

    def __init__(self) -> None:
        self.stream_started = asyncio.Event()
        self.stream_cancelled = asyncio.Event()

    async def unary(self, request: bytes, context: Any) -> bytes:
        return b"echo:" + request

    async def server_stream(self, request: bytes, context: Any) -> AsyncIterator[bytes]:
        yield b"first"
        self.stream_started.set()
        try:
            await asyncio.Event().wait()  # until cancelled by the server's stop
        except asyncio.CancelledError:
            self.stream_cancelled.set()
            raise
        yield b"never"

    async def bidi(self, requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    def grpc_service(self) -> GrpcService:
        handler = grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
                "ServerStream": grpc.unary_stream_rpc_method_handler(self.server_stream),
                "Bidi": grpc.stream_stream_rpc_method_handler(self.bidi),
            },
        )
        return GrpcService(
            names=(SERVICE,), register=lambda server: server.add_generic_rpc_handlers([handler])
        )


def _config(port: int = 0) -> config_def.Component:
    return new_config_mock({"cmd_host": "127.0.0.1", "cmd_port": port})


@pytest.fixture
def ipc() -> MockIpc:
    return new_mock()


@pytest.fixture
def echo() -> EchoService:
    return EchoService()


@pytest.fixture
async def server(ipc: MockIpc, echo: EchoService) -> AsyncIterator[Component]:
    lifecycle = Lifecycle()
    provides = new_component(
        Requires(lifecycle, _config(), ipc, [echo.grpc_service()], params=Params(stop_grace=0.2))
    )
    await lifecycle.start()
    try:
        yield provides.comp
    finally:
        await lifecycle.stop()


def _channel(server: Component, ipc: MockIpc) -> grpc.aio.Channel:
    return secure_channel(server.address, ipc.client_credentials())


# Without serializers, requests and replies travel as raw bytes.
def _unary(channel: grpc.aio.Channel, method: str) -> grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]:
    return channel.unary_unary(method)


def _server_stream(channel: grpc.aio.Channel) -> grpc.aio.UnaryStreamMultiCallable[bytes, bytes]:
    return channel.unary_stream(SERVER_STREAM)


def _bidi(channel: grpc.aio.Channel) -> grpc.aio.StreamStreamMultiCallable[bytes, bytes]:
    return channel.stream_stream(BIDI)


async def test_port_zero_resolves_to_the_bound_port(server: Component) -> None:
    assert server.port > 0
    assert server.address == f"127.0.0.1:{server.port}"
    assert isinstance(server, Component)


async def test_health_serves_without_token(server: Component, ipc: MockIpc) -> None:
    async with _channel(server, ipc) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE):
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_unary_call_needs_the_right_token(server: Component, ipc: MockIpc) -> None:
    async with _channel(server, ipc) as channel:
        call = _unary(channel, UNARY)
        assert await call(b"hi", metadata=ipc.auth_metadata(), timeout=5) == b"echo:hi"
        for metadata in ((), auth_metadata("f" * 64), (("authorization", ipc.token),)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(b"hi", metadata=metadata, timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert err.value.details() == "invalid auth token"


async def test_streaming_calls_need_the_token(server: Component, ipc: MockIpc, echo: EchoService) -> None:
    async with _channel(server, ipc) as channel:
        stream = _server_stream(channel)(b"x", metadata=auth_metadata("0" * 64), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for _ in stream:
                pass
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert not echo.stream_started.is_set()

        bidi = _bidi(channel)(metadata=(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await bidi.write(b"a")
            await bidi.read()
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

        bidi = _bidi(channel)(metadata=ipc.auth_metadata(), timeout=5)
        await bidi.write(b"ping")
        assert await bidi.read() == b"ping"
        await bidi.done_writing()


async def test_unknown_method_is_unauthenticated_without_token(server: Component, ipc: MockIpc) -> None:
    async with _channel(server, ipc) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(channel, f"/{SERVICE}/Missing")(b"", timeout=5)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(channel, f"/{SERVICE}/Missing")(b"", metadata=ipc.auth_metadata(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_reflection_lists_the_contributed_services(server: Component, ipc: MockIpc) -> None:
    async with _channel(server, ipc) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
            metadata=ipc.auth_metadata(),
            timeout=5,
        )
        names = [s.name async for r in responses for s in r.list_services_response.service]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def test_client_without_certificate_is_refused(server: Component, ipc: MockIpc) -> None:
    no_client_cert = grpc.ssl_channel_credentials(root_certificates=ipc.cert_pem)
    async with secure_channel(server.address, no_client_cert) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_with_a_foreign_certificate_is_refused(server: Component, ipc: MockIpc) -> None:
    foreign = generate_ipc_certificate()
    # Trusts our server, but presents a certificate the server does not know.
    creds = grpc.ssl_channel_credentials(
        root_certificates=ipc.cert_pem, private_key=foreign.key_pem, certificate_chain=foreign.cert_pem
    )
    async with secure_channel(server.address, creds) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_client_distrusts_a_foreign_server(server: Component) -> None:
    foreign = generate_ipc_certificate()
    async with secure_channel(
        server.address, client_credentials(foreign.cert_pem, foreign.key_pem)
    ) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_second_server_on_the_same_port_fails_naming_it(server: Component, ipc: MockIpc) -> None:
    lifecycle = Lifecycle()
    new_component(Requires(lifecycle, _config(server.port), ipc, []))
    with pytest.raises(LifecycleError) as err:
        await lifecycle.start()
    message = str(err.value)
    assert f"127.0.0.1:{server.port}" in message
    assert "address already in use" in message
    assert isinstance(err.value.__cause__, GrpcServerError)


def test_invalid_host_or_port_is_refused_at_construction(ipc: MockIpc) -> None:
    config = _config()
    config.set("cmd_host", "", Source.CLI)
    with pytest.raises(GrpcServerError, match="cmd_host"):
        new_component(Requires(Lifecycle(), config, ipc, []))


async def test_stop_reports_not_serving_then_cancels_streams(ipc: MockIpc, echo: EchoService) -> None:
    lifecycle = Lifecycle()
    server = new_component(
        Requires(lifecycle, _config(), ipc, [echo.grpc_service()], params=Params(stop_grace=0.2))
    ).comp
    await lifecycle.start()
    try:
        async with _channel(server, ipc) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=SERVICE))
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            stream = _server_stream(channel)(b"", metadata=ipc.auth_metadata())
            assert await stream.read() == b"first"
            await asyncio.wait_for(echo.stream_started.wait(), 5)

            stopping = asyncio.create_task(lifecycle.stop())
            second = await asyncio.wait_for(watch.read(), 5)
            assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
            await asyncio.wait_for(stopping, 10)
            assert echo.stream_cancelled.is_set()
            with pytest.raises(grpc.aio.AioRpcError):
                await asyncio.wait_for(stream.read(), 5)
    finally:
        await lifecycle.stop()


async def test_server_is_built_with_the_server_options(
    ipc: MockIpc, echo: EchoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    built_with: list[Any] = []
    real_server = grpc.aio.server

    def recording_server(*args: Any, **kwargs: Any) -> grpc.aio.Server:
        built_with.append(kwargs.get("options"))
        return real_server(*args, **kwargs)

    monkeypatch.setattr(grpc.aio, "server", recording_server)
    lifecycle = Lifecycle()
    server = new_component(
        Requires(lifecycle, _config(), ipc, [echo.grpc_service()], params=Params(stop_grace=0.2))
    ).comp
    await lifecycle.start()
    try:
        assert len(built_with) == 1
        options = dict(built_with[0])
        assert options["grpc.so_reuseport"] == 0
        assert options["grpc.tsi.max_frame_size"] == 8192
        # A message of many TLS frames each way still arrives whole.
        payload = bytes(range(256)) * 1024
        async with _channel(server, ipc) as channel:
            reply = await _unary(channel, UNARY)(payload, metadata=ipc.auth_metadata(), timeout=10)
        assert reply == b"echo:" + payload
    finally:
        await lifecycle.stop()
