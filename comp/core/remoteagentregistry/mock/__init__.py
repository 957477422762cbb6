"""A test double of the remote agent registry: in memory, with eviction triggered by hand.

Usage in the tests of a component that needs sessions::

    registry = MockRemoteAgentRegistry()
    session_id, _ = registry.register("123", "system-probe", "System Probe")
    ...
    registry.evict(session_id)        # calls the on_evict callbacks now
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from dataclasses import replace

from comp.core.remoteagentregistry.def_ import (
    EvictionCallback,
    InvalidRegistrationError,
    RegistryDisabledError,
    RemoteAgent,
)

__all__ = ["MockRemoteAgentRegistry"]


class MockRemoteAgentRegistry:
    """Implements the registry ``Component``; no clock, no telemetry, no background task.

    ``refreshes`` counts successful refreshes per session, for tests that check a refresh happened.
    """

    def __init__(self, *, enabled: bool = True, refresh_interval_secs: int = 10) -> None:
        self._enabled = enabled
        self._refresh_interval_secs = refresh_interval_secs
        self._agents: dict[str, RemoteAgent] = {}
        self._callbacks: list[EvictionCallback] = []
        self._tick = 0.0
        self.refreshes: dict[str, int] = {}
        self.unhealthy: dict[str, str] = {}

    @property
    def enabled(self) -> bool:
        return self._enabled

    def register(
        self,
        pid: str,
        flavor: str,
        display_name: str,
        api_endpoint_uri: str = "",
        services: tuple[str, ...] = (),
    ) -> tuple[str, int]:
        if not self._enabled:
            raise RegistryDisabledError()
        if not display_name.strip():
            raise InvalidRegistrationError("display_name must not be empty or blank")
        session_id = self.add_session(
            str(uuid.uuid4()),
            pid=pid,
            flavor=flavor,
            display_name=display_name.strip(),
            api_endpoint_uri=api_endpoint_uri,
            services=services,
        )
        return session_id, self._refresh_interval_secs

    def add_session(
        self,
        session_id: str,
        *,
        pid: str = "1",
        flavor: str = "test",
        display_name: str = "Test Agent",
        api_endpoint_uri: str = "",
        services: tuple[str, ...] = (),
    ) -> str:
        """Register a session with a chosen id (works even when disabled); returns the id."""
        self._tick += 1
        self._agents[session_id] = RemoteAgent(
            session_id, pid, flavor, display_name, api_endpoint_uri, tuple(services), self._tick, self._tick
        )
        return session_id

    def refresh(self, session_id: str) -> bool:
        if not self._enabled:
            raise RegistryDisabledError()
        agent = self._agents.get(session_id)
        if agent is None:
            return False
        self._tick += 1
        self._agents[session_id] = replace(agent, last_seen=self._tick)
        self.refreshes[session_id] = self.refreshes.get(session_id, 0) + 1
        return True

    def get(self, session_id: str) -> RemoteAgent | None:
        return self._agents.get(session_id)

    def list(self) -> builtins.list[RemoteAgent]:
        return builtins.list(self._agents.values())

    def mark_unhealthy(self, session_id: str, reason: str) -> bool:
        """Recorded in :attr:`unhealthy`; evict it by hand with :meth:`evict`."""
        if session_id not in self._agents:
            return False
        self.unhealthy.setdefault(session_id, reason)
        return True

    def on_evict(self, callback: EvictionCallback) -> Callable[[], None]:
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def evict(self, session_id: str) -> bool:
        """Remove a session and call the eviction callbacks, as idleness would; False when unknown."""
        if self._agents.pop(session_id, None) is None:
            return False
        for callback in builtins.list(self._callbacks):
            callback(session_id)
        return True

    def evict_all(self) -> builtins.list[str]:
        """Evict every session; returns their ids."""
        ids = builtins.list(self._agents)
        for session_id in ids:
            self.evict(session_id)
        return ids
