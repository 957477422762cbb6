"""Bearer-token check for every RPC of the IPC server, except the health service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from comp.api.grpcserver.def_ import UNAUTHENTICATED_METHODS
from comp.core.ipc.def_ import AUTH_METADATA_KEY

__all__ = ["INVALID_TOKEN_MESSAGE", "BearerTokenInterceptor"]

INVALID_TOKEN_MESSAGE = "invalid auth token"
_BEARER_PREFIX = "bearer "

TokenCheck = Callable[[str], bool]
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]]


def presented_token(metadata: Any) -> str | None:
    """The token of an ``authorization: Bearer <token>`` metadata entry, or None."""
    for key, value in metadata or ():
        if key != AUTH_METADATA_KEY:
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if text[: len(_BEARER_PREFIX)].lower() == _BEARER_PREFIX:
            return text[len(_BEARER_PREFIX) :].strip()
        return None
    return None


async def _deny(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, INVALID_TOKEN_MESSAGE)


async def _deny_stream(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, INVALID_TOKEN_MESSAGE)
    yield  # pragma: no cover - abort raises; this only makes the function a generator


def _denying_handler(real: grpc.RpcMethodHandler[Any, Any] | None) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as ``real`` that answers UNAUTHENTICATED without reading requests.

    Matching the shape matters: a streaming call answered by a unary handler would be misframed.
    """
    if real is None or not (real.request_streaming or real.response_streaming):
        return grpc.unary_unary_rpc_method_handler(_deny)
    if real.request_streaming and real.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_deny_stream)
    if real.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_deny)
    return grpc.unary_stream_rpc_method_handler(_deny_stream)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuses with UNAUTHENTICATED "invalid auth token" any call without the right bearer token.

    ``token_matches`` does the comparison (in constant time). Methods in
    :data:`UNAUTHENTICATED_METHODS` (grpc health) pass without a token; mTLS still applies to them.
    """

    def __init__(self, token_matches: TokenCheck) -> None:
        self._token_matches = token_matches

    async def intercept_service(
        self,
        continuation: Continuation,
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method in UNAUTHENTICATED_METHODS:
            return await continuation(handler_call_details)
        token = presented_token(handler_call_details.invocation_metadata)
        if token is not None and self._token_matches(token):
            return await continuation(handler_call_details)
        return _denying_handler(await continuation(handler_call_details))
