"""A test double of the remote agent component: sessions handed out by hand, no server, no core.

Usage in the tests of a component that needs the agent's session::

    agent = MockRemoteAgent()
    agent.set_session("s1")          # current_session() returns "s1" from now on
    ...
    assert agent.lost == ["s1"]      # what session_lost() was told
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2

__all__ = ["MockRemoteAgent"]


class MockRemoteAgent:
    """Implements the remote agent ``Component``. :meth:`session_lost` drops the session until the
    next :meth:`set_session`; reported events are kept in :attr:`events`."""

    def __init__(self, api_endpoint_uri: str = "https://127.0.0.1:1", services: tuple[str, ...] = ()) -> None:
        self._uri = api_endpoint_uri
        self._services = services
        self._session_id: str | None = None
        self._changed = asyncio.Event()
        self.lost: list[str] = []
        self.events: list[remoteagent_pb2.Event] = []
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    @property
    def api_endpoint_uri(self) -> str:
        return self._uri

    @property
    def services(self) -> tuple[str, ...]:
        return self._services

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def last_error(self) -> str | None:
        return None if self._session_id is not None else "no session set"

    def set_session(self, session_id: str | None) -> None:
        self._session_id = session_id
        self._changed.set()
        self._changed = asyncio.Event()

    async def current_session(self) -> str:
        """Waits for :meth:`set_session` (the mock never fails a registration)."""
        while self._session_id is None:
            await self._changed.wait()
        return self._session_id

    def session_lost(self, session_id: str) -> None:
        self.lost.append(session_id)
        if session_id == self._session_id:
            self._session_id = None

    async def report_events(self, events: Sequence[remoteagent_pb2.Event]) -> None:
        self.events.extend(events)
