"""Start and stop of a real core-agent process."""

from __future__ import annotations

import asyncio
import os
import signal
import stat

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from comp.core.configstreamserver.impl.handler import MSG_SHUTTING_DOWN
from pkg.proto.gen.datadog.api.v1 import api_pb2_grpc
from pkg.proto.gen.datadog.model.v1 import configstream_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as ra
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from tests.e2e.harness import AgentFactory, AgentProcess, run_core_agent

pytestmark = pytest.mark.e2e


def test_second_agent_on_the_same_port_fails_naming_it(agent: AgentProcess, new_agent: AgentFactory) -> None:
    second = new_agent(cmd_port=agent.port)
    second.start(wait=False)
    assert second.wait() == 1
    log = second.log_text()
    assert f"127.0.0.1:{agent.port}" in log
    assert "address already in use" in log
    assert "Traceback" not in log
    # The first one still serves.
    assert agent.run_cli("status").returncode == 0


async def test_sigterm_drains_open_streams_and_exits_zero_well_within_the_grace(
    start_agent: AgentFactory,
) -> None:
    # A grace longer than the 5 s allowed below: only streams ended by the drain let the agent exit in time.
    agent = start_agent({"cmd_shutdown_grace": "10s"})
    async with agent.aio_channel() as channel:
        registered = await remoteagent_pb2_grpc.RemoteAgentStub(channel).RegisterRemoteAgent(
            ra.RegisterRemoteAgentRequest(pid="1", flavor="e2e", display_name="E2E"),
            metadata=agent.auth_metadata(),
            timeout=5,
        )
        stream = api_pb2_grpc.AgentSecureStub(channel).StreamConfigEvents(
            configstream_pb2.ConfigStreamRequest(name="e2e"),
            metadata=(*agent.auth_metadata(), ("session_id", registered.session_id)),
        )
        first = await stream.read()
        assert isinstance(first, configstream_pb2.ConfigEvent)
        assert first.WhichOneof("event") == "snapshot"
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING

        agent.send_signal(signal.SIGTERM)
        # The agent itself ended the stream (a process that died would give other details).
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            await asyncio.wait_for(stream.read(), 5)
        assert (ended.value.code(), ended.value.details()) == (grpc.StatusCode.UNAVAILABLE, MSG_SHUTTING_DOWN)
        assert (await asyncio.wait_for(watch.read(), 5)).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert await asyncio.wait_for(watch.read(), 5) is grpc.aio.EOF
        assert await asyncio.to_thread(agent.wait, 5) == 0
    agent.wait_for_log(r"received SIGTERM, stopping")
    assert "Traceback" not in agent.log_text()


def test_sigint_stops_cleanly(agent: AgentProcess) -> None:
    agent.send_signal(signal.SIGINT)
    assert agent.wait(timeout=5) == 0
    assert "Traceback" not in agent.log_text()


def test_serving_line_names_the_address(agent: AgentProcess) -> None:
    agent.wait_for_log(rf"serving on {agent.address.replace('.', '[.]')}")


def test_embedded_config_keeps_secrets_in_the_state_dir(new_agent: AgentFactory) -> None:
    agent = new_agent(embedded=True, telemetry=False)
    before = agent.run_cli("config", "get", "log_level")
    assert before.returncode == 1  # nothing runs yet: the token does not exist
    assert str(agent.auth_token_path) in before.stderr

    agent.start()
    agent.wait_for_log(rf"state directory: {agent.state_dir}")
    for path in (agent.auth_token_path, agent.ipc_cert_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    got = agent.run_cli("config", "get", "hostname", "--source")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "core-agent-local (file)"
    assert agent.stop() == 0


def test_bad_config_file_is_one_clear_line(tmp_path: object) -> None:
    config = tmp_path / "datadog.yaml"  # type: ignore[operator]
    config.write_text("cmd_port: notaport\n", encoding="utf-8")
    result = run_core_agent("run", "-c", str(config))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "cmd_port" in result.stderr
    assert "notaport" in result.stderr
