"""The gRPC server listens on every address of its host or does not start; stalled handshakes end."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from comp.api.grpcserver.impl import Requires, new_component
from comp.api.grpcserver.impl import server as server_module
from comp.api.grpcserver.impl.server import GrpcServer, GrpcServerError
from comp.core.config.mock import new_mock as new_config_mock
from comp.core.ipc.mock import MockIpc, new_mock
from pkg.ipc import secure_channel
from pkg.util.lifecycle import Lifecycle, LifecycleError
from pkg.util.listen import ListenAddress, resolve_listen_addresses

BOTH_LOOPBACKS = [ListenAddress(socket.AF_INET, "127.0.0.1"), ListenAddress(socket.AF_INET6, "::1")]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def _held(family: int, ip: str, port: int = 0) -> Iterator[int]:
    """A plain listening socket on ``ip:port`` (another process's, as far as the server can tell)."""
    holder = socket.socket(family, socket.SOCK_STREAM)
    try:
        holder.bind((ip, port))
        holder.listen()
        yield int(holder.getsockname()[1])
    finally:
        holder.close()


@pytest.fixture
def ipc() -> MockIpc:
    return new_mock()


async def _start(ipc: MockIpc, host: str, port: int) -> tuple[Lifecycle, GrpcServer]:
    lifecycle = Lifecycle()
    comp = new_component(Requires(lifecycle, new_config_mock({"cmd_host": host, "cmd_port": port}), ipc, []))
    assert isinstance(comp.comp, GrpcServer)
    await lifecycle.start()
    return lifecycle, comp.comp


async def _serving(address: str, ipc: MockIpc) -> bool:
    credentials = ipc.client_credentials()
    async with secure_channel(address, credentials) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def test_an_ipv4_address_held_by_another_process_stops_the_start(ipc: MockIpc) -> None:
    if ListenAddress(socket.AF_INET, "127.0.0.1") not in resolve_listen_addresses("localhost", 0):
        pytest.skip("localhost does not resolve to 127.0.0.1 here")
    with _held(socket.AF_INET, "127.0.0.1") as port, pytest.raises(LifecycleError) as raised:
        await _start(ipc, "localhost", port)
    message = str(raised.value)
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in message
    assert isinstance(raised.value.__cause__, GrpcServerError)
    assert "\n" not in message


async def test_an_ipv6_address_held_by_another_process_stops_the_start(
    ipc: MockIpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _has_ipv6_loopback():
        pytest.skip("no ::1 on this machine")
    monkeypatch.setattr(server_module, "resolve_listen_addresses", lambda host, port: BOTH_LOOPBACKS)
    with _held(socket.AF_INET6, "::1") as port, pytest.raises(LifecycleError) as raised:
        await _start(ipc, "localhost", port)
    assert f"cannot listen on [::1]:{port}: address already in use" in str(raised.value)
    # Nothing stays bound: the IPv4 address that was bound first is free again.
    with _held(socket.AF_INET, "127.0.0.1", port):
        pass


async def test_a_host_with_two_addresses_is_served_on_both_on_one_port(
    ipc: MockIpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _has_ipv6_loopback():
        pytest.skip("no ::1 on this machine")
    monkeypatch.setattr(server_module, "resolve_listen_addresses", lambda host, port: BOTH_LOOPBACKS)
    lifecycle, server = await _start(ipc, "localhost", 0)
    try:
        port = server.port
        assert server.listening == (f"127.0.0.1:{port}", f"[::1]:{port}")
        assert await _serving(f"127.0.0.1:{port}", ipc)
        assert await _serving(f"[::1]:{port}", ipc)
    finally:
        await lifecycle.stop()
    assert not server.listening


async def test_an_unresolvable_host_is_named(ipc: MockIpc) -> None:
    with pytest.raises(
        LifecycleError, match=r"cannot listen on no-such-host\.invalid:0: cannot resolve host"
    ):
        await _start(ipc, "no-such-host.invalid", 0)


def _wait_for_close(port: int, bound: float) -> float:
    """Connect, send nothing, return how long the server took to close the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=bound) as client:
        started = time.monotonic()
        try:
            data = client.recv(1024)
        except ConnectionResetError:
            data = b""
        assert data == b"", f"expected the server to close the connection, got {data!r}"
        return time.monotonic() - started


async def test_a_connection_without_tls_handshake_is_closed_after_the_timeout(ipc: MockIpc) -> None:
    server = GrpcServer("127.0.0.1", 0, ipc, [], 0.2, handshake_timeout=1.0)
    await server.start()
    try:
        elapsed = await asyncio.to_thread(_wait_for_close, server.port, 10.0)
        assert 0.5 <= elapsed < 5.0
        # The server still serves real clients.
        assert await _serving(server.address, ipc)
    finally:
        await server.stop()


async def test_the_default_handshake_timeout_is_a_few_seconds(
    ipc: MockIpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: list[dict[str, object]] = []
    real_server = grpc.aio.server

    def recording_server(*args: object, **kwargs: object) -> grpc.aio.Server:
        options.append(dict(kwargs["options"]))  # type: ignore[call-overload]
        return real_server(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(grpc.aio, "server", recording_server)
    server = GrpcServer("127.0.0.1", 0, ipc, [], 0.2)
    await server.start()
    await server.stop()
    assert options[0]["grpc.server_handshake_timeout_ms"] == server_module.HANDSHAKE_TIMEOUT_SECONDS * 1000
    assert server_module.HANDSHAKE_TIMEOUT_SECONDS <= 10
