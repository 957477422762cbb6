"""The server's ``grpc.health.v1.Health`` service: grpc's own servicer, with Watch calls that end.

grpc's async servicer keeps every ``Watch`` call open until the client cancels it, so one watcher
would hold the server's stop for the whole grace. Here, once :meth:`HealthService.end_watches` was
called, each ``Watch`` call ends (status OK) as soon as it has sent a status other than SERVING: at
shutdown, the NOT_SERVING of :meth:`HealthService.enter_graceful_shutdown`. Watchers learn that the
server is going away, then their calls are over. Calls that start afterwards end the same way.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

__all__ = ["SERVICE_NAME", "HealthService"]

SERVICE_NAME: str = health.SERVICE_NAME


class _StatusRecorder:
    """The call's context as grpc's ``Watch`` sees it: writes go through, the last status is kept."""

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._context = context
        self._last_status: int | None = None
        self._writing = False
        self._written = asyncio.Event()

    async def write(self, message: health_pb2.HealthCheckResponse) -> None:
        self._writing = True
        try:
            await self._context.write(message)
        finally:
            self._writing = False
        self._last_status = message.status
        self._written.set()

    async def wait_for_a_status_other_than_serving(self) -> None:
        """Return once such a status was written and no write is in flight: the watch can then be
        cancelled without cancelling a send (grpc.aio would leave it pending under the status)."""
        while self._writing or self._last_status in (None, health_pb2.HealthCheckResponse.SERVING):
            self._written.clear()
            await self._written.wait()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._context, name)


class HealthService:
    """Serves ``grpc.health.v1.Health``; build it inside the running loop."""

    def __init__(self) -> None:
        self._servicer = health.aio.HealthServicer()
        self._ending = asyncio.Event()

    def add_to_server(self, server: grpc.aio.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self, server)

    async def set(self, service: str, status: int) -> None:
        """Set the status of ``service`` (``""``: the whole server); ignored once shutting down."""
        await self._servicer.set(service, status)

    async def enter_graceful_shutdown(self) -> None:
        """Every status becomes NOT_SERVING, for good."""
        await self._servicer.enter_graceful_shutdown()

    def end_watches(self) -> None:
        """From now on, end each ``Watch`` call once it has sent a status other than SERVING."""
        self._ending.set()

    def __getattr__(self, name: str) -> Any:
        """The other RPCs (``Check``, ``List``) are grpc's servicer's."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._servicer, name)

    async def Watch(  # noqa: N802 - the RPC's name
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        recorder = _StatusRecorder(context)
        watch = asyncio.create_task(self._servicer.Watch(request, recorder))
        ender = asyncio.create_task(self._end_when_told(recorder, watch))
        try:
            await asyncio.wait((watch,))
        finally:  # also when the client cancels the call
            ender.cancel()
            watch.cancel()
        if not watch.cancelled():
            watch.result()  # what the watch raised, if anything

    async def _end_when_told(self, recorder: _StatusRecorder, watch: asyncio.Task[None]) -> None:
        await self._ending.wait()
        await recorder.wait_for_a_status_other_than_serving()
        watch.cancel()
