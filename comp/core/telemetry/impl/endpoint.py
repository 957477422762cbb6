"""The HTTP endpoint serving one Prometheus registry in text format at ``/metrics``.

An asyncio server on the agent's own event loop (no thread per connection). It is bounded so that
idle or slow clients cannot pile up:

- at most ``max_connections`` connections at once; one more is answered ``503`` and closed;
- the request head (request line and headers, at most 8 KiB) must arrive within
  ``request_timeout`` seconds of the connection, however slowly it trickles in, else the connection
  is closed; the response must be written within the same time;
- one request per connection (``Connection: close``), ``GET`` or ``HEAD`` only.

The registry is rendered by prometheus_client in a worker thread, one scrape at a time. The server
listens on every address its host resolves to, or :meth:`MetricsEndpoint.start` fails naming the
address it could not bind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from pkg.ipc.locate import format_address
from pkg.util.listen import ListenError, resolve_listen_addresses

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT_SECONDS",
    "METRICS_PATH",
    "MetricsEndpoint",
    "MetricsEndpointError",
]

_log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
DEFAULT_MAX_CONNECTIONS = 32
DEFAULT_REQUEST_TIMEOUT_SECONDS = 5.0
_MAX_HEAD_BYTES = 8192
_TEXT = "text/plain; charset=utf-8"


class MetricsEndpointError(RuntimeError):
    """The endpoint cannot listen on its address; the message names the address and the cause."""


class _BadRequestError(Exception):
    def __init__(self, status: str, body: str) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class MetricsEndpoint:
    """Serves ``registry`` at ``http://host:port/metrics`` between :meth:`start` and :meth:`stop`.

    ``port`` 0 picks a free port; :attr:`port` is the bound one while serving.
    """

    def __init__(
        self,
        registry: Collector,
        host: str,
        port: int,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ) -> None:
        self._registry = registry
        self._host = host
        self._requested_port = port
        self._max_connections = max_connections
        self._request_timeout = request_timeout
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.StreamWriter] = set()
        self._port: int | None = None
        # The OpenTelemetry Prometheus reader keeps collected data in a queue shared by every scrape:
        # two concurrent scrapes could each see part of the other's data.
        self._render_lock = threading.Lock()

    @property
    def port(self) -> int | None:
        """The bound port while serving, else None."""
        return self._port

    @property
    def url(self) -> str | None:
        """``http://host:port/metrics`` while serving, else None."""
        port = self._port
        return None if port is None else f"http://{format_address(self._host, port)}{METRICS_PATH}"

    @property
    def open_connections(self) -> int:
        """Connections currently open (being read or answered)."""
        return len(self._connections)

    async def start(self) -> None:
        """Bind every address of the host and serve. Raises MetricsEndpointError naming the address."""
        if self._servers:
            return
        try:
            addresses = resolve_listen_addresses(self._host, self._requested_port)
        except ListenError as exc:
            raise MetricsEndpointError(f"telemetry: {exc}") from None
        port = self._requested_port
        for address in addresses:
            try:
                server = await asyncio.start_server(
                    self._serve,
                    host=address.ip,
                    port=port,
                    family=address.family,
                    limit=_MAX_HEAD_BYTES,
                    reuse_address=True,
                )
            except OSError as exc:
                await self.stop()
                reason = exc.strerror or str(exc)
                where = address.with_port(port)
                raise MetricsEndpointError(f"cannot serve telemetry on {where}: {reason}") from None
            self._servers.append(server)
            port = int(server.sockets[0].getsockname()[1])
        self._port = port

    async def stop(self) -> None:
        """Stop listening, close open connections and free the port."""
        servers, self._servers = self._servers, []
        self._port = None
        for server in servers:
            server.close()
        for writer in list(self._connections):
            writer.close()
        for server in servers:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self._max_connections:
            await self._close(writer, _response("503 Service Unavailable", "too many connections\n"))
            return
        self._connections.add(writer)
        response = b""
        try:
            async with asyncio.timeout(self._request_timeout):
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                    response = await self._answer(head)
                except _BadRequestError as exc:
                    response = _response(exc.status, exc.body)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                    response = _response("400 Bad Request", "bad request\n")
                writer.write(response)
                await writer.drain()
        except TimeoutError:
            _log.debug(
                "telemetry: closing a connection that did not finish within %gs", self._request_timeout
            )
        except ConnectionError:
            pass  # the client went away
        finally:
            self._connections.discard(writer)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, head: bytes) -> bytes:
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise _BadRequestError("400 Bad Request", "bad request\n")
        method, target = parts[0], parts[1]
        if method not in ("GET", "HEAD"):
            raise _BadRequestError("405 Method Not Allowed", "only GET and HEAD\n")
        if target.split("?", 1)[0] != METRICS_PATH:
            raise _BadRequestError("404 Not Found", f"not found: metrics are served at {METRICS_PATH}\n")
        body = await asyncio.to_thread(self._render)
        return _response("200 OK", body, CONTENT_TYPE_LATEST, head_only=method == "HEAD")

    def _render(self) -> bytes:
        with self._render_lock:
            return generate_latest(self._registry)

    @staticmethod
    async def _close(writer: asyncio.StreamWriter, response: bytes) -> None:
        with contextlib.suppress(OSError):
            writer.write(response)  # small enough for the socket buffer: never waits on the client
        writer.close()


def _response(status: str, body: str | bytes, content_type: str = _TEXT, *, head_only: bool = False) -> bytes:
    payload = body.encode() if isinstance(body, str) else body
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + (b"" if head_only else payload)
