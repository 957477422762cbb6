"""A scripted core agent for the consumer's tests: a real grpc.aio server with real mTLS on loopback.

Each accepted stream is a :class:`ScriptedStream` whose events the test pushes one by one, so the
tests decide exactly what the consumer sees (gaps, stale updates, batches, progress, aborts) without
timing. A stream records the request's resume point and extensions (batch size, filter, progress);
:func:`answer_resume` answers it as a core that supports the resume extension would (with
``headers=True``, answering in the initial metadata first, as this project's core does).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer.def_ import BackoffPolicy, Component, Params
from comp.core.configstreamconsumer.impl import Provides, Requires, new_component
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import (
    ClientMaterial,
    IpcCertificate,
    generate_auth_token,
    generate_ipc_certificate,
    server_credentials,
)
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2, remoteagent_pb2_grpc
from pkg.protoconv.values import to_value
from pkg.util.lifecycle import Lifecycle

WAIT = 10.0
"""Upper bound of every wait in these tests (they finish far sooner when things work)."""


def setting(
    key: str, value: Any, source: str = "file", unset_source: str = ""
) -> configstream_pb2.ConfigSetting:
    msg = configstream_pb2.ConfigSetting(key=key, source=source, unset_source=unset_source)
    msg.value.CopyFrom(to_value(value))
    return msg


def snapshot(
    seq: int, settings: dict[str, Any] | None = None, source: str = "file", epoch: str = ""
) -> configstream_pb2.ConfigEvent:
    items = [setting(k, v, source) for k, v in (settings or {}).items()]
    event = configstream_pb2.ConfigEvent()
    event.snapshot.CopyFrom(
        configstream_pb2.ConfigSnapshot(origin="test", sequence_id=seq, settings=items, epoch=epoch)
    )
    return event


def update(
    seq: int,
    key: str,
    value: Any,
    source: str = "agent-runtime",
    unset_source: str = "",
    *,
    previous: int = 0,
) -> configstream_pb2.ConfigEvent:
    """An update; ``previous``: its ``previous_sequence_id`` (what a core sends a filtered client)."""
    event = configstream_pb2.ConfigEvent()
    event.update.CopyFrom(
        configstream_pb2.ConfigUpdate(
            origin="test",
            sequence_id=seq,
            setting=setting(key, value, source, unset_source),
            previous_sequence_id=previous,
        )
    )
    return event


def batch(*updates: configstream_pb2.ConfigEvent) -> configstream_pb2.ConfigEvent:
    """One batch message of the updates built by :func:`update`, in order."""
    event = configstream_pb2.ConfigEvent()
    event.batch.updates.extend(u.update for u in updates)
    return event


def progress(seq: int, epoch: str = "") -> configstream_pb2.ConfigEvent:
    event = configstream_pb2.ConfigEvent()
    event.progress.CopyFrom(configstream_pb2.ConfigProgress(sequence_id=seq, epoch=epoch))
    return event


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

    _queue: asyncio.Queue[configstream_pb2.ConfigEvent | tuple[grpc.StatusCode, str] | Headers | None] = (
        field(default_factory=asyncio.Queue)
    )
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, *events: configstream_pb2.ConfigEvent) -> None:
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
    current: configstream_pb2.ConfigEvent,
    history: Sequence[configstream_pb2.ConfigEvent] = (),
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
    answer = configstream_pb2.ConfigEvent()
    answer.CopyFrom(current)
    answer.snapshot.epoch = epoch
    stream.push(answer)
    return False


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:  # noqa: ASYNC109
    """Wait until ``predicate()`` holds, checking after each short pause; fail naming ``what``."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polls a condition that has no event
            await asyncio.sleep(0.01)
    assert predicate(), what


class FakeCore(remoteagent_pb2_grpc.RemoteAgentServicer, api_pb2_grpc.AgentSecureServicer):
    """Registry and stream of a core agent, scripted by the test."""

    def __init__(self, token: str, cert: IpcCertificate, *, serve_remote_agent_service: bool = True) -> None:
        self.token = token
        self.cert = cert
        self.serve_remote_agent_service = serve_remote_agent_service
        self.refresh_secs = 10
        self.sessions: set[str] = set()
        self.registrations: list[remoteagent_pb2.RegisterRemoteAgentRequest] = []
        self.refreshes: list[str] = []
        self.streams: asyncio.Queue[ScriptedStream] = asyncio.Queue()
        self.port = 0
        self._server: grpc.aio.Server | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        if self.serve_remote_agent_service:
            remoteagent_pb2_grpc.add_RemoteAgentServicer_to_server(self, server)
        api_pb2_grpc.add_AgentSecureServicer_to_server(self, server)
        self.port = server.add_secure_port(
            f"127.0.0.1:{self.port}", server_credentials(self.cert.cert_pem, self.cert.key_pem)
        )
        await server.start()
        self._server = server

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
            self._server = None

    async def next_stream(self) -> ScriptedStream:
        return await asyncio.wait_for(self.streams.get(), WAIT)

    async def _check_token(self, context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
        metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
        if metadata.get("authorization") != f"Bearer {self.token}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid auth token")
        return metadata

    async def RegisterRemoteAgent(  # noqa: N802 - names fixed by the proto
        self, request: remoteagent_pb2.RegisterRemoteAgentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> remoteagent_pb2.RegisterRemoteAgentResponse:
        await self._check_token(context)
        session_id = str(uuid.uuid4())
        self.sessions.add(session_id)
        self.registrations.append(request)
        return remoteagent_pb2.RegisterRemoteAgentResponse(
            session_id=session_id, recommended_refresh_interval_secs=self.refresh_secs
        )

    async def RefreshRemoteAgent(  # noqa: N802 - names fixed by the proto
        self, request: remoteagent_pb2.RefreshRemoteAgentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> remoteagent_pb2.RefreshRemoteAgentResponse:
        await self._check_token(context)
        self.refreshes.append(request.session_id)
        if request.session_id not in self.sessions:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no remote agent found with session ID")
        return remoteagent_pb2.RefreshRemoteAgentResponse()

    async def ReportRemoteAgentEvent(  # noqa: N802 - names fixed by the proto
        self,
        request: remoteagent_pb2.ReportRemoteAgentEventRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> remoteagent_pb2.ReportRemoteAgentEventResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "not scripted")
        raise AssertionError("unreachable")

    async def StreamConfigEvents(  # noqa: N802 - names fixed by the proto
        self, request: configstream_pb2.ConfigStreamRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[configstream_pb2.ConfigEvent]:
        metadata = await self._check_token(context)
        session_id = metadata.get("session_id", "")
        if session_id not in self.sessions:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{session_id}' not found")
        resume = request.resume_from if request.HasField("resume_from") else None
        stream = ScriptedStream(
            session_id,
            request.name,
            metadata,
            None if resume is None else (resume.epoch, resume.sequence_id),
            request,
        )
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
        finally:
            stream.ended.set()


class Wire:
    """Builders of wire events (a fixture, so that tests need not import this module)."""

    setting = staticmethod(setting)
    snapshot = staticmethod(snapshot)
    update = staticmethod(update)
    batch = staticmethod(batch)
    progress = staticmethod(progress)
    answer_resume = staticmethod(answer_resume)
    eventually = staticmethod(eventually)


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


@pytest.fixture
def cert() -> IpcCertificate:
    return generate_ipc_certificate()


@pytest.fixture
def token() -> str:
    return generate_auth_token()


@pytest.fixture
def fake_core_class() -> type[FakeCore]:
    return FakeCore


@pytest.fixture
async def core(token: str, cert: IpcCertificate) -> AsyncIterator[FakeCore]:
    fake = FakeCore(token, cert)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


FAST_BACKOFF = BackoffPolicy(initial=0.02, multiplier=2.0, cap=0.1, jitter=0.2, healthy_reset=60.0)


@dataclass
class Built:
    consumer: Component
    telemetry: MockTelemetry
    lifecycle: Lifecycle


MakeConsumer = Callable[..., Awaitable[Built]]


@pytest.fixture
def material(token: str, cert: IpcCertificate) -> ClientMaterial:
    return ClientMaterial(token=token, cert_pem=cert.cert_pem, key_pem=cert.key_pem)


@pytest.fixture
async def make_consumer(material: ClientMaterial) -> AsyncIterator[MakeConsumer]:
    """``await make_consumer(address, **params)``: a started consumer, stopped after the test."""
    built: list[Built] = []

    async def make(
        address: str,
        *,
        start: bool = True,
        rand: Callable[[], float] = lambda: 0.5,
        clock: Callable[[], float] = time.monotonic,
        **kw: Any,
    ) -> Built:
        kw.setdefault("material", material)
        kw.setdefault("backoff", FAST_BACKOFF)
        kw.setdefault("name", "test-consumer")
        kw.setdefault("flavor", "test-flavor")
        kw.setdefault("display_name", "Test Consumer")
        telemetry = MockTelemetry()
        lifecycle = Lifecycle()
        provides: Provides = new_component(
            Requires(
                lifecycle=lifecycle,
                telemetry=telemetry,
                params=Params(ipc_address=address, rand=rand, clock=clock, **kw),
            )
        )
        item = Built(provides.comp, telemetry, lifecycle)
        built.append(item)
        if start:
            await lifecycle.start()
        return item

    yield make
    for item in built:
        await item.lifecycle.stop()


@pytest.fixture
def free_address() -> Iterator[str]:
    """A loopback address where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"127.0.0.1:{port}"
