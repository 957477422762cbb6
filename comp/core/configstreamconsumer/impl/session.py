"""Registration with the core agent's remote agent registry, and the wording of RPC failures."""

from __future__ import annotations

import os

import grpc

from pkg.ipc import auth_metadata
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc

__all__ = ["DEFAULT_REFRESH_SECONDS", "SESSION_LOST_CODES", "RegistryClient", "describe_rpc_error"]

DEFAULT_REFRESH_SECONDS = 10.0
"""Used when the core recommends no refresh interval (0)."""

SESSION_LOST_CODES = frozenset(
    {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED}
)
"""Answers meaning the registry does not know our session (any more): register again."""


def describe_rpc_error(address: str, error: grpc.RpcError) -> str:
    """One line naming the core agent's address and what went wrong."""
    code = error.code() if isinstance(error, grpc.aio.AioRpcError) else None
    details = (error.details() if isinstance(error, grpc.aio.AioRpcError) else str(error)) or ""
    details = details.strip() or "no details"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach core agent at {address}: {_transport_cause(details)}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"core agent at {address} did not answer in time"
    name = code.name if code is not None else "error"
    return f"core agent at {address} answered {name}: {details}"


def _transport_cause(details: str) -> str:
    lowered = details.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "handshake" in lowered or "ssl" in lowered or "certificate" in lowered:
        return f"TLS handshake failed (is the certificate file the core agent's?): {details}"
    if "dns" in lowered or "resolve" in lowered or "resolution" in lowered:
        return f"cannot resolve the address: {details}"
    if "too many pings" in lowered:
        return f"the core agent refused our keepalive pings as too frequent: {details}"
    if "keepalive" in lowered or "ping timeout" in lowered:
        return f"the core agent stopped answering keepalive pings (hung?): {details}"
    if "cancelling all calls" in lowered:
        return "the core agent is shutting down"
    if "socket closed" in lowered or "connection reset" in lowered or "eof" in lowered:
        return "connection lost"
    return details


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

    async def register(self, flavor: str, display_name: str) -> tuple[str, int]:
        """``(session_id, recommended_refresh_interval_secs)``; raises ``grpc.aio.AioRpcError``."""
        request = remoteagent_pb2.RegisterRemoteAgentRequest(
            pid=str(os.getpid()), flavor=flavor, display_name=display_name
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

    async def refresh(self, session_id: str) -> None:
        """Keep the session alive; raises ``grpc.aio.AioRpcError`` (NOT_FOUND: the session is gone)."""
        request = remoteagent_pb2.RefreshRemoteAgentRequest(session_id=session_id)
        stub = self._legacy if self._use_legacy else self._current
        await stub.RefreshRemoteAgent(request, metadata=self._metadata, timeout=self._timeout)
