"""``ReportRemoteAgentEvent``: events reported by remote agents, delivered to contributed subscribers.

The RPC answers NOT_FOUND for an unknown session and UNIMPLEMENTED when the registry is disabled.
Each event goes to every subscriber in turn; one that raises is logged and the others still get it.
:class:`InvalidApiKeyLogger` is the registry's own first subscriber: it logs every invalid-API-
key report and counts it (``remote_agent_registry.invalid_api_key_events{name}``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry.metrics import Meter

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagentregistry.def_ import (
    Component,
    EventKind,
    EventSubscriber,
    RegistryDisabledError,
    RemoteAgentEvent,
)
from comp.core.remoteagentregistry.impl.grpc_service import NOT_FOUND_MESSAGE, REMOTE_AGENT_SERVICE
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb
from pkg.remoteagent.names import sanitize_name

__all__ = ["REPORT_EVENT_METHOD", "EventDispatcher", "InvalidApiKeyLogger", "new_events_service"]

_log = logging.getLogger(__name__)

REPORT_EVENT_METHOD = "ReportRemoteAgentEvent"
_MAX_MESSAGE_CHARS = 1024
_MAX_EVENTS_PER_REPORT = 1000

_ReportContext = grpc.aio.ServicerContext[pb.ReportRemoteAgentEventRequest, pb.ReportRemoteAgentEventResponse]


class EventDispatcher:
    """Delivers reported events to the subscribers."""

    def __init__(self, registry: Component, subscribers: Sequence[EventSubscriber]) -> None:
        self._registry = registry
        self._subscribers = tuple(subscribers)

    def report(self, session_id: str, events: Sequence[pb.Event]) -> bool:
        """Deliver ``events`` of the agent of ``session_id``; False (nothing delivered) when unknown.

        Raises RegistryDisabledError.
        """
        if not self._registry.enabled:
            raise RegistryDisabledError()
        agent = self._registry.get(session_id)
        if agent is None:
            return False
        if len(events) > _MAX_EVENTS_PER_REPORT:
            _log.warning(
                "remote agent %r reported %d events at once: only the first %d are delivered",
                agent.display_name,
                len(events),
                _MAX_EVENTS_PER_REPORT,
            )
        for wire in events[:_MAX_EVENTS_PER_REPORT]:
            kind = EventKind.INVALID_API_KEY if wire.HasField("invalid_api_key") else EventKind.UNKNOWN
            event = RemoteAgentEvent(agent, kind, wire.message[:_MAX_MESSAGE_CHARS])
            for subscriber in self._subscribers:
                try:
                    subscriber(event)
                except Exception:
                    _log.exception("remote agent event subscriber %r failed on a %s event", subscriber, kind)
        return True


class InvalidApiKeyLogger:
    """An event subscriber: logs invalid-API-key reports and counts them by agent."""

    def __init__(self, meter: Meter) -> None:
        self._counter = meter.create_counter(
            "remote_agent_registry.invalid_api_key_events",
            description="Invalid API key reports from remote agents, by agent",
        )

    def __call__(self, event: RemoteAgentEvent) -> None:
        if event.kind is not EventKind.INVALID_API_KEY:
            return
        self._counter.add(1, {"name": sanitize_name(event.agent.display_name)})
        _log.warning(
            "remote agent %r (flavor %r, pid %s) reports an invalid API key: %s",
            event.agent.display_name,
            event.agent.flavor,
            event.agent.pid,
            event.message or "no details",
        )


def new_events_service(dispatcher: EventDispatcher) -> GrpcService:
    """``datadog.remoteagent.v1.RemoteAgent/ReportRemoteAgentEvent`` (the other methods of the
    service are the registry's; the server asks each handler in turn)."""

    async def report(
        request: pb.ReportRemoteAgentEventRequest, context: _ReportContext
    ) -> pb.ReportRemoteAgentEventResponse:
        try:
            found = dispatcher.report(request.session_id, request.events)
        except RegistryDisabledError as exc:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, str(exc))
        if not found:
            await context.abort(grpc.StatusCode.NOT_FOUND, NOT_FOUND_MESSAGE)
        return pb.ReportRemoteAgentEventResponse()

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        REPORT_EVENT_METHOD: grpc.unary_unary_rpc_method_handler(
            report,
            request_deserializer=pb.ReportRemoteAgentEventRequest.FromString,
            response_serializer=pb.ReportRemoteAgentEventResponse.SerializeToString,
        )
    }

    def add_to(server: grpc.aio.Server) -> None:
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(REMOTE_AGENT_SERVICE, methods),)
        )

    return GrpcService(names=(REMOTE_AGENT_SERVICE,), register=add_to)
