"""Bounds on registrations, through the real gRPC service on a loopback mTLS server."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from comp.core.config.mock import new_mock
from comp.core.ipc.mock import MockIpc
from comp.core.remoteagentregistry.def_ import Params
from comp.core.remoteagentregistry.impl import Requires, new_component
from comp.core.remoteagentregistry.impl.registry import RemoteAgentRegistry
from comp.core.remoteagentregistry.impl.validation import (
    MAX_API_ENDPOINT_URI_CHARS,
    MAX_DISPLAY_NAME_CHARS,
    MAX_FLAVOR_CHARS,
    MAX_PID_CHARS,
    MAX_SERVICE_CHARS,
    MAX_SERVICES,
)
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import secure_channel
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from pkg.util.lifecycle import Lifecycle

MAX_AGENTS = 3


class _Now:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock() -> _Now:
    return _Now()


@pytest.fixture
async def served(
    clock: _Now,
) -> AsyncIterator[tuple[RemoteAgentRegistry, remoteagent_pb2_grpc.RemoteAgentAsyncStub]]:
    ipc = MockIpc()
    config = new_mock({"remote_agent.registry.idle_timeout": "30s"})
    provides = new_component(
        Requires(Lifecycle(), config, MockTelemetry(), params=Params(clock=clock, max_agents=MAX_AGENTS))
    )
    assert isinstance(provides.comp, RemoteAgentRegistry)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    provides.grpc_service.register(server)
    port = server.add_secure_port("127.0.0.1:0", ipc.server_credentials())
    await server.start()
    try:
        async with secure_channel(f"127.0.0.1:{port}", ipc.client_credentials()) as channel:
            yield provides.comp, remoteagent_pb2_grpc.RemoteAgentStub(channel)
    finally:
        await server.stop(None)


def request(**fields: Any) -> pb.RegisterRemoteAgentRequest:
    defaults: dict[str, Any] = {"pid": "42", "flavor": "system-probe", "display_name": "System Probe"}
    return pb.RegisterRemoteAgentRequest(**{**defaults, **fields})


async def register_error(stub: remoteagent_pb2_grpc.RemoteAgentAsyncStub, req: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.RegisterRemoteAgent(req, timeout=10)
    return info.value


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("display_name", MAX_DISPLAY_NAME_CHARS),
        ("flavor", MAX_FLAVOR_CHARS),
        ("pid", MAX_PID_CHARS),
        ("api_endpoint_uri", MAX_API_ENDPOINT_URI_CHARS),
    ],
)
async def test_each_text_field_one_past_its_bound_is_refused_and_at_its_bound_accepted(
    served: Any, field: str, limit: int
) -> None:
    registry, stub = served

    def text(length: int) -> str:  # an endpoint must stay a valid address at any length
        return "unix:///" + "a" * (length - 8) if field == "api_endpoint_uri" else "a" * length

    error = await register_error(stub, request(**{field: text(limit + 1)}))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{field} is too long: {limit + 1} characters, the limit is {limit}",
    )
    assert registry.list() == []
    await stub.RegisterRemoteAgent(request(**{field: text(limit)}), timeout=10)
    assert len(registry.list()) == 1


async def test_services_are_bounded_in_count_and_in_length(served: Any) -> None:
    registry, stub = served
    error = await register_error(stub, request(services=["s"] * (MAX_SERVICES + 1)))
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"services has {MAX_SERVICES + 1} entries, the limit is {MAX_SERVICES}",
    )
    error = await register_error(stub, request(services=["ok", "s" * (MAX_SERVICE_CHARS + 1)]))
    assert error.details() == (
        f"services[1] is too long: {MAX_SERVICE_CHARS + 1} characters, the limit is {MAX_SERVICE_CHARS}"
    )
    assert registry.list() == []
    await stub.RegisterRemoteAgent(request(services=["s" * MAX_SERVICE_CHARS] * MAX_SERVICES), timeout=10)
    assert len(registry.list()) == 1


async def test_two_display_names_of_three_megabytes_are_refused_without_growing_the_log(
    served: Any, caplog: pytest.LogCaptureFixture
) -> None:
    registry, stub = served
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            error = await register_error(stub, request(display_name="x" * 3_000_000))
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert len(error.details() or "") < 100
    assert registry.list() == []
    assert len(caplog.text) < 10_000


async def test_registrations_past_the_agent_limit_are_refused_until_one_goes(
    served: Any, clock: _Now
) -> None:
    registry, stub = served
    for i in range(MAX_AGENTS):
        await stub.RegisterRemoteAgent(request(pid=str(i)), timeout=10)
    error = await register_error(stub, request(pid="late"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == (
        f"the registry holds {MAX_AGENTS} remote agents, the limit is {MAX_AGENTS}: "
        "try again once one is gone"
    )
    assert len(registry.list()) == MAX_AGENTS

    clock.value = 31.0  # every agent is idle past the timeout
    assert len(registry.evict_idle()) == MAX_AGENTS
    await stub.RegisterRemoteAgent(request(pid="late"), timeout=10)
    assert [agent.pid for agent in registry.list()] == ["late"]
