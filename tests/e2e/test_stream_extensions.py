"""The stream's extensions against a real ``core-agent`` over mTLS, read as raw bytes by grpc.aio:
batches, key filters (with resume and the data to detect a lost event), progress events, bad filters,
and a client that asks for none of them seeing exactly the upstream stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, struct_pb2, unknown_fields
from google.protobuf.message import Message

from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.protoconv.configevents import EPOCH_HEADER, RESUME_HEADER
from pkg.protoconv.values import from_value
from tests.e2e.harness import AgentFactory, AgentProcess
from tests.e2e.stream_support import WAIT, SettingsApi, register, scrape
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

METHOD = "/datadog.api.v1.AgentSecure/StreamConfigEvents"
UPSTREAM_MESSAGES = ("ConfigStreamRequest", "ConfigSetting", "ConfigSnapshot", "ConfigUpdate", "ConfigEvent")


def _upstream_event_class() -> type[Message]:
    """``ConfigEvent`` as the Go agent's protos define it: upstream messages, fields below 100 only."""
    pool = descriptor_pool.DescriptorPool()
    struct_file = descriptor_pb2.FileDescriptorProto()
    struct_pb2.DESCRIPTOR.CopyToProto(struct_file)
    pool.Add(struct_file)
    ours = descriptor_pb2.FileDescriptorProto()
    configstream_pb2.DESCRIPTOR.CopyToProto(ours)
    upstream = descriptor_pb2.FileDescriptorProto(
        name="upstream/configstream.proto",
        package=ours.package,
        syntax=ours.syntax,
        dependency=list(ours.dependency),
    )
    for message in ours.message_type:
        if message.name in UPSTREAM_MESSAGES:
            kept = upstream.message_type.add()
            kept.CopyFrom(message)
            del kept.field[:]
            kept.field.extend(f for f in message.field if f.number < 100)
    pool.Add(upstream)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("datadog.model.v1.ConfigEvent"))


def _unknown_fields(message: Message, path: str = "event") -> list[str]:
    """Paths of every message holding fields its class does not know, recursively."""
    found = [path] if len(unknown_fields.UnknownFieldSet(message)) else []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        items = [value] if isinstance(value, Message) else value  # a message, or a repeated field
        for index, item in enumerate(items):
            if isinstance(item, Message):
                found += _unknown_fields(item, f"{path}.{descriptor.name}[{index}]")
    return found


@dataclass
class RawStream:
    """One call read by a task: every message's bytes, parsed, and the response headers."""

    call: Any
    raw: list[bytes] = field(default_factory=list)
    events: list[configstream_pb2.ConfigEvent] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    error: grpc.aio.AioRpcError | None = None

    def updates(self) -> list[configstream_pb2.ConfigUpdate]:
        """Every update received, batches unpacked, in order."""
        out: list[configstream_pb2.ConfigUpdate] = []
        for event in self.events:
            kind = event.WhichOneof("event")
            if kind == "update":
                out.append(event.update)
            elif kind == "batch":
                out.extend(event.batch.updates)
        return out

    def kinds(self) -> list[str]:
        return [str(e.WhichOneof("event")) for e in self.events]

    async def wait_for(self, predicate: Any, what: str) -> None:
        """Until ``predicate()`` holds; fails if the call ends with an error first."""
        await eventually(lambda: predicate() or self.error, what, WAIT, detail=self.kinds)
        assert self.error is None or predicate(), f"stream ended waiting for {what}: {self.error}"

    async def read_all(self) -> None:
        try:
            metadata = await self.call.initial_metadata()
            self.headers = {k: v if isinstance(v, str) else v.decode() for k, v in metadata or ()}
            while True:
                payload = await self.call.read()
                if payload is grpc.aio.EOF:
                    return
                self.raw.append(payload)
                self.events.append(configstream_pb2.ConfigEvent.FromString(payload))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc


@asynccontextmanager
async def raw_stream(
    agent: AgentProcess,
    channel: grpc.aio.Channel,
    session_id: str,
    request: configstream_pb2.ConfigStreamRequest,
) -> AsyncIterator[RawStream]:
    method: grpc.aio.UnaryStreamMultiCallable[configstream_pb2.ConfigStreamRequest, bytes] = (
        channel.unary_stream(
            METHOD,
            request_serializer=configstream_pb2.ConfigStreamRequest.SerializeToString,
            response_deserializer=None,  # the bytes as sent
        )
    )
    call = method(request, metadata=(*agent.auth_metadata(), ("session_id", session_id)), timeout=60)
    stream = RawStream(call)
    task = asyncio.create_task(stream.read_all())
    try:
        yield stream
    finally:
        call.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_client_without_extensions_sees_only_upstream_fields(agent: AgentProcess) -> None:
    upstream_event = _upstream_event_class()
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        session = await register(agent, channel)
        extended_request = configstream_pb2.ConfigStreamRequest(
            name="extended",
            max_batch_updates=100,
            progress=True,
            filter=configstream_pb2.KeyFilter(prefixes=["custom"]),
        )
        async with (
            raw_stream(
                agent, channel, session, configstream_pb2.ConfigStreamRequest(name="vanilla")
            ) as vanilla,
            raw_stream(agent, channel, session, extended_request) as extended,
        ):
            await vanilla.wait_for(lambda: len(vanilla.events) >= 1, "the snapshot")
            await extended.wait_for(lambda: len(extended.events) >= 1, "the snapshot")
            start = vanilla.events[0].snapshot.sequence_id
            last = await api.set({f"custom.k{i}": str(i) for i in range(30)})
            await api.set({"log_level": "debug"})
            last = await api.set({"custom.after": "1"})
            await vanilla.wait_for(lambda: len(vanilla.updates()) >= last - start, "every update")
            await extended.wait_for(
                lambda: extended.updates() and extended.updates()[-1].sequence_id == last, "the last update"
            )
        assert vanilla.headers == {}
        assert vanilla.kinds() == ["snapshot"] + ["update"] * (last - start)
        assert [u.sequence_id for u in vanilla.updates()] == list(range(start + 1, last + 1))
        for payload in vanilla.raw:
            parsed = upstream_event.FromString(payload)
            assert _unknown_fields(parsed) == []
            assert parsed.SerializeToString() == payload  # nothing dropped, nothing reordered
        assert all(u.previous_sequence_id == 0 for u in vanilla.updates())
        # The other client on the same core got its extensions meanwhile.
        assert "batch" in extended.kinds() and "log_level" not in {u.setting.key for u in extended.updates()}


async def test_a_burst_goes_out_in_batches_and_a_lone_update_alone(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        session = await register(agent, channel)
        request = configstream_pb2.ConfigStreamRequest(name="batches", max_batch_updates=64)
        async with raw_stream(agent, channel, session, request) as stream:
            await stream.wait_for(lambda: stream.events, "the snapshot")
            start = stream.events[0].snapshot.sequence_id
            last = await api.set({f"custom.burst{i:03d}": str(i) for i in range(200)})
            await stream.wait_for(lambda: len(stream.updates()) == last - start, "the burst")
            batches = [e.batch for e in stream.events if e.WhichOneof("event") == "batch"]
            assert batches, f"no batch in {stream.kinds()}"
            assert all(len(b.updates) <= 64 for b in batches)
            assert len(stream.events) - 1 < 200  # fewer messages than updates
            metrics = await scrape(agent)
            assert metrics.value("configstream_batches_sent_total") == len(batches)
            assert [u.sequence_id for u in stream.updates()] == list(range(start + 1, last + 1))
            assert {u.setting.key: from_value(u.setting.value) for u in stream.updates()} == {
                f"custom.burst{i:03d}": i for i in range(200)
            }

            count = len(stream.events)
            lone = await api.set({"log_level": "debug"})
            await stream.wait_for(lambda: len(stream.events) > count, "the lone update")
            assert stream.events[count].WhichOneof("event") == "update"
            assert stream.events[count].update.sequence_id == lone


async def test_a_filtered_client_gets_matching_keys_with_previous_ids_and_resumes_filtered(
    agent: AgentProcess,
) -> None:
    key_filter = configstream_pb2.KeyFilter(keys=["log_level"], prefixes=["custom.in"])
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        await api.set({"custom.in.a": "1", "custom.inx": "no", "hostname": "h1"})
        session = await register(agent, channel)
        request = configstream_pb2.ConfigStreamRequest(
            name="filtered", filter=key_filter, resume_from=configstream_pb2.ResumeFrom()
        )
        async with raw_stream(agent, channel, session, request) as stream:
            await stream.wait_for(lambda: stream.events, "the snapshot")
            snapshot = stream.events[0].snapshot
            assert [s.key for s in snapshot.settings] == ["custom.in.a", "log_level"]
            await api.set({"hostname": "h2"})
            await api.set({"custom.in.b": "2"})
            await api.set({"custom.inx": "still no"})
            last = await api.set({"log_level": "debug"})
            await stream.wait_for(
                lambda: stream.updates() and stream.updates()[-1].sequence_id == last, "updates"
            )
            updates = stream.updates()
            assert [u.setting.key for u in updates] == ["custom.in.b", "log_level"]
            # Each update names the event before it on the stream: a client compares with its last id.
            seen = [snapshot.sequence_id, *(u.sequence_id for u in updates)]
            assert [u.previous_sequence_id for u in updates] == seen[:-1]
            assert updates[0].previous_sequence_id != updates[0].sequence_id - 1  # skipped ids are no gap
            epoch = snapshot.epoch

        missed_from = await api.set({"custom.in.c": "3"})
        await api.set({"site": "example.com"})
        last = await api.set({"custom.in.d": "4"})
        resume = configstream_pb2.ConfigStreamRequest(
            name="filtered",
            filter=key_filter,
            resume_from=configstream_pb2.ResumeFrom(epoch=epoch, sequence_id=seen[-1]),
        )
        async with raw_stream(agent, channel, session, resume) as resumed:
            await resumed.wait_for(
                lambda: resumed.updates() and resumed.updates()[-1].sequence_id == last, "the missed updates"
            )
            assert resumed.headers[RESUME_HEADER] == "accepted" and resumed.headers[EPOCH_HEADER] == epoch
            assert resumed.kinds() == ["update", "update"]
            assert [(u.setting.key, u.sequence_id, u.previous_sequence_id) for u in resumed.updates()] == [
                ("custom.in.c", missed_from, seen[-1]),
                ("custom.in.d", last, missed_from),
            ]


async def test_an_idle_stream_gets_progress_events(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.configstream.progress_interval": "200ms"})
    async with agent.aio_channel() as channel:
        api = SettingsApi(agent, channel)
        session = await register(agent, channel)
        request = configstream_pb2.ConfigStreamRequest(
            name="progress", progress=True, filter=configstream_pb2.KeyFilter(keys=["custom.watched"])
        )
        plain_request = configstream_pb2.ConfigStreamRequest(name="plain")
        async with (
            raw_stream(agent, channel, session, request) as stream,
            raw_stream(agent, channel, session, plain_request) as plain,
        ):
            await stream.wait_for(lambda: "progress" in stream.kinds(), "a progress event")
            snapshot = stream.events[0].snapshot
            first = next(e.progress for e in stream.events if e.WhichOneof("event") == "progress")
            assert first.sequence_id == snapshot.sequence_id
            assert len(first.epoch) == 32
            assert (await scrape(agent)).value("configstream_progress_sent_total") >= 1

            moved = await api.set({"hostname": "elsewhere"})  # not for this client: only progress tells
            await stream.wait_for(
                lambda: any(e.progress.sequence_id == moved for e in stream.events if e.HasField("progress")),
                "progress at the new id",
            )
            watched = await api.set({"custom.watched": "1"})
            await stream.wait_for(stream.updates, "the watched update")
            (update,) = stream.updates()
            assert (update.sequence_id, update.previous_sequence_id) == (watched, moved)
            await plain.wait_for(lambda: len(plain.events) == 3, "the plain client's updates")
        assert plain.kinds() == ["snapshot", "update", "update"]  # no progress for a client that did not ask


@pytest.mark.parametrize(
    ("key_filter", "details"),
    [
        (configstream_pb2.KeyFilter(keys=[""]), "filter.keys[0] is empty"),
        (
            configstream_pb2.KeyFilter(prefixes=["x" * 300]),
            "filter.prefixes[0] is too long: 300 characters, the limit is 256",
        ),
        (
            configstream_pb2.KeyFilter(keys=["k"] * 1025),
            "filter has 1025 keys and prefixes, the limit is 1024",
        ),
    ],
)
async def test_a_bad_filter_is_refused(
    agent: AgentProcess, key_filter: configstream_pb2.KeyFilter, details: str
) -> None:
    async with agent.aio_channel() as channel:
        session = await register(agent, channel)
        request = configstream_pb2.ConfigStreamRequest(name="bad", filter=key_filter)
        async with raw_stream(agent, channel, session, request) as stream:
            await stream.wait_for(lambda: stream.error is not None, "the refusal")
        assert stream.error is not None
        assert (stream.error.code(), stream.error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, details)
        assert stream.events == []
