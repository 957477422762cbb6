"""The client side of the remote agent registry: register, then refresh the session."""

from __future__ import annotations

import os
from collections.abc import Sequence

import grpc

from pkg.ipc import auth_metadata
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc

__all__ = ["DEFAULT_REFRESH_SECONDS", "RegistryClient"]

DEFAULT_REFRESH_SECONDS = 10.0
"""Used when the core recommends no refresh interval (0)."""


class RegistryClient:
    """Register and refresh over one channel.

    Uses ``datadog.remoteagent.v1.RemoteAgent``; a core agent that does not serve it (UNIMPLEMENTED)
    is asked through the deprecated copies on ``datadog.api.v1.AgentSecure`` instead.
    """

    def __init__(self, channel: grpc.aio.Channel, token: str, rpc_timeout: float) -> None:
        self._current = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        self._legacy = api_pb2_grpc.AgentSecureStub(channel)
        self._use_legacy = False
        self._metadata = auth_metadata(token)
        self._timeout = rpc_timeout

    async def register(
        self, flavor: str, display_name: str, *, api_endpoint_uri: str = "", services: Sequence[str] = ()
    ) -> tuple[str, int]:
        """``(session_id, recommended_refresh_interval_secs)``; raises ``grpc.aio.AioRpcError``."""
        request = remoteagent_pb2.RegisterRemoteAgentRequest(
            pid=str(os.getpid()),
            flavor=flavor,
            display_name=display_name,
            api_endpoint_uri=api_endpoint_uri,
            services=list(services),
        )
        if not self._use_legacy:
            try:
                response = await self._current.RegisterRemoteAgent(
                    request, metadata=self._metadata, timeout=self._timeout
                )
                return response.session_id, response.recommended_refresh_interval_secs
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
        response = await self._legacy.RegisterRemoteAgent(
            request, metadata=self._metadata, timeout=self._timeout
        )
        self._use_legacy = True
        return response.session_id, response.recommended_refresh_interval_secs

    async def report_events(self, session_id: str, events: Sequence[remoteagent_pb2.Event]) -> None:
        """Report events (an invalid API key, ...) to the core; raises ``grpc.aio.AioRpcError``."""
        request = remoteagent_pb2.ReportRemoteAgentEventRequest(session_id=session_id, events=list(events))
        await self._current.ReportRemoteAgentEvent(request, metadata=self._metadata, timeout=self._timeout)

    async def refresh(self, session_id: str) -> None:
        """Keep the session alive; raises ``grpc.aio.AioRpcError`` (NOT_FOUND: the session is gone)."""
        request = remoteagent_pb2.RefreshRemoteAgentRequest(session_id=session_id)
        stub = self._legacy if self._use_legacy else self._current
        await stub.RefreshRemoteAgent(request, metadata=self._metadata, timeout=self._timeout)
