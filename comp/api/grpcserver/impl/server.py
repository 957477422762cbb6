"""The IPC gRPC server: mTLS, bearer token, health and reflection around contributed services."""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from comp.api.grpcserver.def_ import GrpcService
from comp.api.grpcserver.impl.auth import BearerTokenInterceptor
from comp.core.ipc.def_ import Component as IpcComponent

__all__ = ["GrpcServer", "GrpcServerError", "format_address"]

_log = logging.getLogger(__name__)

# grpc.aio servers set SO_REUSEPORT by default, which lets a second process bind the same port.
_SERVER_OPTIONS = [("grpc.so_reuseport", 0)]


class GrpcServerError(RuntimeError):
    """The server cannot start (the message names the address and the cause)."""


def format_address(host: str, port: int) -> str:
    """``host:port``, with brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _bind_failure_reason(host: str, port: int) -> str:
    """Why binding failed, found by trying a plain socket bind (grpc only says that it failed)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve host: {exc.strerror}"
    for family, kind, proto, _name, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return "address already in use"
                return exc.strerror or str(exc)
    return "the address is not available"


class GrpcServer:
    """One ``grpc.aio`` server; built and bound in :meth:`start` (inside the running loop)."""

    def __init__(
        self,
        host: str,
        port: int,
        ipc: IpcComponent,
        services: Sequence[GrpcService],
        stop_grace: float,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._port = port
        self._ipc = ipc
        self._services = tuple(services)
        self._stop_grace = stop_grace
        self._server: grpc.aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None

    @property
    def address(self) -> str:
        return format_address(self._host, self._port)

    @property
    def port(self) -> int:
        return self._port

    @property
    def service_names(self) -> tuple[str, ...]:
        """The contributed services' full names, in contribution order, without duplicates."""
        return tuple(dict.fromkeys(name for service in self._services for name in service.names))

    async def start(self) -> None:
        server = grpc.aio.server(
            interceptors=[BearerTokenInterceptor(self._ipc.token_matches)], options=_SERVER_OPTIONS
        )
        for service in self._services:
            service.register(server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        names = self.service_names
        reflection.enable_server_reflection((*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
        wanted = format_address(self._host, self._requested_port)
        try:
            port = server.add_secure_port(wanted, self._ipc.server_credentials())
        except RuntimeError:
            port = 0
        if port == 0:
            await server.stop(None)
            reason = _bind_failure_reason(self._host, self._requested_port)
            raise GrpcServerError(f"cannot listen on {wanted}: {reason}")
        await server.start()
        for name in ("", *names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._port = port
        self._server = server
        self._health = health_servicer
        _log.info("gRPC server listening on %s (services: %s)", self.address, ", ".join(names) or "none")

    async def stop(self) -> None:
        """Report NOT_SERVING for every service, then stop, cancelling calls left after the grace."""
        server, health_servicer = self._server, self._health
        self._server = self._health = None
        if server is None:
            return
        if health_servicer is not None:
            await health_servicer.enter_graceful_shutdown()
        await server.stop(self._stop_grace)
        _log.info("gRPC server on %s stopped", self.address)
