"""The registry's gRPC service: RegisterRemoteAgent and RefreshRemoteAgent.

Served under ``datadog.remoteagent.v1.RemoteAgent`` and, with the same behaviour, under the
deprecated ``datadog.api.v1.AgentSecure`` (whose StreamConfigEvents method another component adds;
the server tries each generic handler in turn). Bearer-token checks are the server's, not ours.
"""

from __future__ import annotations

from typing import Any

import grpc

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagentregistry.def_ import (
    Component,
    InvalidRegistrationError,
    RegistryDisabledError,
    RegistryFullError,
)
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb

__all__ = [
    "AGENT_SECURE_SERVICE",
    "NOT_FOUND_MESSAGE",
    "REFRESH_METHOD",
    "REGISTER_METHOD",
    "REMOTE_AGENT_SERVICE",
    "new_grpc_service",
]

REMOTE_AGENT_SERVICE = "datadog.remoteagent.v1.RemoteAgent"
AGENT_SECURE_SERVICE = "datadog.api.v1.AgentSecure"
REGISTER_METHOD = "RegisterRemoteAgent"
REFRESH_METHOD = "RefreshRemoteAgent"
NOT_FOUND_MESSAGE = "no remote agent found with session ID"

_RegisterContext = grpc.aio.ServicerContext[pb.RegisterRemoteAgentRequest, pb.RegisterRemoteAgentResponse]
_RefreshContext = grpc.aio.ServicerContext[pb.RefreshRemoteAgentRequest, pb.RefreshRemoteAgentResponse]


class _Handlers:
    def __init__(self, registry: Component) -> None:
        self._registry = registry

    async def register(
        self, request: pb.RegisterRemoteAgentRequest, context: _RegisterContext
    ) -> pb.RegisterRemoteAgentResponse:
        # abort() raises: it is called from the except clauses, never inside a try that catches it.
        try:
            session_id, refresh_secs = self._registry.register(
                pid=request.pid,
                flavor=request.flavor,
                display_name=request.display_name,
                api_endpoint_uri=request.api_endpoint_uri,
                services=tuple(request.services),
            )
        except RegistryDisabledError as exc:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(exc))
        except InvalidRegistrationError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except RegistryFullError as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        return pb.RegisterRemoteAgentResponse(
            session_id=session_id, recommended_refresh_interval_secs=refresh_secs
        )

    async def refresh(
        self, request: pb.RefreshRemoteAgentRequest, context: _RefreshContext
    ) -> pb.RefreshRemoteAgentResponse:
        try:
            found = self._registry.refresh(request.session_id)
        except RegistryDisabledError as exc:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(exc))
        if not found:
            await context.abort(grpc.StatusCode.NOT_FOUND, NOT_FOUND_MESSAGE)
        return pb.RefreshRemoteAgentResponse()


def new_grpc_service(registry: Component) -> GrpcService:
    """The registry's contribution to the gRPC server (both service names)."""
    handlers = _Handlers(registry)
    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        REGISTER_METHOD: grpc.unary_unary_rpc_method_handler(
            handlers.register,
            request_deserializer=pb.RegisterRemoteAgentRequest.FromString,
            response_serializer=pb.RegisterRemoteAgentResponse.SerializeToString,
        ),
        REFRESH_METHOD: grpc.unary_unary_rpc_method_handler(
            handlers.refresh,
            request_deserializer=pb.RefreshRemoteAgentRequest.FromString,
            response_serializer=pb.RefreshRemoteAgentResponse.SerializeToString,
        ),
    }

    def add_to(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(REMOTE_AGENT_SERVICE, methods),
                grpc.method_handlers_generic_handler(AGENT_SECURE_SERVICE, methods),
            )
        )

    return GrpcService(names=(REMOTE_AGENT_SERVICE, AGENT_SECURE_SERVICE), register=add_to)
