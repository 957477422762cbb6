"""Definition of the remote agent component: what a remote agent composes to be seen by the core.

It serves the contributed services (status, flare, telemetry providers: ``GrpcService`` values, as
for the core's server) on the agent's own gRPC server, with the core's IPC certificate and bearer
token, putting ``session_id: <current session>`` on every response and refusing calls while it has
no session. It registers with the core agent advertising those services and its address, refreshes
the session, registers again when the core no longer knows it, and hands the session to the config
stream consumer (one registration per agent)::

    await agent.start()                      # also run as a lifecycle hook
    session_id = await agent.current_session()
    agent.session_lost(session_id)           # a peer saw the core refuse it: register again now
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from pkg.ipc import ClientMaterial
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2

__all__ = ["DEFAULT_LISTEN", "Component", "Params"]

DEFAULT_LISTEN = "127.0.0.1:0"


@dataclass(frozen=True)
class Params:
    """Inputs of the remote agent component.

    ``core_address``: the core agent's IPC address. Credentials: ``material``, else read from
    ``auth_token_file`` and ``cert_file`` at every attempt. ``listen``: where the agent's own server
    listens, ``host:port`` (port 0: a free one) or ``unix:///path``. ``refresh_interval``: seconds
    between refreshes (None: as the core recommends). ``retry_initial``/``retry_cap``: delays between
    failed registrations (doubling). ``rpc_timeout`` bounds each call to the core.

    Raises ValueError naming the field, the value and what is expected.
    """

    core_address: str
    flavor: str
    display_name: str
    auth_token_file: Path | None = None
    cert_file: Path | None = None
    material: ClientMaterial | None = None
    listen: str = DEFAULT_LISTEN
    refresh_interval: float | None = None
    retry_initial: float = 0.5
    retry_cap: float = 10.0
    rpc_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.display_name.strip():
            raise ValueError("invalid remote agent display_name: blank, expected a name")
        if self.material is None and (self.auth_token_file is None or self.cert_file is None):
            raise ValueError(
                "remote agent needs the IPC auth token and certificate: give auth_token_file and "
                "cert_file, or material"
            )
        _check_listen(self.listen)
        if not 0 < self.retry_initial <= self.retry_cap:
            raise ValueError(
                f"invalid remote agent retry delays: initial {self.retry_initial!r}, cap "
                f"{self.retry_cap!r}; expected 0 < initial <= cap"
            )


def _check_listen(listen: str) -> None:
    """``unix:///absolute/path``, or ``host:port`` with a port from 0 to 65535 (``[::1]:port`` for IPv6)."""
    if listen.startswith("unix://"):
        path = listen[len("unix://") :]
        valid = path.startswith("/") and path != "/"
    else:
        host, sep, port = listen.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        valid = bool(sep and host.strip()) and host == host.strip() and port.isdigit() and int(port) <= 65535
    if not valid:
        raise ValueError(
            f"invalid remote agent listen: {listen!r}, expected host:port (port 0: a free one) or "
            "unix:///absolute/path"
        )


@runtime_checkable
class Component(Protocol):
    """A registered remote agent serving its providers to the core agent."""

    async def start(self) -> None:
        """Start the server and register in the background; returns once the server listens."""
        ...

    async def stop(self) -> None:
        """Stop refreshing and stop the server. Idempotent."""
        ...

    @property
    def api_endpoint_uri(self) -> str:
        """Where the core reaches this agent (``https://host:port`` or ``unix:///path``), once started."""
        ...

    @property
    def services(self) -> tuple[str, ...]:
        """The full names of the services advertised at registration."""
        ...

    @property
    def session_id(self) -> str | None:
        """The current session, None while (re-)registering."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the last registration or refresh failed (None after a success)."""
        ...

    async def current_session(self) -> str:
        """The current session; without one, waits for the registration attempt in progress, and
        raises ConnectionError (the message is :attr:`last_error`) when the last attempt failed."""
        ...

    def session_lost(self, session_id: str) -> None:
        """The core no longer knows ``session_id`` (a stream was refused): register again now. Ignored
        when the session has already been replaced."""
        ...

    async def report_events(self, events: Sequence[remoteagent_pb2.Event]) -> None:
        """``ReportRemoteAgentEvent`` with the current session; raises ``grpc.aio.AioRpcError``."""
        ...
