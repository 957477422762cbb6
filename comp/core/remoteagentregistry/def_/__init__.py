"""Definition of the remote agent registry (RAR)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "Component",
    "EvictionCallback",
    "InvalidRegistrationError",
    "RegistryDisabledError",
    "RegistryFullError",
    "RemoteAgent",
]


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

    def on_evict(self, callback: EvictionCallback) -> Callable[[], None]:
        """Call ``callback(session_id)`` when a session is evicted; returns an unsubscribe function."""
        ...
