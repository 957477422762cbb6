"""A scripted stand-in for the core agent, for the client tests.

A real grpc.aio server with real mTLS on 127.0.0.1:0 (started by the ``fake_core`` fixture).

It registers clients, checks the bearer token and the session id like the core agent, and serves
a scripted list of config events, then keeps the stream open (or ends it when told to).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2

Event = configstream_pb2.ConfigEvent


def snapshot(seq: int, **values: str) -> Event:
    settings = [configstream_pb2.ConfigSetting(key=k, source="file") for k in values]
    for s in settings:
        s.value.string_value = values[s.key]
    return Event(
        snapshot=configstream_pb2.ConfigSnapshot(origin="datadog.yaml", sequence_id=seq, settings=settings)
    )


def update(seq: int, key: str, value: str, source: str = "agent-runtime", *, previous: int = 0) -> Event:
    setting = configstream_pb2.ConfigSetting(key=key, source=source)
    setting.value.string_value = value
    return Event(
        update=configstream_pb2.ConfigUpdate(
            origin="datadog.yaml", sequence_id=seq, setting=setting, previous_sequence_id=previous
        )
    )


def batch(*updates: Event) -> Event:
    return Event(batch=configstream_pb2.ConfigBatch(updates=[u.update for u in updates]))


def progress(seq: int) -> Event:
    return Event(progress=configstream_pb2.ConfigProgress(sequence_id=seq, epoch="e"))


@dataclass
class FakeCore:
    """What the fake serves and what it saw."""

    token: str
    token_file: Path
    cert_file: Path
    address: str = ""
    events: list[Event] = field(default_factory=list)
    end_stream: bool = False
    registrations: list[remoteagent_pb2.RegisterRemoteAgentRequest] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    stream_cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[configstream_pb2.ConfigStreamRequest] = field(default_factory=list)

    def _authorized(self, context: grpc.aio.ServicerContext[object, object]) -> bool:
        metadata = dict(context.invocation_metadata() or ())
        return metadata.get("authorization") == f"Bearer {self.token}"

    async def register(
        self,
        request: remoteagent_pb2.RegisterRemoteAgentRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> remoteagent_pb2.RegisterRemoteAgentResponse:
        if not self._authorized(context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid auth token")
        self.registrations.append(request)
        session_id = str(uuid.uuid4())
        self.sessions.add(session_id)
        return remoteagent_pb2.RegisterRemoteAgentResponse(
            session_id=session_id, recommended_refresh_interval_secs=10
        )

    async def stream(
        self, request: configstream_pb2.ConfigStreamRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> AsyncIterator[Event]:
        if not self._authorized(context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "invalid auth token")
        session_id = str(dict(context.invocation_metadata() or ()).get("session_id", ""))
        if session_id not in self.sessions:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session_id '{session_id}' not found")
        self.requests.append(request)
        for event in self.events:
            yield event
        if self.end_stream:
            return
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.stream_cancelled.set()
            raise
