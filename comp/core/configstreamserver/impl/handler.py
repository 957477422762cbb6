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

The other extensions of the request are handed to the producer as they are: ``max_batch_updates``
(batches of queued updates), ``filter`` (only matching keys; a filter over its bounds, see
``configstream.def_.KeyFilter``, is refused with ``INVALID_ARGUMENT`` naming the entry and the limit)
and ``progress`` (progress events on an idle stream).

Then the subscriber's events are written with ``context.write``: the payloads are serialized once by
the producer and written as they are (the method has no response serializer). ``context.write`` is
what the server itself calls for each item of an async-generator handler, so writing directly saves
one generator step per message and lets the handler see each send's error: ``CANCELLED``,
``UNAVAILABLE`` or ``RESOURCE_EXHAUSTED`` (or the RPC being over) end the stream; any other error
drops that event, waits ``remote_agent.configstream.sleep_interval`` and goes on.

The events are written by the RPC's own task: no other task, and no queue but the subscription's.
To end a stream from outside (eviction, drain) the handler closes its subscription: ``events()`` ends
after the write in flight, or at once when the task waits for the next event, and the task ends the
RPC with the status that says why. A write in flight is never cancelled as a matter of course: in
grpc.aio, cancelling a task in ``context.write`` leaves the send pending in the core, and when that
write was the first one, its initial metadata too: the ``abort`` that follows then asks to send the
initial metadata again, the core refuses the batch (``GRPC_CALL_ERROR_TOO_MANY_OPERATIONS``) and the
client never gets its status. Only a write still pending ``write_grace`` seconds after the end was
asked (a client that stopped reading: the write waits for HTTP/2 flow control, maybe forever) is
cancelled; the handler tells that cancellation from any other (the client went away, the server is
stopping: let through) by counting cancellation requests (``Task.uncancel``). That is safe because
every stream sends its initial metadata on its own, before its first event: ``abort`` then only adds
the status, which the core queues behind the pending message. The client that reads again receives
the messages already written, then the status. An evicted session's stream ends with
``PERMISSION_DENIED`` and the client registers again. When the producer closes the subscription
(shutdown) the stream ends with ``UNAVAILABLE``. The subscription is closed on every exit path.

Text from the client is bounded: ``name`` at ``MAX_NAME_CHARS`` and the resume epoch at
``MAX_EPOCH_CHARS`` (``INVALID_ARGUMENT`` naming the field and the limit); a session id longer than
any the registry hands out is unknown (``PERMISSION_DENIED``). What is echoed in logs and statuses is
shortened (:func:`pkg.util.text.shorten`).

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
from pkg.grpcutil import SESSION_ID_METADATA_KEY, rpc_code
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigStreamRequest
from pkg.protoconv.configevents import ResumeAnswer, resume_headers
from pkg.util.text import shorten

__all__ = [
    "DEFAULT_WRITE_GRACE",
    "MAX_EPOCH_CHARS",
    "MAX_NAME_CHARS",
    "MAX_SESSION_ID_CHARS",
    "MSG_EVICTED",
    "MSG_NOT_ENABLED",
    "MSG_SESSION_EMPTY",
    "MSG_SESSION_REQUIRED",
    "MSG_SHUTTING_DOWN",
    "TERMINAL_SEND_CODES",
    "ConfigStreamHandler",
    "send_error_code",
]

_log = logging.getLogger(__name__)

MSG_NOT_ENABLED = "remote agent registry not enabled"
MSG_SESSION_REQUIRED = (
    "session_id required in metadata: remote agent must register with RAR before subscribing to config stream"
)
MSG_SESSION_EMPTY = "session_id cannot be empty"
MSG_EVICTED = "session_id '{}' was evicted (not refreshed in time): register with RAR again"
MSG_SHUTTING_DOWN = "config stream closed: the core agent is shutting down"

MAX_NAME_CHARS = 256
"""Longest ``ConfigStreamRequest.name`` accepted."""
MAX_EPOCH_CHARS = 64
"""Longest ``resume_from.epoch`` accepted (the core's epochs have 32 characters)."""
MAX_SESSION_ID_CHARS = 64
"""Longer session ids are unknown without a look-up (the registry's have 36 characters)."""
DEFAULT_WRITE_GRACE = 0.5
"""Seconds a write in flight may take, once its stream is ended from outside, before it is cancelled."""

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
    writing: bool = False
    """A ``context.write`` is in flight."""
    cancelled: bool = False
    """The handler cancelled ``task`` (once at most) to end the stream."""
    watchdog: asyncio.TimerHandle | None = None
    """Cancels ``task`` if the write in flight when the stream was ended is still pending at the grace."""
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
        write_grace: float = DEFAULT_WRITE_GRACE,
    ) -> None:
        self._configstream = configstream
        self._registry = registry
        self._sleep_interval = sleep_interval
        self._write_grace = write_grace
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
            self._end(stream)
        for stream in streams:
            await stream.finished.wait()

    async def stream_config_events(self, request: ConfigStreamRequest, context: ConfigStreamContext) -> None:
        if self._draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        # Until the stream is registered below nothing waits (the checks await only to refuse), so a
        # drain that starts meanwhile cannot miss it.
        session_id = await self._authorize(request, context)
        await _check_request(request, context)
        key_filter = await _key_filter(request, context)
        name = request.name or session_id
        resume = _resume_point(request)
        subscription = self._configstream.subscribe(
            name,
            resume=resume,
            session_id=session_id,
            max_batch_updates=request.max_batch_updates,
            key_filter=key_filter,
            progress=request.progress,
        )
        headers = None
        if resume is not None:
            headers = resume_headers(self._configstream.epoch, _resume_answer(resume, subscription))
        stream = _Stream(session_id, subscription, asyncio.current_task(), headers)
        self._streams.setdefault(session_id, set()).add(stream)
        label = shorten(name)
        if resume is None:
            _log.info("config stream: %s (session %s) subscribed", label, session_id)
        else:
            _log.info(
                "config stream: %s (session %s) subscribed, resume from epoch %s sequence id %d: %s",
                label,
                session_id,
                shorten(resume.epoch),
                resume.sequence_id,
                _resume_answer(resume, subscription).value,
            )
        await self._serve(stream, context, label)

    async def _serve(self, stream: _Stream, context: ConfigStreamContext, label: str) -> None:
        """Write the stream's events until it ends, then end the RPC with the status that says why."""
        subscription, session_id = stream.subscription, stream.session_id
        try:
            subscription_ended = await self._write_events(stream, context)
        except asyncio.CancelledError:
            # Ours alone (a write blocked past the grace): uncancel and end the RPC with its status.
            # Along with another request (the client went away, the server is stopping): let it through.
            if not stream.cancelled or stream.task is None or stream.task.uncancel() > 0:
                raise
            subscription_ended = True
        finally:
            # No await from here until the stream is forgotten: nothing can cancel it any more.
            subscription.close()
            if stream.watchdog is not None:
                stream.watchdog.cancel()
            self._forget(stream)
            stream.finished.set()
            _log.info("config stream: %s (session %s) ended after %d events", label, session_id, stream.sent)
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
            known = len(session_id) <= MAX_SESSION_ID_CHARS and self._registry.refresh(session_id)
        except registry_def.RegistryDisabledError:  # disabled since the first check
            known = None
        if known is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, MSG_NOT_ENABLED)
        if not known:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"session_id {shorten(session_id)} not found"
            )
        return session_id

    async def _write_events(self, stream: _Stream, context: ConfigStreamContext) -> bool:
        """Write until the subscription ends (True) or a send fails for good (False)."""
        try:
            # On its own, before any event, even when empty: a write cancelled later (see the module
            # docstring) can then never leave the initial metadata pending under the status.
            await context.send_initial_metadata(stream.headers or ())
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # the RPC is over: nothing else can be sent either
            _log.info(
                "config stream: %s (session %s): sending the headers failed (%r): stream ended",
                shorten(stream.subscription.name),
                stream.session_id,
                exc,
            )
            return False
        async for event in stream.subscription.events():
            stream.writing = True
            try:
                await context.write(event.payload)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                code = send_error_code(exc)
                if code in TERMINAL_SEND_CODES:
                    _log.info(
                        "config stream: %s (session %s): send failed (%s), ending the stream",
                        shorten(stream.subscription.name),
                        stream.session_id,
                        code.name if code is not None else type(exc).__name__,
                    )
                    return False
                _log.warning(
                    "config stream: %s (session %s): dropped event %d, send failed: %r",
                    shorten(stream.subscription.name),
                    stream.session_id,
                    event.sequence_id,
                    exc,
                )
                await asyncio.sleep(self._sleep_interval)
                continue
            finally:
                stream.writing = False
            stream.sent += 1
        return True

    def _on_evict(self, session_id: str) -> None:
        for stream in list(self._streams.get(session_id, ())):
            _log.info("config stream: session %s evicted, ending its stream", session_id)
            stream.evicted = True
            self._end(stream)

    def _end(self, stream: _Stream) -> None:
        """End a registered stream from another task: close its subscription, so that its task ends
        the RPC after the write in flight, if any; cancel that write if still pending at the grace."""
        stream.subscription.close()
        if stream.writing and stream.watchdog is None and not stream.cancelled:
            loop = asyncio.get_running_loop()
            stream.watchdog = loop.call_later(self._write_grace, _cancel_blocked_write, stream, stream.sent)

    def _forget(self, stream: _Stream) -> None:
        streams = self._streams.get(stream.session_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:
                del self._streams[stream.session_id]


def _cancel_blocked_write(stream: _Stream, sent: int) -> None:
    """Cancel the stream's task if it is still in the write that was in flight ``sent`` events ago."""
    task = stream.task
    if stream.writing and stream.sent == sent and not stream.cancelled and task is not None:
        _log.info(
            "config stream: %s (session %s): a write is blocked (the client reads nothing): cancelled",
            shorten(stream.subscription.name),
            stream.session_id,
        )
        stream.cancelled = True
        task.cancel()


async def _check_request(request: ConfigStreamRequest, context: ConfigStreamContext) -> None:
    """Abort with INVALID_ARGUMENT when a text of the request is longer than its bound."""
    for field_name, text, limit in (
        ("name", request.name, MAX_NAME_CHARS),
        ("resume_from.epoch", request.resume_from.epoch, MAX_EPOCH_CHARS),
    ):
        if len(text) > limit:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{field_name} is too long: {len(text)} characters, the limit is {limit}",
            )


async def _key_filter(
    request: ConfigStreamRequest, context: ConfigStreamContext
) -> configstream_def.KeyFilter | None:
    """The request's filter; None without one. Aborts with INVALID_ARGUMENT when over its bounds."""
    if not request.HasField("filter"):
        return None
    count = len(request.filter.keys) + len(request.filter.prefixes)
    if count > configstream_def.MAX_FILTER_ENTRIES:  # refused before copying them
        await context.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"filter has {count} keys and prefixes, the limit is {configstream_def.MAX_FILTER_ENTRIES}",
        )
    try:
        return configstream_def.KeyFilter(tuple(request.filter.keys), tuple(request.filter.prefixes))
    except ValueError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # not reached: abort raises


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
    if (code := rpc_code(exc)) is not None:
        return code
    if isinstance(exc, grpc.aio.UsageError):
        return grpc.StatusCode.CANCELLED  # "RPC already finished"
    if isinstance(exc, grpc.aio.BaseError):
        return grpc.StatusCode.UNAVAILABLE  # the send batch failed or the server stopped
    return None
