"""IPC security of a real core-agent process: mTLS, bearer token, secret files."""

from __future__ import annotations

import os
import stat

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pkg.ipc import auth_metadata, client_credentials, generate_ipc_certificate
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as ra
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from tests.e2e.harness import AgentFactory, AgentProcess

pytestmark = pytest.mark.e2e

REQUEST = ra.RegisterRemoteAgentRequest(pid="1", flavor="e2e", display_name="E2E")


@pytest.mark.parametrize("metadata", [(), auth_metadata("0" * 64), (("authorization", "Basic abc"),)])
async def test_missing_or_wrong_token_is_unauthenticated(
    agent: AgentProcess, metadata: tuple[tuple[str, str], ...]
) -> None:
    async with agent.aio_channel() as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
                REQUEST, metadata=metadata, timeout=5
            )
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.value.details() == "invalid auth token"


async def test_health_answers_without_token(agent: AgentProcess) -> None:
    async with agent.aio_channel() as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_client_without_certificate_is_refused(agent: AgentProcess) -> None:
    trusts_server_only = grpc.ssl_channel_credentials(root_certificates=agent.material().cert_pem)
    async with agent.aio_channel(trusts_server_only) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_foreign_certificate_is_refused(agent: AgentProcess) -> None:
    foreign = generate_ipc_certificate()
    presents_foreign = grpc.ssl_channel_credentials(
        root_certificates=agent.material().cert_pem,
        private_key=foreign.key_pem,
        certificate_chain=foreign.cert_pem,
    )
    async with agent.aio_channel(presents_foreign) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
                REQUEST, metadata=agent.auth_metadata(), timeout=5
            )
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE

    # A client that trusts only its own certificate does not talk to this agent either.
    async with agent.aio_channel(client_credentials(foreign.cert_pem, foreign.key_pem)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


def test_token_and_certificate_files_are_private(agent: AgentProcess) -> None:
    for path in (agent.auth_token_path, agent.ipc_cert_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert len(agent.token) >= 64
    assert b"PRIVATE KEY" in agent.ipc_cert_path.read_bytes()


def test_world_readable_token_is_refused_at_start(new_agent: AgentFactory) -> None:
    agent = new_agent()
    agent.auth_token_path.write_text("ab" * 32, encoding="ascii")
    os.chmod(agent.auth_token_path, 0o644)
    agent.start(wait=False)
    assert agent.wait() == 1
    log = agent.log_text()
    assert str(agent.auth_token_path) in log
    assert "0644" in log
    assert "Traceback" not in log
