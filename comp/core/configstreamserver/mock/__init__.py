"""A test double of the ``StreamConfigEvents`` handler: no session checks, events pushed by the test.

Usage in the tests of a client, behind a real grpc.aio server::

    streams = MockConfigStreamServer(initial=(snapshot_bytes,))
    streams.grpc_service().register(server)        # the same contribution as the real handler's
    ...                                            # the client under test opens a stream
    async with asyncio.timeout(5):
        await streams.wait_for_streams(1)
    streams.push(update_bytes)                     # written to every open stream
    streams.end_all(grpc.StatusCode.PERMISSION_DENIED, "evicted")

Every stream first receives ``initial`` (serialized ``ConfigEvent`` messages), then what is pushed,
until :meth:`MockConfigStreamServer.end_all` or :meth:`~MockConfigStreamServer.drain` ends it with a
status. ``requests`` records every request, in order, so a test can check what its client asked for
(resume point, filter, batches, progress).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import grpc

from comp.api.grpcserver.def_ import GrpcService
from comp.core.configstreamserver.def_ import ConfigStreamContext
from comp.core.configstreamserver.impl import new_grpc_service
from comp.core.configstreamserver.impl.handler import MSG_SHUTTING_DOWN
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest

__all__ = ["MockConfigStreamServer", "new_mock"]

_End = tuple[grpc.StatusCode, str]


class _MockStream:
    def __init__(self, initial: Iterable[bytes]) -> None:
        self.pending: asyncio.Queue[bytes | _End] = asyncio.Queue()
        for payload in initial:
            self.pending.put_nowait(payload)


class MockConfigStreamServer:
    """Implements the handler ``Component``; nothing is sent but ``initial`` and what a test pushes."""

    def __init__(self, initial: Iterable[bytes] = ()) -> None:
        self._initial = tuple(initial)
        self._open: set[_MockStream] = set()
        self._changed = asyncio.Event()
        self._draining = False
        self.requests: list[ConfigStreamRequest] = []
        """Every request received, in order."""

    @property
    def active_streams(self) -> int:
        return len(self._open)

    def grpc_service(self) -> GrpcService:
        """The contribution to a gRPC server, as the real handler's."""
        return new_grpc_service(self)

    async def stream_config_events(self, request: ConfigStreamRequest, context: ConfigStreamContext) -> None:
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        self.requests.append(request)
        stream = _MockStream(self._initial)
        self._open.add(stream)
        self._changed.set()
        try:
            while True:
                item = await stream.pending.get()
                if isinstance(item, tuple):
                    code, details = item
                    break
                await context.write(item)
        finally:
            self._open.discard(stream)
            self._changed.set()
        await context.abort(code, details)

    def push(self, payload: bytes) -> None:
        """Write ``payload`` (a serialized ``ConfigEvent``) to every open stream."""
        for stream in self._open:
            stream.pending.put_nowait(payload)

    def end_all(self, code: grpc.StatusCode, details: str) -> None:
        """End every open stream, after what was pushed before, with this status."""
        for stream in self._open:
            stream.pending.put_nowait((code, details))

    async def drain(self) -> None:
        """End every stream with UNAVAILABLE, refuse new ones, return once they are over."""
        self._draining = True
        self.end_all(grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        await self.wait_for_streams(0)

    async def wait_for_streams(self, count: int) -> None:
        """Wait until exactly ``count`` streams are open (wrap in ``asyncio.timeout``)."""
        while len(self._open) != count:
            self._changed.clear()
            await self._changed.wait()


def new_mock(initial: Iterable[bytes] = ()) -> MockConfigStreamServer:
    """A :class:`MockConfigStreamServer`; see its docstring."""
    return MockConfigStreamServer(initial)
