"""The facades serving a remote agent's status, flare and telemetry (``status=``, ``flare=``,
``telemetry=``, ``listen=``) against the scripted core: one registration advertising the services,
the consumer streaming under its session, the providers answering the core's calls."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from comp.core.configstreamconsumer import SyncConfigStream, connect_config_stream
from comp.core.configstreamconsumer.serving import Sections, agent_serving
from comp.core.configstreamconsumer.stream import config_stream_params
from pkg.ipc import auth_metadata, client_credentials, secure_channel
from pkg.proto.gen.datadog.remoteagent.flare.v1 import flare_pb2, flare_pb2_grpc
from pkg.proto.gen.datadog.remoteagent.status.v1 import status_pb2, status_pb2_grpc
from pkg.proto.gen.datadog.remoteagent.telemetry.v1 import telemetry_pb2, telemetry_pb2_grpc
from pkg.remoteagent.endpoint import grpc_target
from pkg.remoteagent.services import FLARE_SERVICE, STATUS_SERVICE, TELEMETRY_SERVICE
from tests.support import wire
from tests.support.fake_core import FakeCore, ScriptedStream
from tests.support.polling import eventually

WAIT = 10.0
METRICS = "# TYPE jobs_total counter\njobs_total 7\n"


def _where(core: FakeCore) -> dict[str, Any]:
    return {"state_dir": core.ipc.paths.auth_token.parent, "address": core.address, "ready_timeout": WAIT}


async def _answer(core: FakeCore) -> ScriptedStream:
    stream = await core.next_stream()
    stream.push(wire.snapshot(3, {"log_level": "info"}))
    return stream


@contextlib.asynccontextmanager
async def _agent(core: FakeCore, endpoint: str) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to the agent at ``endpoint`` as the core dials it (its certificate and token)."""
    target = grpc_target(endpoint)
    assert target is not None
    material = core.material()
    async with secure_channel(target, client_credentials(material.cert_pem, material.key_pem)) as channel:
        yield channel


async def _status(
    channel: grpc.aio.Channel, core: FakeCore
) -> tuple[status_pb2.GetStatusDetailsResponse, str]:
    """The agent's status and the ``session_id`` header of the answer."""
    call = status_pb2_grpc.StatusProviderStub(channel).GetStatusDetails(
        status_pb2.GetStatusDetailsRequest(), metadata=auth_metadata(core.token), timeout=WAIT
    )
    response = await call
    headers = dict(await call.initial_metadata())
    return response, str(headers["session_id"])


async def test_connect_config_stream_serves_its_providers_under_its_one_session(core: FakeCore) -> None:
    async def status() -> Sections:
        return {"state": "ok"}, {"queue": {"depth": "3"}}

    async def flare() -> dict[str, bytes]:
        return {"agent.log": b"line\n"}

    async def telemetry() -> str:
        return METRICS

    answering = asyncio.create_task(_answer(core))
    async with connect_config_stream(
        "my-agent", display_name="My Agent", status=status, flare=flare, telemetry=telemetry, **_where(core)
    ) as config:
        stream = await answering
        assert config.get_string("log_level") == "info"
        (registration,) = core.registrations  # the consumer took the agent's session
        assert registration.display_name == "My Agent" and registration.flavor == "my-agent"
        assert sorted(registration.services) == sorted((STATUS_SERVICE, FLARE_SERVICE, TELEMETRY_SERVICE))
        assert registration.api_endpoint_uri.startswith("https://127.0.0.1:")
        assert stream.session_id in core.sessions
        assert config.stats.registrations == 1  # the registration component's session, counted once

        async with _agent(core, registration.api_endpoint_uri) as channel:
            answer, session = await _status(channel, core)
            assert session == stream.session_id
            assert dict(answer.main_section.fields) == {"state": "ok"}
            assert dict(answer.named_sections["queue"].fields) == {"depth": "3"}
            files = await flare_pb2_grpc.FlareProviderStub(channel).GetFlareFiles(
                flare_pb2.GetFlareFilesRequest(), metadata=auth_metadata(core.token), timeout=WAIT
            )
            assert dict(files.files) == {"agent.log": b"line\n"}
            text = await telemetry_pb2_grpc.TelemetryProviderStub(channel).GetTelemetry(
                telemetry_pb2.GetTelemetryRequest(), metadata=auth_metadata(core.token), timeout=WAIT
            )
            assert text.prom_text == METRICS


async def test_without_providers_the_consumer_registers_alone_and_serves_nothing(core: FakeCore) -> None:
    answering = asyncio.create_task(_answer(core))
    async with connect_config_stream("my-agent", **_where(core)):
        await answering
        (registration,) = core.registrations
        assert list(registration.services) == []
        assert registration.api_endpoint_uri == ""


async def test_a_provider_answering_the_wrong_shape_fails_that_query_naming_it(core: FakeCore) -> None:
    async def status() -> Any:
        return {"state": "ok"}  # the main fields alone, without the named sections

    answering = asyncio.create_task(_answer(core))
    async with connect_config_stream("my-agent", status=status, **_where(core)) as config:
        await answering
        (registration,) = core.registrations
        async with _agent(core, registration.api_endpoint_uri) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await _status(channel, core)
        assert failed.value.code() == grpc.StatusCode.INTERNAL
        assert (
            "the status provider returned {'state': 'ok'}, expected (main fields, {section name: fields})"
            in (failed.value.details() or "")
        )
        assert config.get_string("log_level") == "info"


@pytest.mark.usefixtures("no_leaked_threads")
async def test_sync_config_stream_calls_plain_providers_on_a_worker_thread(
    core: FakeCore, tmp_path: Path
) -> None:
    threads: list[str] = []

    def status() -> Sections:
        threads.append(threading.current_thread().name)
        return {"state": "ok"}, {}

    def flare() -> dict[str, bytes]:
        raise RuntimeError("no disk")

    socket = f"unix://{tmp_path}/agent.sock"
    config = SyncConfigStream("my-agent", status=status, flare=flare, listen=socket, **_where(core))
    try:
        stream = await _answer(core)
        await asyncio.to_thread(config.wait_ready, WAIT)
        (registration,) = core.registrations
        assert registration.api_endpoint_uri == socket
        assert sorted(registration.services) == sorted((STATUS_SERVICE, FLARE_SERVICE))
        async with _agent(core, socket) as channel:
            await eventually(lambda: stream.session_id in core.sessions, "the session registered")
            answer, session = await _status(channel, core)
            assert (dict(answer.main_section.fields), session) == ({"state": "ok"}, stream.session_id)
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await flare_pb2_grpc.FlareProviderStub(channel).GetFlareFiles(
                    flare_pb2.GetFlareFilesRequest(), metadata=auth_metadata(core.token), timeout=WAIT
                )
            assert failed.value.code() == grpc.StatusCode.INTERNAL
            assert "flare failed: no disk" in (failed.value.details() or "")
        (thread,) = threads
        assert thread != threading.current_thread().name
        assert not thread.startswith("config-stream")  # neither the loop nor the callback thread
    finally:
        await asyncio.to_thread(config.close)


# --- arguments refused before anything connects ---------------------------------------------------


async def test_connect_config_stream_refuses_providers_that_are_not_async_functions() -> None:
    where: dict[str, Any] = {"address": "127.0.0.1:1", "environ": {}}
    with pytest.raises(TypeError, match=r"invalid status=: .* is not an async function, expected an async"):
        plain: Any = lambda: ({}, {})  # noqa: E731 - a plain function where an async one is expected
        async with connect_config_stream("a", status=plain, **where):
            pytest.fail("connected")
    with pytest.raises(
        TypeError, match=r"invalid flare=: 42, expected an async function .*\{file name: bytes\}"
    ):
        async with connect_config_stream("a", flare=42, **where):  # type: ignore[arg-type]
            pytest.fail("connected")


async def test_connect_config_stream_refuses_an_unusable_listen() -> None:
    async def telemetry() -> str:
        return ""

    where: dict[str, Any] = {"address": "127.0.0.1:1", "environ": {}}
    with pytest.raises(ValueError, match=r"listen: 'nowhere', expected host:port \(port 0: a free one\)"):
        async with connect_config_stream("a", telemetry=telemetry, listen="nowhere", **where):
            pytest.fail("connected")
    with pytest.raises(ValueError, match=r"invalid listen='unix:///s' without a provider"):
        async with connect_config_stream("a", listen="unix:///s", **where):
            pytest.fail("connected")


@pytest.mark.usefixtures("no_leaked_threads")
def test_sync_config_stream_refuses_async_providers_and_starts_no_thread() -> None:
    async def telemetry() -> str:
        return ""

    with pytest.raises(
        TypeError, match=r"invalid telemetry=: .* is an async function, expected a plain function"
    ):
        SyncConfigStream("a", address="127.0.0.1:1", environ={}, telemetry=telemetry)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"listen='127.0.0.1:0' without a provider"):
        SyncConfigStream("a", address="127.0.0.1:1", environ={}, listen="127.0.0.1:0")


def test_agent_serving_takes_callable_objects_and_names_the_listen_address() -> None:
    class Status:
        async def __call__(self) -> Sections:
            return {}, {}

    params = config_stream_params("a", environ={})
    assert agent_serving(params) is None
    serving = agent_serving(params, status=Status(), listen="unix:///run/a.sock")
    assert serving is not None
    assert [s.names for s in serving.services] == [(STATUS_SERVICE,)]
    assert (serving.params.listen, serving.params.core_address) == ("unix:///run/a.sock", params.ipc_address)
    assert agent_serving(params, status=Status(), sync=False) is not None
    with pytest.raises(TypeError, match=r"invalid status=: .* is an async function"):
        agent_serving(params, status=Status(), sync=True)
