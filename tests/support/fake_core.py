"""A core agent's registry and config stream, scripted by the test: a real grpc.aio server with real
mTLS on loopback, serving ``datadog.remoteagent.v1.RemoteAgent`` and ``datadog.api.v1.AgentSecure``
through their generated service tables.

It checks the bearer token and the session id as the core agent does, and serves each
``StreamConfigEvents`` call in one of two ways:

- scripted (the default): the call becomes a :class:`ScriptedStream`, taken with
  :meth:`FakeCore.next_stream`, whose events the test pushes one by one, so that it decides exactly
  what the client sees (gaps, stale updates, batches, progress, aborts) without timing;
  :func:`answer_resume` answers its resume point as a core with the resume extension would;
- fixed: with :attr:`FakeCore.events` set, every call is sent those events, then held open until
  the client leaves (or ended, with :attr:`FakeCore.end_stream`).

Its credentials are those of a :class:`comp.core.ipc.mock.MockIpc`; built with a directory, the
mock has written the token and certificate files there for clients that load them by path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from comp.core.ipc.mock import MockIpc
from pkg.ipc import ClientMaterial
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from tests.support.polling import WAIT
from tests.support.wire import Event

__all__ = ["FakeCore", "Headers", "ScriptedStream", "answer_resume"]

Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True)
class Headers:
    """Initial metadata for a :class:`ScriptedStream` to send before its next event."""

    metadata: tuple[tuple[str, str], ...]


@dataclass
class ScriptedStream:
    """One StreamConfigEvents call: push events, ``abort`` with a status, see when the client left."""

    session_id: str
    name: str
    metadata: dict[str, str]
    resume_from: tuple[str, int] | None = None  # (epoch, sequence_id); None: the field was absent
    request: configstream_pb2.ConfigStreamRequest = field(
        default_factory=configstream_pb2.ConfigStreamRequest
    )
    _queue: asyncio.Queue[Event | tuple[grpc.StatusCode, str] | Headers | None] = field(
        default_factory=asyncio.Queue
    )
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def max_batch_updates(self) -> int:
        return self.request.max_batch_updates

    @property
    def key_filter(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """(keys, prefixes) of the request's filter; None: the field was absent."""
        if not self.request.HasField("filter"):
            return None
        return tuple(self.request.filter.keys), tuple(self.request.filter.prefixes)

    @property
    def progress(self) -> bool:
        return self.request.progress

    def push(self, *events: Event) -> None:
        for event in events:
            self._queue.put_nowait(event)

    def send_headers(self, *metadata: tuple[str, str]) -> None:
        """Send initial metadata now, before any event (only once per stream)."""
        self._queue.put_nowait(Headers(metadata))

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._queue.put_nowait((code, details))

    def finish(self) -> None:
        self._queue.put_nowait(None)


def answer_resume(
    stream: ScriptedStream,
    *,
    epoch: str,
    current: Event,
    history: Sequence[Event] = (),
    headers: bool = False,
) -> bool:
    """Answer ``stream`` as a core that supports resuming: its epoch is ``epoch``, its state the snapshot
    ``current`` and its history the updates ``history`` (consecutive ids up to the snapshot's).

    When the stream's resume point names ``epoch`` and the history holds every update after it (or
    none is missed), push those updates and return True; else push ``current`` carrying ``epoch``.
    With ``headers``, first send ``configstream-epoch`` and ``configstream-resume`` (``accepted``,
    ``refused``, or ``none`` for an empty resume epoch).
    """
    now = current.snapshot.sequence_id
    ids = [event.update.sequence_id for event in history]
    assert ids == list(range(now - len(ids) + 1, now + 1)), f"history {ids} does not end at {now}"
    point = stream.resume_from
    accepted = False
    if point is not None and point[0] and point[0] == epoch:
        after = point[1]
        accepted = after == now or (after < now and bool(ids) and ids[0] <= after + 1)
    if headers and point is not None:
        answer_text = "accepted" if accepted else "refused" if point[0] else "none"
        stream.send_headers(("configstream-epoch", epoch), ("configstream-resume", answer_text))
    if accepted:
        assert point is not None
        stream.push(*(event for event in history if event.update.sequence_id > point[1]))
        return True
    answer = Event()
    answer.CopyFrom(current)
    answer.snapshot.epoch = epoch
    stream.push(answer)
    return False


class FakeCore(remoteagent_pb2_grpc.RemoteAgentServicer, api_pb2_grpc.AgentSecureServicer):
    """What the fake serves and what it saw. ``token`` may be changed to refuse the clients' token;
    without ``serve_remote_agent_service`` it serves only AgentSecure (an older core)."""

    def __init__(
        self,
        ipc: MockIpc,
        *,
        serve_remote_agent_service: bool = True,
        events: Sequence[Event] | None = None,
    ) -> None:
        self.ipc = ipc
        self.token = ipc.token
        self.serve_remote_agent_service = serve_remote_agent_service
        self.events: list[Event] | None = None if events is None else list(events)
        self.end_stream = False
        self.refresh_secs = 10
        self.sessions: set[str] = set()
        self.registrations: list[remoteagent_pb2.RegisterRemoteAgentRequest] = []
        self.refreshes: list[str] = []
        self.requests: list[configstream_pb2.ConfigStreamRequest] = []
        self.streams: asyncio.Queue[ScriptedStream] = asyncio.Queue()
        self.stream_cancelled = asyncio.Event()
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def material(self) -> ClientMaterial:
        """The token and the certificate a client presents to this core."""
        return ClientMaterial(token=self.token, cert_pem=self.ipc.cert_pem, key_pem=self.ipc.key_pem)

    async def start(self) -> None:
        """Listen on :attr:`port` (a free port at the first start; the same one after a stop)."""
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        if self.serve_remote_agent_service:
            remoteagent_pb2_grpc.add_RemoteAgentServicer_to_server(self, server)
        api_pb2_grpc.add_AgentSecureServicer_to_server(self, server)
        self.port = server.add_secure_port(f"127.0.0.1:{self.port}", self.ipc.server_credentials())
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
            self._server = None

    async def next_stream(self) -> ScriptedStream:
        return await asyncio.wait_for(self.streams.get(), WAIT)

    async def _check_token(self, context: Context) -> dict[str, str]:
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        if metadata.get("authorization") != f"Bearer {self.token}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid auth token")
        return metadata

    async def RegisterRemoteAgent(  # noqa: N802 - names fixed by the proto
        self, request: remoteagent_pb2.RegisterRemoteAgentRequest, context: Context
    ) -> remoteagent_pb2.RegisterRemoteAgentResponse:
        await self._check_token(context)
        session_id = str(uuid.uuid4())
        self.sessions.add(session_id)
        self.registrations.append(request)
        return remoteagent_pb2.RegisterRemoteAgentResponse(
            session_id=session_id, recommended_refresh_interval_secs=self.refresh_secs
        )

    async def RefreshRemoteAgent(  # noqa: N802 - names fixed by the proto
        self, request: remoteagent_pb2.RefreshRemoteAgentRequest, context: Context
    ) -> remoteagent_pb2.RefreshRemoteAgentResponse:
        await self._check_token(context)
        self.refreshes.append(request.session_id)
        if request.session_id not in self.sessions:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no remote agent found with session ID")
        return remoteagent_pb2.RefreshRemoteAgentResponse()

    async def ReportRemoteAgentEvent(  # noqa: N802 - names fixed by the proto
        self, request: remoteagent_pb2.ReportRemoteAgentEventRequest, context: Context
    ) -> remoteagent_pb2.ReportRemoteAgentEventResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not scripted")
        raise AssertionError("unreachable")

    async def StreamConfigEvents(  # noqa: N802 - names fixed by the proto
        self, request: configstream_pb2.ConfigStreamRequest, context: Context
    ) -> AsyncIterator[Event]:
        metadata = await self._check_token(context)
        session_id = metadata.get("session_id", "")
        if session_id not in self.sessions:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{session_id}' not found")
        self.requests.append(request)
        resume = request.resume_from if request.HasField("resume_from") else None
        stream = ScriptedStream(
            session_id,
            request.name,
            metadata,
            None if resume is None else (resume.epoch, resume.sequence_id),
            request,
        )
        if self.events is not None:
            stream.push(*self.events)
            if self.end_stream:
                stream.finish()
        self.streams.put_nowait(stream)
        try:
            while True:
                item = await stream._queue.get()
                if item is None:
                    return
                if isinstance(item, Headers):
                    await context.send_initial_metadata(item.metadata)
                    continue
                if isinstance(item, tuple):
                    await context.abort(item[0], item[1])
                yield item
        except asyncio.CancelledError:
            self.stream_cancelled.set()
            raise
        finally:
            stream.ended.set()
