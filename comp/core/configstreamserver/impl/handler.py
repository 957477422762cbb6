"""The ``StreamConfigEvents`` handler.

Checks, in this order (the Go agent's, with its messages):

1. registry disabled → ``UNIMPLEMENTED`` "remote agent registry not enabled";
2. session id from the ``session_id`` metadata entry, else from request field 2 (older clients);
   none → ``UNAUTHENTICATED`` "session_id required in metadata: ...";
3. an empty metadata value → ``UNAUTHENTICATED`` "session_id cannot be empty";
4. unknown to the registry → ``PERMISSION_DENIED`` "session_id '<id>' not found". The check is a
   ``refresh``: a stream that starts keeps its session alive like a refresh call.

A request with ``resume_from`` (field 100, an extension) subscribes with that resume point: the
producer then sends snapshots carrying its epoch and, when it can, only the updates the client
missed instead of a snapshot. Before any event (a resume with nothing missed has none), such a
request is answered with initial metadata: ``configstream-epoch: <epoch>`` and
``configstream-resume: accepted|refused|none`` (``none``: the request's epoch was empty), so that the
client knows at once whether a snapshot is coming. A request without it gets exactly the Go agent's
stream, headers included.

Then the subscriber's events are written with ``context.write``: the payloads are serialized once by
the producer and written as they are (the method has no response serializer). ``context.write`` is
what the server itself calls for each item of an async-generator handler, so writing directly saves
one generator step per message and lets the handler see each send's error: ``CANCELLED``,
``UNAVAILABLE`` or ``RESOURCE_EXHAUSTED`` (or the RPC being over) end the stream; any other error
drops that event, waits ``remote_agent.configstream.sleep_interval`` and goes on.

The events are written by the RPC's own task: no other task, and no queue but the subscription's. To
end a stream (eviction, drain) the handler closes its subscription and cancels that task once, which
stops it even while a write waits for a client that does not read; it tells that cancellation from
any other (the client went away, the server is stopping: let through) by counting cancellation
requests (``Task.uncancel``). An evicted session's stream ends with ``PERMISSION_DENIED`` and the
client registers again. When the producer closes the subscription (shutdown) the stream ends with
``UNAVAILABLE``. The subscription is closed on every exit path.

At shutdown the gRPC server calls :meth:`ConfigStreamHandler.drain` before it stops: every stream
ends with ``UNAVAILABLE`` "config stream closed: the core agent is shutting down" (the client
reconnects to the next core agent), new streams are refused the same way, and the drain returns once
the handlers have finished, so that the server's stop does not wait its grace for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from comp.core.configstream import def_ as configstream_def
from comp.core.configstreamserver.def_ import ConfigStreamContext
from comp.core.remoteagentregistry import def_ as registry_def
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest
from pkg.protoconv.configevents import ResumeAnswer, resume_headers

__all__ = [
    "MSG_EVICTED",
    "MSG_NOT_ENABLED",
    "MSG_SESSION_EMPTY",
    "MSG_SESSION_REQUIRED",
    "MSG_SHUTTING_DOWN",
    "SESSION_ID_METADATA_KEY",
    "TERMINAL_SEND_CODES",
    "ConfigStreamHandler",
    "send_error_code",
]

_log = logging.getLogger(__name__)

SESSION_ID_METADATA_KEY = "session_id"
MSG_NOT_ENABLED = "remote agent registry not enabled"
MSG_SESSION_REQUIRED = (
    "session_id required in metadata: remote agent must register with RAR before subscribing to config stream"
)
MSG_SESSION_EMPTY = "session_id cannot be empty"
MSG_EVICTED = "session_id '{}' was evicted (not refreshed in time): register with RAR again"
MSG_SHUTTING_DOWN = "config stream closed: the core agent is shutting down"

TERMINAL_SEND_CODES = frozenset(
    {grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED}
)
"""Send errors that end a stream; others drop one event and go on."""


@dataclass(eq=False)
class _Stream:
    session_id: str
    subscription: configstream_def.Subscription
    task: asyncio.Task[object] | None
    """The RPC's task, which writes the events."""
    headers: tuple[tuple[str, str], ...] | None = None
    """Initial metadata sent before the events: the answer to ``resume_from``; None without it."""
    evicted: bool = False
    drained: bool = False
    cancelled: bool = False
    """The handler cancelled ``task`` (once at most) to end the stream."""
    sent: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the handler of the stream is done (its status is being sent)."""


class ConfigStreamHandler:
    """Implements ``def_.Component``. Runs on the gRPC server's event loop."""

    def __init__(
        self,
        configstream: configstream_def.Component,
        registry: registry_def.Component,
        *,
        sleep_interval: float,
    ) -> None:
        self._configstream = configstream
        self._registry = registry
        self._sleep_interval = sleep_interval
        self._streams: dict[str, set[_Stream]] = {}
        self._unsubscribe_evictions: Callable[[], None] | None = None
        self._draining = False

    @property
    def active_streams(self) -> int:
        return sum(len(streams) for streams in self._streams.values())

    @property
    def sleep_interval(self) -> float:
        """Seconds to wait after a send error that does not end the stream."""
        return self._sleep_interval

    async def start(self) -> None:
        self._unsubscribe_evictions = self._registry.on_evict(self._on_evict)

    async def stop(self) -> None:
        if self._unsubscribe_evictions is not None:
            self._unsubscribe_evictions()
            self._unsubscribe_evictions = None

    async def drain(self) -> None:
        """End every stream with UNAVAILABLE, refuse new ones, return once their handlers are done."""
        self._draining = True
        streams = [stream for streams in self._streams.values() for stream in streams]
        if streams:
            _log.info("config stream: shutting down, ending %d streams", len(streams))
        for stream in streams:
            stream.drained = True
            _end(stream)
        for stream in streams:
            await stream.finished.wait()

    async def stream_config_events(self, request: ConfigStreamRequest, context: ConfigStreamContext) -> None:
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        # Until the stream is registered below nothing waits (the checks await only to refuse), so a
        # drain that starts meanwhile cannot miss it.
        session_id = await self._authorize(request, context)
        name = request.name or session_id
        resume = _resume_point(request)
        subscription = self._configstream.subscribe(name, resume=resume)
        headers = None
        if resume is not None:
            headers = resume_headers(self._configstream.epoch, _resume_answer(resume, subscription))
        stream = _Stream(session_id, subscription, asyncio.current_task(), headers)
        self._streams.setdefault(session_id, set()).add(stream)
        if resume is None:
            _log.info("config stream: %s (session %s) subscribed", name, session_id)
        else:
            _log.info(
                "config stream: %s (session %s) subscribed, resume from epoch %r sequence id %d: %s",
                name,
                session_id,
                resume.epoch,
                resume.sequence_id,
                _resume_answer(resume, subscription).value,
            )
        try:
            await self._serve(stream, context, name)
        finally:
            stream.finished.set()

    async def _serve(self, stream: _Stream, context: ConfigStreamContext, name: str) -> None:
        """Write the stream's events until it ends, then end the RPC with the status that says why."""
        subscription, session_id = stream.subscription, stream.session_id
        try:
            subscription_ended = await self._write_events(stream, context)
        except asyncio.CancelledError:
            # Ours alone (by the eviction or the drain): uncancel and end the RPC with its status.
            # Along with another request (the client went away, the server is stopping): let it through.
            if not stream.cancelled or stream.task is None or stream.task.uncancel() > 0:
                raise
            subscription_ended = True
        finally:
            # No await from here until the stream is forgotten: nothing can cancel it any more.
            subscription.close()
            self._forget(stream)
            _log.info("config stream: %s (session %s) ended after %d events", name, session_id, stream.sent)
        if stream.evicted:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, MSG_EVICTED.format(session_id))
        if subscription_ended:
            await context.abort(grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        # A send failed for good: the RPC is over, there is nobody to tell.

    async def _authorize(self, request: ConfigStreamRequest, context: ConfigStreamContext) -> str:
        """The session id of a known session (refreshed); aborts the RPC otherwise."""
        if not self._registry.enabled:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, MSG_NOT_ENABLED)
        session_id = _session_id(request, context)
        if session_id is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, MSG_SESSION_REQUIRED)
        if not session_id:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, MSG_SESSION_EMPTY)
        try:
            known = self._registry.refresh(session_id)
        except registry_def.RegistryDisabledError:  # disabled since the first check
            known = None
        if known is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, MSG_NOT_ENABLED)
        if not known:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{session_id}' not found")
        return session_id

    async def _write_events(self, stream: _Stream, context: ConfigStreamContext) -> bool:
        """Write until the subscription ends (True) or a send fails for good (False)."""
        if stream.headers is not None:
            try:
                await context.send_initial_metadata(stream.headers)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:  # the RPC is over: nothing else can be sent either
                _log.info(
                    "config stream: %s (session %s): sending the resume answer failed (%r): stream ended",
                    stream.subscription.name,
                    stream.session_id,
                    exc,
                )
                return False
        async for event in stream.subscription.events():
            try:
                await context.write(event.payload)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code = send_error_code(exc)
                if code in TERMINAL_SEND_CODES:
                    _log.info(
                        "config stream: %s (session %s): send failed (%s), ending the stream",
                        stream.subscription.name,
                        stream.session_id,
                        code.name if code is not None else type(exc).__name__,
                    )
                    return False
                _log.warning(
                    "config stream: %s (session %s): dropped event %d, send failed: %r",
                    stream.subscription.name,
                    stream.session_id,
                    event.sequence_id,
                    exc,
                )
                await asyncio.sleep(self._sleep_interval)
                continue
            stream.sent += 1
        return True

    def _on_evict(self, session_id: str) -> None:
        for stream in list(self._streams.get(session_id, ())):
            _log.info("config stream: session %s evicted, ending its stream", session_id)
            stream.evicted = True
            _end(stream)

    def _forget(self, stream: _Stream) -> None:
        streams = self._streams.get(stream.session_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.session_id]


def _end(stream: _Stream) -> None:
    """Close a registered stream's subscription and cancel its task (once), to stop even a write
    blocked on a client that does not read.

    Only for a stream still registered, from another task: the stream's task then waits in its
    writes (it is forgotten with no await after them), where the cancellation lands.
    """
    stream.subscription.close()
    task = stream.task
    if not stream.cancelled and task is not None and task is not asyncio.current_task():
        stream.cancelled = True
        task.cancel()


def _session_id(request: ConfigStreamRequest, context: ConfigStreamContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == SESSION_ID_METADATA_KEY:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return request.session_id or None


def _resume_point(request: ConfigStreamRequest) -> configstream_def.ResumePoint | None:
    """The request's ``resume_from``; None when absent (a client without the extension)."""
    if not request.HasField("resume_from"):
        return None
    return configstream_def.ResumePoint(request.resume_from.epoch, request.resume_from.sequence_id)


def _resume_answer(
    resume: configstream_def.ResumePoint, subscription: configstream_def.Subscription
) -> ResumeAnswer:
    if not resume.epoch:
        return ResumeAnswer.NONE
    return ResumeAnswer.ACCEPTED if subscription.resumed else ResumeAnswer.REFUSED


def send_error_code(exc: BaseException) -> grpc.StatusCode | None:
    """The status a failed ``context.write`` stands for; None when it says nothing about the RPC."""
    if isinstance(exc, grpc.RpcError):
        code = getattr(exc, "code", None)
        if callable(code):
            result = code()
            if isinstance(result, grpc.StatusCode):
                return result
    if isinstance(exc, grpc.aio.UsageError):
        return grpc.StatusCode.CANCELLED  # "RPC already finished"
    if isinstance(exc, grpc.aio.BaseError):
        return grpc.StatusCode.UNAVAILABLE  # the send batch failed or the server stopped
    return None
