"""Implementation of the IPC gRPC server component."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from comp.api.grpcserver.def_ import Component, GrpcService
from comp.api.grpcserver.impl.auth import INVALID_TOKEN_MESSAGE, BearerTokenInterceptor
from comp.api.grpcserver.impl.server import GrpcServer, GrpcServerError
from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from pkg.ipc import DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_SIZE_KEY
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = [
    "DEFAULT_STOP_GRACE_SECONDS",
    "INVALID_TOKEN_MESSAGE",
    "SHUTDOWN_GRACE_KEY",
    "BearerTokenInterceptor",
    "GrpcServer",
    "GrpcServerError",
    "Provides",
    "Requires",
    "new_component",
]

SHUTDOWN_GRACE_KEY = "cmd_shutdown_grace"
DEFAULT_STOP_GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class Requires:
    """``services``: the contributions of other components. ``stop_grace``: seconds the stop may take
    (the services' drains, then the calls still in flight) before calls are cancelled; None reads the
    ``cmd_shutdown_grace`` setting."""

    lifecycle: Lifecycle
    config: config_def.Component
    ipc: ipc_def.Component
    services: Sequence[GrpcService]
    stop_grace: float | None = None


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Listen on ``cmd_host:cmd_port`` (port 0 picks a free port) once the lifecycle starts."""
    host = requires.config.get_string("cmd_host")
    port = requires.config.get_int("cmd_port")
    if not host:
        raise GrpcServerError("cmd_host is empty: set it to a loopback host such as localhost")
    if not 0 <= port <= 65535:
        raise GrpcServerError(f"invalid value for 'cmd_port': {port}, expected a port number 0-65535")
    stop_grace = _shutdown_grace(requires.config) if requires.stop_grace is None else requires.stop_grace
    max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES
    if requires.config.get(MAX_MESSAGE_SIZE_KEY) is not None:  # a schema without the key: the default
        max_message_bytes = requires.config.get_int(MAX_MESSAGE_SIZE_KEY)
    server = GrpcServer(
        host, port, requires.ipc, requires.services, stop_grace, max_message_bytes=max_message_bytes
    )
    requires.lifecycle.append(Hook("grpc server", on_start=server.start, on_stop=server.stop))
    return Provides(comp=server)


def _shutdown_grace(config: config_def.Component) -> float:
    if config.get(SHUTDOWN_GRACE_KEY) is None:  # a schema without the key
        return DEFAULT_STOP_GRACE_SECONDS
    return config.get_duration(SHUTDOWN_GRACE_KEY).total_seconds()
