"""The /metrics endpoint stays bounded: idle sockets cost no thread, are closed after the timeout,
extra connections are refused, and real scrapes are still answered meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from comp.core.telemetry.impl.endpoint import MetricsEndpoint, MetricsEndpointError
from tests.support.polling import eventually

IDLE_SOCKETS = 50


@pytest.fixture
async def endpoint() -> AsyncIterator[MetricsEndpoint]:
    registry = CollectorRegistry(auto_describe=False)
    Counter("probe_events", "events seen by the probe", registry=registry).inc(3)
    served = MetricsEndpoint(registry, "127.0.0.1", 0, max_connections=64, request_timeout=1.0)
    await served.start()
    try:
        yield served
    finally:
        await served.stop()


def _fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@contextlib.contextmanager
def _idle_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


async def test_idle_sockets_take_no_thread_and_are_closed_after_the_timeout(
    endpoint: MetricsEndpoint,
) -> None:
    assert endpoint.port is not None and endpoint.url is not None
    threads_before = threading.active_count()
    with _idle_sockets(endpoint.port, IDLE_SOCKETS) as sockets:
        await eventually(
            lambda: endpoint.open_connections == IDLE_SOCKETS, f"{IDLE_SOCKETS} open connections", 5
        )
        assert threading.active_count() <= threads_before

        started = time.monotonic()
        status, body = await asyncio.to_thread(_fetch, endpoint.url)
        assert status == 200 and "probe_events_total 3.0" in body

        closed = await asyncio.to_thread(lambda: all(_closed_by_server(s) for s in sockets))
        assert closed
        assert time.monotonic() - started < 5
    await eventually(lambda: endpoint.open_connections == 0, "no open connection", 5)
    # Only the event loop's few worker threads (this test's and the scrape's), never one per socket.
    assert threading.active_count() <= threads_before + 4


async def test_a_request_trickling_in_is_closed_at_the_deadline(endpoint: MetricsEndpoint) -> None:
    assert endpoint.port is not None

    def trickle() -> float:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            started = time.monotonic()
            with contextlib.suppress(OSError):
                for char in b"GET /metrics HTTP/1.1\r\nHost: x\r\n":
                    sock.sendall(bytes([char]))
                    time.sleep(0.1)
            assert _closed_by_server(sock)
            return time.monotonic() - started

    assert await asyncio.to_thread(trickle) < 3.5


async def test_connections_beyond_the_bound_are_refused_and_scrapes_resume() -> None:
    endpoint = MetricsEndpoint(CollectorRegistry(), "127.0.0.1", 0, max_connections=3, request_timeout=30)
    await endpoint.start()
    try:
        assert endpoint.port is not None and endpoint.url is not None
        with _idle_sockets(endpoint.port, 3):
            await eventually(lambda: endpoint.open_connections == 3, "3 open connections", 5)
            status, body = await asyncio.to_thread(_fetch, endpoint.url)
            assert (status, body) == (503, "too many connections\n")
        await eventually(lambda: endpoint.open_connections == 0, "no open connection", 5)
        status, _ = await asyncio.to_thread(_fetch, endpoint.url)
        assert status == 200
    finally:
        await endpoint.stop()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST /metrics HTTP/1.1\r\n\r\n", b"405"),
        (b"GET /other HTTP/1.1\r\n\r\n", b"404"),
        (b"nonsense\r\n\r\n", b"400"),
        (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n", b"400"),
    ],
)
async def test_bad_requests_get_a_status_and_a_close(
    endpoint: MetricsEndpoint, request_bytes: bytes, status: bytes
) -> None:
    assert endpoint.port is not None

    def send() -> bytes:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            sock.sendall(request_bytes)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    reply = await asyncio.to_thread(send)
    assert reply.startswith(b"HTTP/1.1 " + status)


async def test_head_answers_without_body(endpoint: MetricsEndpoint) -> None:
    assert endpoint.port is not None

    def send() -> bytes:
        with socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) as sock:
            sock.sendall(b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    reply = await asyncio.to_thread(send)
    assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"\r\n\r\n")


async def test_an_address_in_use_is_named() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        endpoint = MetricsEndpoint(CollectorRegistry(), "localhost", port)
        with pytest.raises(MetricsEndpointError, match=rf"127\.0\.0\.1:{port}: .*in use"):
            await endpoint.start()
    assert endpoint.port is None
