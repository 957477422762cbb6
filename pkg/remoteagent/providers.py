"""gRPC handlers for the three services a remote agent may serve to the core agent.

Each helper wraps one async function of the agent and returns ``(full service name, add_to_server)``
to hand to the remote agent's server (which advertises the name when it registers)::

    name, add = status_service(my_status)     # async def my_status() -> StatusDetails-like tuple
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc

from pkg.proto.gen.datadog.remoteagent.flare.v1 import flare_pb2
from pkg.proto.gen.datadog.remoteagent.status.v1 import status_pb2
from pkg.proto.gen.datadog.remoteagent.telemetry.v1 import telemetry_pb2
from pkg.remoteagent.services import (
    FLARE_METHOD,
    FLARE_SERVICE,
    STATUS_METHOD,
    STATUS_SERVICE,
    TELEMETRY_METHOD,
    TELEMETRY_SERVICE,
)

__all__ = ["AddToServer", "Sections", "flare_service", "status_service", "telemetry_service"]

_log = logging.getLogger(__name__)

AddToServer = Callable[[grpc.aio.Server], None]
Sections = tuple[Mapping[str, str], Mapping[str, Mapping[str, str]]]
"""A status: the main section's fields and the named sections' fields."""


def _unary(
    service: str,
    method: str,
    handler: Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]],
    request_type: Any,
    response_type: Any,
) -> tuple[str, AddToServer]:
    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        method: grpc.unary_unary_rpc_method_handler(
            handler,
            request_deserializer=request_type.FromString,
            response_serializer=response_type.SerializeToString,
        )
    }

    def add_to(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, methods),))

    return service, add_to


async def _fail(context: grpc.aio.ServicerContext[Any, Any], what: str, exc: Exception) -> None:
    _log.exception("%s failed", what)
    await context.abort(grpc.StatusCode.INTERNAL, f"{what} failed: {exc}")


def status_service(get: Callable[[], Awaitable[Sections]]) -> tuple[str, AddToServer]:
    """``StatusProvider/GetStatusDetails`` answered by ``get()``."""

    async def handle(
        _request: status_pb2.GetStatusDetailsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> status_pb2.GetStatusDetailsResponse:
        try:
            main, named = await get()
        except Exception as exc:
            await _fail(context, "status", exc)
            raise
        response = status_pb2.GetStatusDetailsResponse()
        response.main_section.fields.update(main)
        for name, fields in named.items():
            response.named_sections[name].fields.update(fields)
        return response

    return _unary(
        STATUS_SERVICE,
        STATUS_METHOD,
        handle,
        status_pb2.GetStatusDetailsRequest,
        status_pb2.GetStatusDetailsResponse,
    )


def flare_service(get: Callable[[], Awaitable[Mapping[str, bytes]]]) -> tuple[str, AddToServer]:
    """``FlareProvider/GetFlareFiles`` answered by ``get()`` (file name -> content)."""

    async def handle(
        _request: flare_pb2.GetFlareFilesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> flare_pb2.GetFlareFilesResponse:
        try:
            files = await get()
        except Exception as exc:
            await _fail(context, "flare", exc)
            raise
        return flare_pb2.GetFlareFilesResponse(files=dict(files))

    return _unary(
        FLARE_SERVICE, FLARE_METHOD, handle, flare_pb2.GetFlareFilesRequest, flare_pb2.GetFlareFilesResponse
    )


def telemetry_service(get: Callable[[], Awaitable[str]]) -> tuple[str, AddToServer]:
    """``TelemetryProvider/GetTelemetry`` answered by ``get()`` (Prometheus text)."""

    async def handle(
        _request: telemetry_pb2.GetTelemetryRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> telemetry_pb2.GetTelemetryResponse:
        try:
            text = await get()
        except Exception as exc:
            await _fail(context, "telemetry", exc)
            raise
        return telemetry_pb2.GetTelemetryResponse(prom_text=text)

    return _unary(
        TELEMETRY_SERVICE,
        TELEMETRY_METHOD,
        handle,
        telemetry_pb2.GetTelemetryRequest,
        telemetry_pb2.GetTelemetryResponse,
    )
