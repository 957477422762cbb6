"""The registry's fan-out against real remote agent servers (TLS, token, session header)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from comp.api.grpcserver.def_ import GrpcService
from comp.core.config.mock import new_mock as new_config
from comp.core.ipc.mock import MockIpc
from comp.core.remoteagent.impl.server import AgentServer
from comp.core.remoteagentregistry.def_ import EventKind, RemoteAgentEvent
from comp.core.remoteagentregistry.impl.events import EventDispatcher, InvalidApiKeyLogger
from comp.core.remoteagentregistry.impl.queries import REPLY_SIZE_FACTOR, RemoteAgentQueries
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.telemetry.def_ import SECONDS_BUCKETS
from comp.core.telemetry.mock import MockTelemetry
from pkg.ipc import ClientMaterial
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as pb
from pkg.remoteagent.providers import Sections, flare_service, status_service
from pkg.remoteagent.services import FLARE_SERVICE, STATUS_SERVICE

Status = Callable[[], Awaitable[Sections]]
StartServer = Callable[[Status, Callable[[], str | None]], Awaitable[str]]


@pytest.fixture
def ipc() -> MockIpc:
    return MockIpc()


@pytest.fixture
async def servers(
    ipc: MockIpc,
) -> AsyncIterator[Callable[[Status, Callable[[], str | None]], Awaitable[str]]]:
    started: list[AgentServer] = []
    material = ClientMaterial(ipc.token, ipc.cert_pem, ipc.key_pem)

    async def start(status: Status, session: Callable[[], str | None]) -> str:
        name, add = status_service(status)
        server = AgentServer("127.0.0.1:0", [GrpcService(names=(name,), register=add)], session)
        await server.start(material)
        started.append(server)
        return server.api_endpoint_uri

    yield start
    for server in started:
        await server.stop()


async def _ok() -> Sections:
    return {"state": "ready"}, {"extra": {"k": "v"}}


def _queries(registry: MockRemoteAgentRegistry, ipc: MockIpc, telemetry: MockTelemetry) -> RemoteAgentQueries:
    config = new_config({"remote_agent.registry.query_timeout": "1s"})
    return RemoteAgentQueries(registry, config, telemetry.meter("remote_agent_registry"), ipc)


async def test_status_of_an_agent_with_the_right_session(servers: StartServer, ipc: MockIpc) -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    uri = await servers(_ok, lambda: "s1")
    registry.add_session("s1", display_name="Good One", api_endpoint_uri=uri, services=(STATUS_SERVICE,))
    registry.add_session("s2", display_name="No Status", api_endpoint_uri=uri, services=())
    (result,) = await _queries(registry, ipc, telemetry).status()
    assert result.error is None and result.response is not None
    assert dict(result.response.main) == {"state": "ready"}
    assert dict(result.response.named["extra"]) == {"k": "v"}
    labels = {"name": "Good_One", "action": "status"}
    assert telemetry.histogram_count("remote_agent_registry.action_duration_seconds", **labels) == 1
    boundaries = telemetry.histogram_boundaries("remote_agent_registry.action_duration_seconds", **labels)
    assert boundaries == SECONDS_BUCKETS


async def test_wrong_session_header_marks_the_agent_unhealthy(servers: StartServer, ipc: MockIpc) -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    uri = await servers(_ok, lambda: "someone-else")
    registry.add_session("s1", display_name="Impostor", api_endpoint_uri=uri, services=(STATUS_SERVICE,))
    (result,) = await _queries(registry, ipc, telemetry).status()
    assert result.response is None and result.error is not None
    assert "'someone-else'" in result.error and "s1" in result.error
    assert "s1" in registry.unhealthy
    labels = {"name": "Impostor", "action": "status", "error": "SESSION_ID_MISMATCH"}
    assert telemetry.value("remote_agent_registry.action_error", **labels) == 1


async def test_agent_without_a_session_refuses(servers: StartServer, ipc: MockIpc) -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    uri = await servers(_ok, lambda: None)
    registry.add_session("s1", display_name="Early", api_endpoint_uri=uri, services=(STATUS_SERVICE,))
    (result,) = await _queries(registry, ipc, telemetry).status()
    assert result.error is not None and "not registered with the core agent yet" in result.error
    assert registry.unhealthy == {}


async def test_slow_agent_costs_at_most_the_deadline(servers: StartServer, ipc: MockIpc) -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    never = asyncio.Event()

    async def hang() -> Sections:
        await never.wait()
        return {}, {}

    slow = await servers(hang, lambda: "slow")
    fast = await servers(_ok, lambda: "fast")
    registry.add_session("slow", display_name="Slow", api_endpoint_uri=slow, services=(STATUS_SERVICE,))
    registry.add_session("fast", display_name="Fast", api_endpoint_uri=fast, services=(STATUS_SERVICE,))
    registry.add_session(
        "dead", display_name="Dead", api_endpoint_uri="127.0.0.1:1", services=(STATUS_SERVICE,)
    )
    started = time.monotonic()
    results = {r.agent.session_id: r for r in await _queries(registry, ipc, telemetry).status()}
    assert time.monotonic() - started < 2.0
    assert results["fast"].response is not None
    assert results["slow"].error == "no answer within 1s"
    assert results["dead"].error is not None
    assert results["dead"].error.startswith("cannot reach remote agent at 127.0.0.1:1: ")
    assert telemetry.value("remote_agent_registry.action_timeout", name="Slow", action="status") == 1
    assert (
        telemetry.value(
            "remote_agent_registry.action_error", name="Dead", action="status", error="UNAVAILABLE"
        )
        == 1
    )
    never.set()


def test_events_reach_every_subscriber_even_after_one_raises() -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    session_id, _ = registry.register("7", "trace", "Trace Agent")
    received: list[RemoteAgentEvent] = []

    def broken(_event: RemoteAgentEvent) -> None:
        raise RuntimeError("subscriber bug")

    logger = InvalidApiKeyLogger(telemetry.meter("remote_agent_registry"))
    dispatcher = EventDispatcher(registry, [broken, received.append, logger])
    events = [
        pb.Event(message="403 from intake", invalid_api_key=pb.InvalidApiKeyEvent()),
        pb.Event(message="?"),
    ]
    assert dispatcher.report(session_id, events)
    assert [(e.kind, e.message) for e in received] == [
        (EventKind.INVALID_API_KEY, "403 from intake"),
        (EventKind.UNKNOWN, "?"),
    ]
    assert telemetry.value("remote_agent_registry.invalid_api_key_events", name="Trace_Agent") == 1
    assert not dispatcher.report("unknown-session", events)
    assert len(received) == 2


async def test_an_answer_larger_than_the_core_accepts_fails_naming_the_agent(ipc: MockIpc) -> None:
    registry, telemetry = MockRemoteAgentRegistry(), MockTelemetry()
    material = ClientMaterial(ipc.token, ipc.cert_pem, ipc.key_pem)
    max_message = 64 * 1024
    sizes = {"big": REPLY_SIZE_FACTOR * max_message + 1, "fits": REPLY_SIZE_FACTOR * max_message - 1024}
    servers: list[AgentServer] = []
    try:
        for session, size in sizes.items():

            async def files(size: int = size) -> dict[str, bytes]:
                return {"big.bin": b"b" * size}

            name, add = flare_service(files)
            server = AgentServer(
                "127.0.0.1:0", [GrpcService(names=(name,), register=add)], functools.partial(str, session)
            )
            await server.start(material)
            servers.append(server)
            display = "Big Agent" if session == "big" else "Fits"
            registry.add_session(
                session,
                display_name=display,
                api_endpoint_uri=server.api_endpoint_uri,
                services=(FLARE_SERVICE,),
            )
        config = new_config(
            {
                "remote_agent.registry.query_timeout": "5s",
                "agent_ipc.grpc_max_message_size": max_message,
                "config_limits.total_max_bytes": 32 * 1024,
            }
        )
        queries = RemoteAgentQueries(registry, config, telemetry.meter("remote_agent_registry"), ipc)
        assert queries.max_reply_bytes() == REPLY_SIZE_FACTOR * max_message
        results = {r.agent.session_id: r for r in await queries.flare_files()}
    finally:
        for server in servers:
            await server.stop()
    big = results["big"]
    assert big.response is None and big.error is not None
    assert big.error.startswith(
        f"remote agent 'Big Agent' at {big.agent.api_endpoint_uri}: flare failed with RESOURCE_EXHAUSTED ("
    )
    assert f"the core accepts answers of at most {REPLY_SIZE_FACTOR * max_message} bytes" in big.error
    assert "agent_ipc.grpc_max_message_size" in big.error
    labels = {"name": "Big_Agent", "action": "flare", "error": "RESOURCE_EXHAUSTED"}
    assert telemetry.value("remote_agent_registry.action_error", **labels) == 1
    fits = results["fits"]
    assert fits.error is None and fits.response is not None
    assert len(fits.response["big.bin"]) == sizes["fits"]
