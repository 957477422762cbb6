"""Remote agent registry against a real core-agent process."""

from __future__ import annotations

import os
import uuid

import grpc
import pytest

from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as ra
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from tests.e2e.harness import AgentFactory, AgentProcess
from tests.support.polling import eventually_sync

pytestmark = pytest.mark.e2e


def _register_request(display_name: str = "E2E Agent") -> ra.RegisterRemoteAgentRequest:
    return ra.RegisterRemoteAgentRequest(
        pid=str(os.getpid()), flavor="e2e", display_name=display_name, api_endpoint_uri="", services=[]
    )


async def test_register_and_refresh(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        reply = await stub.RegisterRemoteAgent(_register_request(), metadata=agent.auth_metadata(), timeout=5)
        session = uuid.UUID(reply.session_id)
        assert session.version == 4
        assert str(session) == reply.session_id
        assert reply.recommended_refresh_interval_secs == 10
        await stub.RefreshRemoteAgent(
            ra.RefreshRemoteAgentRequest(session_id=reply.session_id),
            metadata=agent.auth_metadata(),
            timeout=5,
        )

        # The deprecated copies on AgentSecure behave the same.
        secure = api_pb2_grpc.AgentSecureStub(channel)
        again = await secure.RegisterRemoteAgent(_register_request("Other"), metadata=agent.auth_metadata())
        assert again.session_id != reply.session_id
        await secure.RefreshRemoteAgent(
            ra.RefreshRemoteAgentRequest(session_id=again.session_id), metadata=agent.auth_metadata()
        )


async def test_blank_display_name_is_invalid_argument(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RegisterRemoteAgent(
                _register_request("   "), metadata=agent.auth_metadata(), timeout=5
            )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_idle_agent_is_evicted_then_refresh_is_not_found(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.idle_timeout": "1s"})
    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        reply = await stub.RegisterRemoteAgent(_register_request(), metadata=agent.auth_metadata(), timeout=5)
        settings = settings_pb2_grpc.SettingsStub(channel)
        status = await settings.Status(settings_pb2.StatusRequest(), metadata=agent.auth_metadata())
        assert [a.session_id for a in status.remote_agents] == [reply.session_id]

    # Status does not refresh the session: poll it until the agent is gone.
    def evicted() -> bool:
        result = agent.run_cli("status")
        assert result.returncode == 0, result.stderr
        return reply.session_id not in result.stdout

    eventually_sync(evicted, "the idle remote agent to be evicted", 15)

    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RefreshRemoteAgent(
                ra.RefreshRemoteAgentRequest(session_id=reply.session_id), metadata=agent.auth_metadata()
            )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "no remote agent found with session ID" in (err.value.details() or "")


async def test_disabled_registry_is_unimplemented(start_agent: AgentFactory) -> None:
    agent = start_agent({"remote_agent.registry.enabled": False})
    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.RegisterRemoteAgent(_register_request(), metadata=agent.auth_metadata(), timeout=5)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert err.value.details() == "remote agent registry not enabled"

        stream = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(
            configstream_pb2.ConfigStreamRequest(name="e2e"),
            metadata=(*agent.auth_metadata(), ("session_id", str(uuid.uuid4()))),
            timeout=5,
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stream.read()
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert err.value.details() == "remote agent registry not enabled"
