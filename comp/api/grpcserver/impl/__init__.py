"""Implementation of the IPC gRPC server component."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from comp.api.grpcserver.def_ import Component, GrpcService, Params, ServingState
from comp.api.grpcserver.impl.server import GrpcServer, GrpcServerError
from comp.core.config import def_ as config_def
from comp.core.ipc import def_ as ipc_def
from pkg.config import keys
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]


@dataclass(frozen=True)
class Requires:
    """``services``: the contributions of other components. ``state``: where the server publishes
    its address and health."""

    lifecycle: Lifecycle
    config: config_def.Component
    ipc: ipc_def.Component
    services: Sequence[GrpcService]
    state: ServingState = field(default_factory=ServingState)
    params: Params = field(default_factory=Params)


@dataclass(frozen=True)
class Provides:
    comp: Component


def new_component(requires: Requires) -> Provides:
    """Listen on ``cmd_host:cmd_port`` (port 0 picks a free port) once the lifecycle starts."""
    config = requires.config
    host = config.get_string(keys.CMD_HOST)
    port = config.get_int(keys.CMD_PORT)  # declared 0-65535
    if not host:
        raise GrpcServerError(f"{keys.CMD_HOST} is empty: set it to a loopback host such as localhost")
    stop_grace = requires.params.stop_grace
    if stop_grace is None:
        stop_grace = config.get_duration(keys.CMD_SHUTDOWN_GRACE).total_seconds()
    max_message_bytes = config.get_int(keys.GRPC_MAX_MESSAGE_SIZE)
    server = GrpcServer(
        host,
        port,
        requires.ipc,
        requires.services,
        stop_grace,
        max_message_bytes=max_message_bytes,
        state=requires.state,
    )
    requires.lifecycle.append(Hook("grpc server", on_start=server.start, on_stop=server.stop))
    return Provides(comp=server)
