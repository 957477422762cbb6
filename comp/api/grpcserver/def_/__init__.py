"""Definition of the IPC gRPC server component.

Other components contribute services as :class:`GrpcService` values; the binary's root container
collects them into a list handed to the server, so adding a service never edits the server.

At stop the server reports NOT_SERVING, awaits every service's ``drain`` (together, bounded by the
stop grace), then stops, cancelling the calls still running when the grace is over.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import grpc

from comp.core.settings.def_ import StatusFields

__all__ = ["UNAUTHENTICATED_METHODS", "Component", "GrpcService", "Params", "ServingState"]

UNAUTHENTICATED_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
"""Methods reachable without a bearer token (mTLS still applies)."""


@dataclass(frozen=True)
class GrpcService:
    """A contribution to the server: full service names and a function that adds handlers.

    ``drain``, when given, is called after health goes NOT_SERVING and before the server stops
    accepting and cancels RPCs; it must end the service's long-lived calls promptly (and refuse new
    ones), so that the stop does not wait the whole grace for them. Its errors are logged, not raised.
    """

    names: tuple[str, ...]
    register: Callable[[grpc.aio.Server], None]
    drain: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class Params:
    """For tests: ``stop_grace``, seconds the stop may take (the services' drains, then the calls
    still in flight) before calls are cancelled; None reads the ``cmd_shutdown_grace`` setting.

    Raises ValueError naming the field, the value and what is expected.
    """

    stop_grace: float | None = None

    def __post_init__(self) -> None:
        if self.stop_grace is not None and not self.stop_grace >= 0:
            raise ValueError(f"invalid gRPC server stop_grace: {self.stop_grace!r}, expected seconds >= 0")


@dataclass
class ServingState:
    """Where the server listens and whether it serves: written by the server (the configured
    address, then the bound one at start), read by the agent's status.

    It is built apart from the server because the services the server serves show it (the settings
    service's status): the server depends on them, so they cannot depend on the server.
    """

    address: str = ""
    health: str = "NOT_SERVING"

    def status(self) -> StatusFields:
        """The server's part of the agent's status (a settings ``StatusProvider``)."""
        return {"listen_address": self.address, "health": self.health}


@runtime_checkable
class Component(Protocol):
    """The one gRPC server of the core agent (mTLS, bearer token, health, reflection)."""

    @property
    def address(self) -> str:
        """``host:port`` actually bound (the port is resolved when 0 was asked)."""
        ...

    @property
    def port(self) -> int: ...

    @property
    def health(self) -> str:
        """The gRPC health state of the server: ``SERVING`` or ``NOT_SERVING``."""
        ...
