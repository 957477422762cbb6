"""The resume extension through the handler, behind a real grpc.aio server with mTLS on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from comp.core.config.mock import new_mock as new_config_mock
from comp.core.configstream import impl as configstream_impl
from comp.core.configstream.def_ import ResumePoint
from comp.core.configstream.mock import MockConfigStream
from comp.core.configstreamserver import impl as server_impl
from comp.core.ipc.mock import MockIpc
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.change import Setting
from pkg.config.model import LayeredConfig
from pkg.config.sources import Source
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.model.v1.configstream_pb2 import ConfigEvent, ConfigStreamRequest, ResumeFrom
from pkg.protoconv.configevents import snapshot_epoch_suffix, snapshot_event
from pkg.util.lifecycle import Lifecycle

METHOD = "/datadog.api.v1.AgentSecure/StreamConfigEvents"
RUNTIME = Source.AGENT_RUNTIME


@dataclass
class Served:
    """The handler over mTLS in front of a config stream, a channel to it, and a registered session."""

    config: LayeredConfig
    configstream: Any
    telemetry: MockTelemetry
    channel: grpc.aio.Channel
    session_id: str

    def open(self, request: ConfigStreamRequest) -> Any:
        """A call whose responses are the raw bytes the server wrote."""
        method: grpc.aio.UnaryStreamMultiCallable[ConfigStreamRequest, bytes] = self.channel.unary_stream(
            METHOD, request_serializer=ConfigStreamRequest.SerializeToString, response_deserializer=None
        )
        return method(request, metadata=(("session_id", self.session_id),), timeout=10)


@pytest.fixture(scope="module")
def ipc() -> MockIpc:
    return MockIpc()


async def _serve(ipc: MockIpc, configstream: Any) -> AsyncIterator[Served]:
    lifecycle = Lifecycle()
    telemetry = MockTelemetry()
    config = new_config_mock({"log_level": "info", "remote_agent.configstream.sleep_interval": "1ms"})
    if configstream is None:
        configstream = configstream_impl.new_component(
            configstream_impl.Requires(lifecycle, config, telemetry)
        ).comp
    registry = MockRemoteAgentRegistry()
    provides = server_impl.new_component(server_impl.Requires(lifecycle, config, configstream, registry))
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    provides.grpc_service.register(server)
    port = server.add_secure_port("127.0.0.1:0", ipc.server_credentials())
    await lifecycle.start()
    await server.start()
    channel = secure_channel(f"127.0.0.1:{port}", ipc.client_credentials())
    try:
        session_id, _ = registry.register("42", "system-probe", "System Probe")
        yield Served(config, configstream, telemetry, channel, session_id)
    finally:
        await channel.close()
        await server.stop(None)
        await lifecycle.stop()


@pytest.fixture
async def served(ipc: MockIpc) -> AsyncIterator[Served]:
    """The real producer behind the handler."""
    async for value in _serve(ipc, None):
        yield value


@pytest.fixture
async def served_mock(ipc: MockIpc) -> AsyncIterator[Served]:
    """A mock config stream behind the handler."""
    stream = MockConfigStream({"log_level": Setting("info", Source.FILE)}, sequence_id=3, epoch="mock-epoch")
    async for value in _serve(ipc, stream):
        yield value


async def read(call: Any, count: int) -> list[bytes]:
    received: list[bytes] = []
    async with asyncio.timeout(10):
        async for payload in call:
            received.append(payload)
            if len(received) == count:
                break
    return received


def parse(payload: bytes) -> ConfigEvent:
    return ConfigEvent.FromString(payload)


def reference_snapshot(served: Served) -> bytes:
    settings, sequence_id = served.config.flattened_with_sequence_id()
    return snapshot_event(served.configstream.origin, sequence_id, settings).SerializeToString()


async def test_without_resume_from_the_snapshot_is_the_go_agents(served: Served) -> None:
    call = served.open(ConfigStreamRequest(name="go-client"))
    (payload,) = await read(call, 1)
    assert payload == reference_snapshot(served)
    assert parse(payload).snapshot.epoch == ""
    call.cancel()


async def test_with_resume_from_the_snapshot_carries_the_epoch(served: Served) -> None:
    call = served.open(ConfigStreamRequest(name="new-client", resume_from=ResumeFrom()))
    (payload,) = await read(call, 1)
    assert payload == reference_snapshot(served) + snapshot_epoch_suffix(served.configstream.epoch)
    event = parse(payload)
    assert event.snapshot.epoch == served.configstream.epoch
    assert [s.key for s in event.snapshot.settings] == sorted(served.config.all_settings())
    call.cancel()


async def test_a_client_reconnecting_with_resume_from_receives_only_the_missed_updates(
    served: Served,
) -> None:
    config = served.config
    call = served.open(ConfigStreamRequest(name="probe", resume_from=ResumeFrom()))
    snapshot = parse((await read(call, 1))[0]).snapshot
    config.set("log_level", "debug", RUNTIME)
    update = parse((await read(call, 1))[0]).update
    assert update.sequence_id == snapshot.sequence_id + 1
    call.cancel()  # the connection is lost

    for i in range(3):
        config.set(f"custom.key{i}", i, RUNTIME)
    resume = ResumeFrom(epoch=snapshot.epoch, sequence_id=update.sequence_id)
    call = served.open(ConfigStreamRequest(name="probe", resume_from=resume))
    missed = [parse(p) for p in await read(call, 3)]
    assert [e.WhichOneof("event") for e in missed] == ["update"] * 3
    assert [e.update.sequence_id for e in missed] == [update.sequence_id + i for i in (1, 2, 3)]
    assert [e.update.setting.key for e in missed] == ["custom.key0", "custom.key1", "custom.key2"]

    config.set("log_level", "warn", RUNTIME)
    live = parse((await read(call, 1))[0])
    assert (live.update.sequence_id, live.update.setting.key) == (update.sequence_id + 4, "log_level")
    assert served.telemetry.value("configstream.resumes") == 1
    assert served.telemetry.value("configstream.snapshots_sent") == 1
    call.cancel()


async def test_a_client_of_a_previous_core_agent_gets_a_snapshot(served: Served) -> None:
    resume = ResumeFrom(epoch="a-previous-process", sequence_id=served.config.sequence_id)
    call = served.open(ConfigStreamRequest(name="probe", resume_from=resume))
    event = parse((await read(call, 1))[0])
    assert event.WhichOneof("event") == "snapshot"
    assert event.snapshot.epoch == served.configstream.epoch
    assert served.telemetry.value("configstream.resume_refused", cause="epoch") == 1
    call.cancel()


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (ConfigStreamRequest(name="go"), None),
        (ConfigStreamRequest(name="first", resume_from=ResumeFrom()), ResumePoint("", 0)),
        (
            ConfigStreamRequest(name="again", resume_from=ResumeFrom(epoch="e1", sequence_id=-7)),
            ResumePoint("e1", -7),
        ),
    ],
)
async def test_the_handler_passes_resume_from_only_when_the_request_has_it(
    served_mock: Served, request_: ConfigStreamRequest, expected: ResumePoint | None
) -> None:
    call = served_mock.open(request_)
    snapshot = parse((await read(call, 1))[0]).snapshot
    stream: MockConfigStream = served_mock.configstream
    assert stream.subscriptions[0].resume == expected
    assert snapshot.epoch == ("" if expected is None else "mock-epoch")
    call.cancel()


async def resume_answer_headers(call: Any) -> list[tuple[str, str]]:
    """The call's initial metadata entries of the resume extension, in order."""
    async with asyncio.timeout(10):
        metadata = await call.initial_metadata()
    return [(key, value) for key, value in metadata if key.startswith("configstream-")]


async def test_an_accepted_resume_with_nothing_missed_is_answered_in_the_headers_alone(
    served: Served,
) -> None:
    call = served.open(ConfigStreamRequest(name="probe", resume_from=ResumeFrom()))
    snapshot = parse((await read(call, 1))[0]).snapshot
    call.cancel()
    resume = ResumeFrom(epoch=snapshot.epoch, sequence_id=snapshot.sequence_id)
    call = served.open(ConfigStreamRequest(name="probe", resume_from=resume))
    # No event comes (nothing was missed): the headers alone say that the stream is live.
    assert await resume_answer_headers(call) == [
        ("configstream-epoch", served.configstream.epoch),
        ("configstream-resume", "accepted"),
    ]
    served.config.set("log_level", "debug", RUNTIME)
    update = parse((await read(call, 1))[0]).update
    assert update.sequence_id == snapshot.sequence_id + 1
    call.cancel()


@pytest.mark.parametrize(
    ("resume_from", "answer"),
    [(ResumeFrom(), "none"), (ResumeFrom(epoch="a-previous-process", sequence_id=1), "refused")],
)
async def test_a_resume_that_gets_a_snapshot_is_answered_in_the_headers_first(
    served: Served, resume_from: ResumeFrom, answer: str
) -> None:
    call = served.open(ConfigStreamRequest(name="probe", resume_from=resume_from))
    assert await resume_answer_headers(call) == [
        ("configstream-epoch", served.configstream.epoch),
        ("configstream-resume", answer),
    ]
    assert parse((await read(call, 1))[0]).WhichOneof("event") == "snapshot"
    call.cancel()


async def test_a_history_that_cannot_serve_the_resume_is_answered_refused(served: Served) -> None:
    resume = ResumeFrom(epoch=served.configstream.epoch, sequence_id=served.config.sequence_id + 5)
    call = served.open(ConfigStreamRequest(name="probe", resume_from=resume))  # ids it never handed out
    assert (await resume_answer_headers(call))[1] == ("configstream-resume", "refused")
    assert parse((await read(call, 1))[0]).WhichOneof("event") == "snapshot"
    call.cancel()


async def test_a_client_without_resume_from_gets_no_resume_headers(served: Served) -> None:
    call = served.open(ConfigStreamRequest(name="go-client"))
    assert parse((await read(call, 1))[0]).WhichOneof("event") == "snapshot"
    assert await resume_answer_headers(call) == []
    call.cancel()


async def test_the_mock_stream_never_resumes_and_the_handler_says_so(served_mock: Served) -> None:
    call = served_mock.open(ConfigStreamRequest(name="probe", resume_from=ResumeFrom(epoch="mock-epoch")))
    assert await resume_answer_headers(call) == [
        ("configstream-epoch", "mock-epoch"),
        ("configstream-resume", "refused"),
    ]
    call.cancel()
