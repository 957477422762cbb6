"""Definition of the remote agent registry (RAR)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "Component",
    "EventKind",
    "EventSubscriber",
    "EvictionCallback",
    "InvalidRegistrationError",
    "Params",
    "Queries",
    "QueryResult",
    "RegistryDisabledError",
    "RegistryFullError",
    "RemoteAgent",
    "RemoteAgentEvent",
    "StatusDetails",
]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class RemoteAgent:
    """A registered remote agent. ``last_seen`` is a ``time.monotonic()`` reading."""

    session_id: str
    pid: str
    flavor: str
    display_name: str
    api_endpoint_uri: str
    services: tuple[str, ...]
    registered_at: float
    last_seen: float


class RegistryDisabledError(RuntimeError):
    """``remote_agent.registry.enabled`` is false."""

    def __init__(self) -> None:
        super().__init__("remote agent registry not enabled")


class InvalidRegistrationError(ValueError):
    """A registration request is malformed (blank display name, a field past its bound, ...)."""


class RegistryFullError(RuntimeError):
    """The registry holds as many agents as it may: a new one is refused until one goes."""


@dataclass(frozen=True)
class Params:
    """Tunables of the registry, for tests: ``clock`` (monotonic seconds), ``check_interval``
    (seconds between eviction checks) and ``max_agents`` (registered at once).

    Raises ValueError naming the field, the value and what is expected.
    """

    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    check_interval: float = 1.0
    max_agents: int = 1_000

    def __post_init__(self) -> None:
        if not self.check_interval > 0:
            raise ValueError(
                f"invalid remote agent registry check_interval: {self.check_interval!r}, expected seconds > 0"
            )
        if not self.max_agents >= 1:
            raise ValueError(
                f"invalid remote agent registry max_agents: {self.max_agents!r}, expected an integer >= 1"
            )


EvictionCallback = Callable[[str], None]
"""Called with the session id of an agent removed for idleness (on the event loop)."""


@runtime_checkable
class Component(Protocol):
    """Registers remote agents, keeps their sessions alive on refresh, evicts idle ones."""

    @property
    def enabled(self) -> bool: ...

    def register(
        self,
        pid: str,
        flavor: str,
        display_name: str,
        api_endpoint_uri: str = "",
        services: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        """Returns ``(session_id, recommended_refresh_interval_secs)``.

        Raises RegistryDisabledError, InvalidRegistrationError or RegistryFullError.
        """
        ...

    def refresh(self, session_id: str) -> bool:
        """Marks the session as seen now; False when unknown. Raises RegistryDisabledError."""
        ...

    def get(self, session_id: str) -> RemoteAgent | None: ...

    def list(self) -> list[RemoteAgent]: ...

    def mark_unhealthy(self, session_id: str, reason: str) -> bool:
        """Have the session evicted at the next eviction check (``reason`` is logged then); False
        when unknown. Used when the agent answers a query under another session."""
        ...

    def on_evict(self, callback: EvictionCallback) -> Callable[[], None]:
        """Call ``callback(session_id)`` when a session is evicted; returns an unsubscribe function."""
        ...


@dataclass(frozen=True, slots=True)
class StatusDetails:
    """A remote agent's answer to ``GetStatusDetails``: its main section and its named ones."""

    main: Mapping[str, str] = field(default_factory=dict)
    named: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueryResult(Generic[_T]):
    """One agent's part of a fan-out: ``response``, or ``error`` saying why there is none."""

    agent: RemoteAgent
    response: _T | None
    error: str | None = None


@runtime_checkable
class Queries(Protocol):
    """One concurrent query per call to every registered agent that advertises the service.

    All the agents of one call share one deadline (``remote_agent.registry.query_timeout``): a dead
    or slow agent costs at most that and never delays the others. An agent whose answer carries
    another session id than its registered one is marked unhealthy (evicted at the next check).
    """

    async def status(self) -> list[QueryResult[StatusDetails]]:
        """``datadog.remoteagent.status.v1.StatusProvider/GetStatusDetails`` of each agent."""
        ...

    async def flare_files(self) -> list[QueryResult[dict[str, bytes]]]:
        """``datadog.remoteagent.flare.v1.FlareProvider/GetFlareFiles``: file name -> content."""
        ...

    async def telemetry(self) -> list[QueryResult[str]]:
        """``datadog.remoteagent.telemetry.v1.TelemetryProvider/GetTelemetry``: Prometheus text."""
        ...


class EventKind(StrEnum):
    """What a reported event is about (``unknown``: a kind this version does not know)."""

    INVALID_API_KEY = "invalid_api_key"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RemoteAgentEvent:
    """An event a registered remote agent reported with ``ReportRemoteAgentEvent``."""

    agent: RemoteAgent
    kind: EventKind
    message: str


EventSubscriber = Callable[[RemoteAgentEvent], None]
"""Receives every reported event, on the event loop; contributed to the registry as a list. An
exception is logged and affects neither the other subscribers nor the reporting agent."""
