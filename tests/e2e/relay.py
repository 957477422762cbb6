"""A TCP relay on loopback between a consumer and a core agent, to cut connections or count writes
without touching either process."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["Relay"]


class Relay:
    """Relays connections to ``127.0.0.1:target_port``.

    ``cut()`` drops every relayed connection and refuses new ones until ``restore()``.
    ``connections`` counts the connections relayed; ``client_writes`` the reads from the client side
    (on a silent stream, gRPC sends each keepalive ping as one small TLS record). Use as an async
    context manager, inside the running loop.
    """

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._cut = False
        self._links: set[asyncio.Task[Any]] = set()
        self._transports: set[asyncio.WriteTransport] = set()
        self.connections = 0
        self.client_writes = 0

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()
        await asyncio.gather(*self._links, return_exceptions=True)

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def cut(self) -> None:
        self._cut = True
        for transport in list(self._transports):
            transport.abort()

    def restore(self) -> None:
        self._cut = False

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._links.add(task)
        transports: set[asyncio.WriteTransport] = {writer.transport}
        try:
            if self._cut:
                return
            try:
                core_reader, core_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
            except OSError:
                return
            self.connections += 1
            transports.add(core_writer.transport)
            self._transports |= transports
            await asyncio.gather(self._pipe(reader, core_writer, count=True), self._pipe(core_reader, writer))
        finally:
            self._transports -= transports
            for transport in transports:
                transport.abort()
            self._links.discard(task)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool = False
    ) -> None:
        """Copy until either side ends, then end both (one side's end ends the relayed connection)."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if count:
                    self.client_writes += 1
                sink.write(data)
                await sink.drain()
        sink.transport.abort()
