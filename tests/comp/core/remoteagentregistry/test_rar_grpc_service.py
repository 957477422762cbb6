"""The registry's gRPC service over a real loopback mTLS server, under both service names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from comp.core.config.mock import new_mock
from comp.core.ipc.mock import MockIpc
from comp.core.remoteagentregistry.impl import Requires, new_component
from comp.core.remoteagentregistry.impl.registry import RemoteAgentRegistry
from comp.core.telemetry.mock import MockTelemetry
from pkg.config.model import LayeredConfig
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from pkg.util.lifecycle import Lifecycle


def _config(enabled: bool) -> LayeredConfig:
    return new_mock(
        {"remote_agent.registry.enabled": enabled, "remote_agent.registry.recommended_refresh_interval": "4s"}
    )


@dataclass
class _Served:
    registry: RemoteAgentRegistry
    channel: grpc.aio.Channel
    telemetry: MockTelemetry


async def _stream_config_events(
    request: configstream_pb2.ConfigStreamRequest, context: grpc.aio.ServicerContext[Any, Any]
) -> AsyncIterator[configstream_pb2.ConfigEvent]:
    yield configstream_pb2.ConfigEvent(snapshot=configstream_pb2.ConfigSnapshot(origin=request.name))


async def _serve(enabled: bool) -> AsyncIterator[_Served]:
    ipc = MockIpc()
    telemetry = MockTelemetry()
    provides = new_component(Requires(Lifecycle(), _config(enabled), telemetry))
    assert isinstance(provides.comp, RemoteAgentRegistry)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    provides.grpc_service.register(server)
    # Another component contributes AgentSecure/StreamConfigEvents: both must be reachable.
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "datadog.api.v1.AgentSecure",
                {
                    "StreamConfigEvents": grpc.unary_stream_rpc_method_handler(
                        _stream_config_events,
                        request_deserializer=configstream_pb2.ConfigStreamRequest.FromString,
                        response_serializer=configstream_pb2.ConfigEvent.SerializeToString,
                    )
                },
            ),
        )
    )
    port = server.add_secure_port("127.0.0.1:0", ipc.server_credentials())
    await server.start()
    try:
        async with secure_channel(f"127.0.0.1:{port}", ipc.client_credentials()) as channel:
            yield _Served(provides.comp, channel, telemetry)
    finally:
        await server.stop(None)


@pytest.fixture
async def served() -> AsyncIterator[_Served]:
    async for s in _serve(enabled=True):
        yield s


@pytest.fixture
async def disabled() -> AsyncIterator[_Served]:
    async for s in _serve(enabled=False):
        yield s


StubFactory = Callable[[grpc.aio.Channel], Any]
STUBS = pytest.mark.parametrize(
    "stub_of",
    [remoteagent_pb2_grpc.RemoteAgentStub, api_pb2_grpc.AgentSecureStub],
    ids=["RemoteAgent", "AgentSecure"],
)


def _register_request(display_name: str = "System Probe") -> pb.RegisterRemoteAgentRequest:
    return pb.RegisterRemoteAgentRequest(
        pid="321",
        flavor="system-probe",
        display_name=display_name,
        api_endpoint_uri="unix:///var/run/sysprobe.sock",
        services=["status", "flare"],
    )


@STUBS
async def test_register_then_refresh(served: _Served, stub_of: StubFactory) -> None:
    stub = stub_of(served.channel)
    reply = await stub.RegisterRemoteAgent(_register_request(), timeout=10)
    assert reply.recommended_refresh_interval_secs == 4
    agent = served.registry.get(reply.session_id)
    assert agent is not None
    assert (agent.pid, agent.flavor, agent.display_name) == ("321", "system-probe", "System Probe")
    assert (agent.api_endpoint_uri, agent.services) == ("unix:///var/run/sysprobe.sock", ("status", "flare"))
    refreshed = await stub.RefreshRemoteAgent(pb.RefreshRemoteAgentRequest(session_id=reply.session_id))
    assert refreshed == pb.RefreshRemoteAgentResponse()
    assert served.telemetry.value("remote_agent_registry.updated") == 1


@STUBS
async def test_blank_display_name_is_invalid_argument(served: _Served, stub_of: StubFactory) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub_of(served.channel).RegisterRemoteAgent(_register_request("  "), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "display_name must not be empty or blank" in (err.value.details() or "")
    assert served.registry.list() == []


@STUBS
async def test_refresh_of_an_unknown_session_is_not_found(served: _Served, stub_of: StubFactory) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub_of(served.channel).RefreshRemoteAgent(
            pb.RefreshRemoteAgentRequest(session_id="unknown"), timeout=10
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert err.value.details() == "no remote agent found with session ID"


@STUBS
async def test_a_disabled_registry_is_unimplemented(disabled: _Served, stub_of: StubFactory) -> None:
    stub = stub_of(disabled.channel)
    calls = [
        stub.RegisterRemoteAgent(_register_request(), timeout=10),
        stub.RefreshRemoteAgent(pb.RefreshRemoteAgentRequest(session_id="x"), timeout=10),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert err.value.details() == "remote agent registry not enabled"


async def test_sessions_are_shared_between_both_service_names(served: _Served) -> None:
    reply = await remoteagent_pb2_grpc.RemoteAgentStub(served.channel).RegisterRemoteAgent(
        _register_request(), timeout=10
    )
    await api_pb2_grpc.AgentSecureStub(served.channel).RefreshRemoteAgent(
        pb.RefreshRemoteAgentRequest(session_id=reply.session_id), timeout=10
    )
    assert served.telemetry.value("remote_agent_registry.updated") == 1


async def test_agent_secure_methods_of_another_component_still_reach_it(served: _Served) -> None:
    call = api_pb2_grpc.AgentSecureStub(served.channel).StreamConfigEvents(
        configstream_pb2.ConfigStreamRequest(name="probe"), timeout=10
    )
    events = [event async for event in call]
    assert [e.snapshot.origin for e in events] == ["probe"]


def test_the_contribution_names_both_services() -> None:
    provides = new_component(Requires(Lifecycle(), _config(True), MockTelemetry()))
    assert provides.grpc_service.names == ("datadog.remoteagent.v1.RemoteAgent", "datadog.api.v1.AgentSecure")
