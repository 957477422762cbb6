"""The remote agent's own gRPC server: IPC TLS, the core's bearer token, the ``session_id`` header.

Every call must carry the bearer token (UNAUTHENTICATED "invalid auth token" otherwise). While the
agent has no session every call is refused with UNAVAILABLE; otherwise each response starts with the
header ``session_id: <current session>``, by which the core checks it reached the agent it
registered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc

from comp.api.grpcserver.def_ import GrpcService
from pkg.grpcutil import SESSION_ID_METADATA_KEY
from pkg.ipc import AUTH_METADATA_KEY, ClientMaterial, server_credentials, tokens_match

__all__ = ["NO_SESSION_MESSAGE", "AgentServer", "ServerStartError"]

_log = logging.getLogger(__name__)

NO_SESSION_MESSAGE = "not registered with the core agent yet"
_INVALID_TOKEN = "invalid auth token"
_BEARER = "bearer "
_STOP_GRACE_SECONDS = 1.0

Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]]


class ServerStartError(RuntimeError):
    """The server cannot listen; the message names the address and the cause."""


def _token_of(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == AUTH_METADATA_KEY:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return text[len(_BEARER) :].strip() if text[: len(_BEARER)].lower() == _BEARER else None
    return None


class _Guard(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, session: Callable[[], str | None]) -> None:
        self._token = token
        self._session = session

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.response_streaming:
            return handler  # unknown method (UNIMPLEMENTED), or a shape no provider has
        presented = _token_of(handler_call_details.invocation_metadata)
        if presented is None or not tokens_match(presented, self._token):
            return grpc.unary_unary_rpc_method_handler(
                _refuse(grpc.StatusCode.UNAUTHENTICATED, _INVALID_TOKEN)
            )
        session = self._session()
        if session is None:
            return grpc.unary_unary_rpc_method_handler(
                _refuse(grpc.StatusCode.UNAVAILABLE, NO_SESSION_MESSAGE)
            )
        behavior: Any = handler.unary_unary

        async def with_header(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await context.send_initial_metadata(((SESSION_ID_METADATA_KEY, session),))
            return await behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            with_header,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def _refuse(code: grpc.StatusCode, message: str) -> Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]:
    async def refuse(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(code, message)

    return refuse


class AgentServer:
    """Serves ``services`` at ``listen`` between :meth:`start` and :meth:`stop`."""

    def __init__(
        self, listen: str, services: Sequence[GrpcService], session: Callable[[], str | None]
    ) -> None:
        self._listen = listen
        self._services = tuple(services)
        self._session = session
        self._server: grpc.aio.Server | None = None
        self._endpoint = ""

    @property
    def api_endpoint_uri(self) -> str:
        """``https://host:port`` (the bound port) or ``unix:///path``; empty before start."""
        return self._endpoint

    async def start(self, material: ClientMaterial) -> None:
        """Listen with the IPC certificate and check the token. Raises ServerStartError."""
        server = grpc.aio.server(
            interceptors=(_Guard(material.token, self._session),), options=[("grpc.so_reuseport", 0)]
        )
        for service in self._services:
            service.register(server)
        credentials = server_credentials(material.cert_pem, material.key_pem)
        unix_path = self._listen[len("unix://") :] if self._listen.startswith("unix://") else None
        if unix_path is not None:
            _remove_stale_socket(unix_path)
        try:
            port = server.add_secure_port(self._listen, credentials)
        except RuntimeError as exc:
            raise ServerStartError(f"cannot listen on {self._listen}: {exc}") from exc
        if unix_path is None and port == 0:
            raise ServerStartError(f"cannot listen on {self._listen}: address in use or invalid")
        await server.start()
        self._server = server
        if unix_path is not None:
            self._endpoint = f"unix://{unix_path}"
        else:
            host = self._listen.rpartition(":")[0]
            self._endpoint = f"https://{host}:{port}"
        _log.info("remote agent server listening on %s", self._endpoint)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(_STOP_GRACE_SECONDS)


def _remove_stale_socket(path: str) -> None:
    """A socket file left by an agent that died (it was killed) would make the bind fail."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
