"""The IPC gRPC server: mTLS, bearer token, health and reflection around contributed services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection

from comp.api.grpcserver.def_ import GrpcService, ServingState
from comp.api.grpcserver.impl.auth import BearerTokenInterceptor
from comp.api.grpcserver.impl.health import SERVICE_NAME as HEALTH_SERVICE_NAME
from comp.api.grpcserver.impl.health import HealthService
from comp.core.ipc.def_ import Component as IpcComponent
from pkg.ipc import DEFAULT_MAX_MESSAGE_BYTES, message_size_options
from pkg.ipc.locate import format_address
from pkg.util.listen import ListenAddress, ListenError, bind_problem, resolve_listen_addresses

__all__ = ["HANDSHAKE_TIMEOUT_SECONDS", "GrpcServer", "GrpcServerError"]

_log = logging.getLogger(__name__)

_SERVER_OPTIONS = [
    # grpc.aio servers set SO_REUSEPORT by default, which lets a second process bind the same port.
    ("grpc.so_reuseport", 0),
    # TLS frames of at most 8 KiB instead of 16 KiB: smaller per-connection TLS buffers, about 3 KiB
    # less resident memory per idle subscriber connection (an idle config stream sends next to nothing).
    ("grpc.tsi.max_frame_size", 8192),
]

# Remote agents ping every few seconds to notice a hung core (as often as every second): by default a
# server answers pings more frequent than every 5 minutes with GOAWAY too_many_pings. Half a second
# leaves room for timing noise; abuse beyond that is still refused after two strikes. (gRPC core's
# GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS is spelt "grpc.http2.min_ping_interval_...".)
_KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 500),
    ("grpc.http2.max_ping_strikes", 2),
]


# A connection that has not finished its TLS handshake by then is closed (grpc's default is 120 s):
# idle or stalled connections cannot pile up.
HANDSHAKE_TIMEOUT_SECONDS = 5.0


class GrpcServerError(RuntimeError):
    """The server cannot start (the message names the address and the cause)."""


class GrpcServer:
    """One ``grpc.aio`` server; built and bound in :meth:`start` (inside the running loop).

    It listens on every address ``host`` resolves to (``localhost``: 127.0.0.1 and ::1), all on one
    port, or does not start: an address held by another process is a startup error naming it. Only
    an address that does not exist on this machine (``::1`` with IPv6 switched off) is skipped, with
    a warning. Connections that do not finish the TLS handshake within ``handshake_timeout`` seconds
    are closed.
    """

    def __init__(
        self,
        host: str,
        port: int,
        ipc: IpcComponent,
        services: Sequence[GrpcService],
        stop_grace: float,
        *,
        handshake_timeout: float = HANDSHAKE_TIMEOUT_SECONDS,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        state: ServingState | None = None,
    ) -> None:
        self._state = state if state is not None else ServingState()
        self._host = host
        self._max_message_bytes = max_message_bytes
        self._requested_port = port
        self._port = port
        self._ipc = ipc
        self._services = tuple(services)
        self._stop_grace = stop_grace
        self._handshake_timeout = handshake_timeout
        self._listening: tuple[str, ...] = ()
        self._server: grpc.aio.Server | None = None
        self._health: HealthService | None = None
        self._publish()

    def _publish(self) -> None:
        self._state.address = self.address
        self._state.health = self.health

    @property
    def address(self) -> str:
        return format_address(self._host, self._port)

    @property
    def listening(self) -> tuple[str, ...]:
        """Every ``ip:port`` the server listens on while started."""
        return self._listening

    @property
    def port(self) -> int:
        return self._port

    @property
    def health(self) -> str:
        """``SERVING`` from start until the stop begins, else ``NOT_SERVING``."""
        return "SERVING" if self._health is not None else "NOT_SERVING"

    @property
    def stop_grace(self) -> float:
        """Seconds the stop may take before the calls still running are cancelled."""
        return self._stop_grace

    @property
    def service_names(self) -> tuple[str, ...]:
        """The contributed services' full names, in contribution order, without duplicates."""
        return tuple(dict.fromkeys(name for service in self._services for name in service.names))

    async def start(self) -> None:
        handshake = ("grpc.server_handshake_timeout_ms", max(1, round(self._handshake_timeout * 1000)))
        server = grpc.aio.server(
            interceptors=[BearerTokenInterceptor(self._ipc.token_matches)],
            options=[
                *_KEEPALIVE_OPTIONS,
                *_SERVER_OPTIONS,
                handshake,
                *message_size_options(self._max_message_bytes),
            ],
        )
        for service in self._services:
            service.register(server)
        health_service = HealthService()
        health_service.add_to_server(server)
        names = self.service_names
        reflection.enable_server_reflection((*names, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server)
        try:
            port, listening = self._bind_all(server)
        except (GrpcServerError, ListenError) as exc:
            # A grpc server releases the ports it bound only once it has been started.
            await server.start()
            await server.stop(None)
            raise GrpcServerError(str(exc)) from None
        await server.start()
        for name in ("", *names):
            await health_service.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._port = port
        self._listening = listening
        self._server = server
        self._health = health_service
        self._publish()
        _log.info(
            "gRPC server listening on %s (services: %s)", ", ".join(listening), ", ".join(names) or "none"
        )

    def _bind_all(self, server: grpc.aio.Server) -> tuple[int, tuple[str, ...]]:
        """Bind every address of the host on one port (the first bind picks it when 0 was asked).

        With a fixed port every address is checked before any is bound, so that a refusal binds
        nothing; grpc's own failure (a race, or a port picked for the first address taken on the
        next) is reported the same way.
        """
        addresses = resolve_listen_addresses(self._host, self._requested_port)
        if self._requested_port:
            addresses = [a for a in addresses if self._usable(a, self._requested_port, addresses)]
        credentials = self._ipc.server_credentials()
        port = self._requested_port
        listening: list[str] = []
        for address in addresses:
            try:
                bound = server.add_secure_port(address.with_port(port), credentials)
            except RuntimeError:
                bound = 0
            if bound == 0 and self._usable(address, port, addresses):
                raise GrpcServerError(f"cannot listen on {address.with_port(port)}: the bind failed")
            if bound:
                port = bound
                listening.append(address.with_port(bound))
        if not listening:
            raise GrpcServerError(f"cannot listen on {self.address}: none of its addresses exists here")
        return port, tuple(listening)

    def _usable(self, address: ListenAddress, port: int, every: Sequence[ListenAddress]) -> bool:
        """True when ``address:port`` can be bound, False for an address absent from this machine
        (logged); raises GrpcServerError naming the address when another process holds it."""
        problem = bind_problem(address, port)
        if problem is None:
            return True
        reason, absent = problem
        if absent:
            _log.warning("not listening on %s: %s (no such address here)", address.with_port(port), reason)
            return False
        note = ""
        if len(every) > 1:
            names = ", ".join(a.ip for a in every)
            note = f" ({self._host} is {names}: the server listens on all of them or does not start)"
        raise GrpcServerError(f"cannot listen on {address.with_port(port)}: {reason}{note}")

    async def stop(self) -> None:
        """Stop within the grace: NOT_SERVING, drain the services, then stop the server.

        Health goes NOT_SERVING for every service (health watches end once they have said so), then
        every contributed ``drain`` runs, together, bounded by the grace (errors are logged), then
        the server stops with what is left of the grace and cancels the calls still running.
        """
        server, health_service = self._server, self._health
        self._server = self._health = None
        self._listening = ()
        self._publish()
        if server is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._stop_grace
        if health_service is not None:
            await health_service.enter_graceful_shutdown()
            health_service.end_watches()
        await self._drain_services()
        await server.stop(max(0.0, deadline - loop.time()))
        _log.info("gRPC server on %s stopped", self.address)

    async def _drain_services(self) -> None:
        """Run every contributed drain, together, for at most the grace; log what fails or lasts."""
        drains = {
            asyncio.create_task(_call(service.drain)): ", ".join(service.names)
            for service in self._services
            if service.drain is not None
        }
        if not drains:
            return
        done, pending = await asyncio.wait(drains, timeout=self._stop_grace)
        for task in pending:
            task.cancel()
            _log.warning(
                "draining %s took more than %gs: its calls are cancelled", drains[task], self._stop_grace
            )
        for task in done:
            if task.cancelled():
                _log.error("draining %s was cancelled", drains[task])
            elif (error := task.exception()) is not None:
                _log.error("draining %s failed: %r", drains[task], error, exc_info=error)


async def _call(drain: Callable[[], Awaitable[None]]) -> None:
    await drain()
