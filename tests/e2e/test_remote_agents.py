"""Status, flare, metrics and eviction with a real core agent and real sample remote agents."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from comp.api.grpcserver.def_ import GrpcService
from comp.core.remoteagent.impl.server import AgentServer
from pkg.ipc import server_credentials
from pkg.proto.gen.datadog.remoteagent.status.v1 import status_pb2
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as ra
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from pkg.remoteagent.providers import flare_service
from pkg.remoteagent.services import FLARE_SERVICE, STATUS_METHOD, STATUS_SERVICE
from tests.e2e.harness import API_KEY, AgentFactory, AgentProcess
from tests.support.polling import eventually_sync

pytestmark = pytest.mark.e2e

QUERY_TIMEOUT = 1.5


class SampleAgent:
    def __init__(self, core: AgentProcess, name: str, listen: str, log: Path) -> None:
        self.name = name
        self._log = log.open("wb")
        argv = [sys.executable, "-m", "sample_remote_agent", "-c", str(core.config_file), "--name", name]
        argv += ["--listen", listen, "--telemetry-port", "0", "--key", "api_key"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def _status(core: AgentProcess) -> dict[str, Any]:
    result = core.run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _ready_agents(core: AgentProcess) -> list[str]:
    return sorted(
        a["display_name"] for a in _status(core)["remote_agents"] if a["main_section"].get("state") == "ready"
    )


@pytest.fixture
def host(start_agent: AgentFactory, tmp_path: Path) -> Iterator[tuple[AgentProcess, list[SampleAgent]]]:
    core = start_agent({"remote_agent.registry.query_timeout": f"{QUERY_TIMEOUT}s"})
    agents = [
        SampleAgent(core, "Sample TCP", "127.0.0.1:0", tmp_path / "tcp.log"),
        SampleAgent(core, "sample/unix", f"unix://{tmp_path}/unix.sock", tmp_path / "unix.log"),
    ]
    try:
        eventually_sync(lambda: _ready_agents(core) == ["Sample TCP", "sample/unix"], "both agents ready", 30)
        yield core, agents
    finally:
        for agent in agents:
            agent.stop()


def test_status_flare_and_metrics_cover_both_agents(
    host: tuple[AgentProcess, list[SampleAgent]], tmp_path: Path
) -> None:
    core, _ = host
    remote = {a["display_name"]: a for a in _status(core)["remote_agents"]}
    assert remote["Sample TCP"]["api_endpoint_uri"].startswith("https://127.0.0.1:")
    assert remote["sample/unix"]["api_endpoint_uri"] == f"unix://{tmp_path}/unix.sock"
    for agent in remote.values():
        assert agent["error"] is None
        assert set(agent["main_section"]) == {"state", "sequence_id", "epoch", "reconnects", "last_error"}
        assert "config stream" in agent["named_sections"]

    text = core.run_cli("status")
    assert "Remote Agents" in text.stdout and "state: ready" in text.stdout

    out = tmp_path / "flare.zip"
    result = core.run_cli("flare", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        contents = {name: archive.read(name) for name in names}
    for expected in (
        "core/config.yaml",
        "core/agent.log",
        "core/status.txt",
        "core/status.json",
        "core/metrics.txt",
        "core/remote_agents.json",
        "Sample_TCP/config.yaml",
        "Sample_TCP/agent.log",
        "sample_unix/config.yaml",
        "sample_unix/agent.log",
    ):
        assert expected in names
    for name, content in contents.items():
        assert API_KEY.encode() not in content, f"unmasked api_key in {name}"
    assert b"api_key: '" + b"*" * 27 + API_KEY[-5:].encode() + b"'" in contents["Sample_TCP/config.yaml"]

    with urllib.request.urlopen(f"http://127.0.0.1:{core.telemetry_port}/metrics", timeout=10) as response:
        metrics_text = response.read().decode()
    families = list(text_string_to_metric_families(metrics_text))
    type_lines = re.findall(r"^# TYPE (\S+) ", metrics_text, re.MULTILINE)
    assert len(type_lines) == len(set(type_lines)), "a metric name with two TYPE lines"
    shared = {
        s.labels.get("emitter") for f in families if f.name == "telemetry_dropped_families" for s in f.samples
    }
    assert shared == {None, "Sample_TCP", "sample_unix"}  # the agents' series of a core name, in one family
    emitters = {s.labels["emitter"] for f in families for s in f.samples if "emitter" in s.labels}
    assert emitters == {"Sample_TCP", "sample_unix"}
    snapshots = {
        s.labels.get("emitter"): s.value
        for f in families
        for s in f.samples
        if s.name == "configstream_consumer_snapshots_total"
    }
    assert snapshots == {"Sample_TCP": 1.0, "sample_unix": 1.0}


def test_killed_agent_is_reported_unreachable_within_the_deadline(
    host: tuple[AgentProcess, list[SampleAgent]], tmp_path: Path
) -> None:
    core, agents = host
    agents[1].process.send_signal(signal.SIGKILL)
    agents[1].process.wait(10)

    started = time.monotonic()
    remote = {a["display_name"]: a for a in _status(core)["remote_agents"]}
    assert time.monotonic() - started < QUERY_TIMEOUT + 3.0
    assert remote["Sample TCP"]["error"] is None
    assert remote["sample/unix"]["error"].startswith("cannot reach remote agent at unix:")

    out = tmp_path / "flare.zip"
    started = time.monotonic()
    result = core.run_cli("flare", "--output", str(out))
    assert time.monotonic() - started < QUERY_TIMEOUT + 5.0
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        assert b"could not be queried" in archive.read("sample_unix/UNREACHABLE.txt")
        assert "Sample_TCP/config.yaml" in archive.namelist()


async def test_agent_answering_under_another_session_is_evicted(agent: AgentProcess) -> None:
    async def status(
        _request: status_pb2.GetStatusDetailsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> status_pb2.GetStatusDetailsResponse:
        await context.send_initial_metadata((("session_id", "not-the-registered-one"),))
        return status_pb2.GetStatusDetailsResponse()

    server, port = await _status_server(agent, status)
    try:
        await _register(agent, "impostor", "Impostor", f"127.0.0.1:{port}", STATUS_SERVICE)
        status_json = json.loads((await asyncio.to_thread(agent.run_cli, "status", "--json")).stdout)
        (impostor,) = status_json["remote_agents"]
        assert "SESSION" in impostor["error"].upper() or "session" in impostor["error"]

        await asyncio.to_thread(
            eventually_sync, lambda: not _status(agent)["remote_agents"], "the impostor evicted", 15
        )
        assert "marked unhealthy" in agent.log_text()
    finally:
        await server.stop(None)


async def test_a_flare_with_a_remote_file_larger_than_a_message_is_written_truncated(
    agent: AgentProcess, tmp_path: Path
) -> None:
    big = b"".join(b"big flare line %09d\n" % i for i in range(300_000))
    assert len(big) > 5 * 1024 * 1024

    async def files() -> dict[str, bytes]:
        return {"big.log": big, "small.txt": b"small\n"}

    session: list[str] = []
    name, add = flare_service(files)
    server = AgentServer(
        "127.0.0.1:0", [GrpcService(names=(name,), register=add)], lambda: session[0] if session else None
    )
    await server.start(agent.material())
    try:
        session.append(await _register(agent, "big", "Big Flare", server.api_endpoint_uri, FLARE_SERVICE))
        out = tmp_path / "flare.zip"
        result = await asyncio.to_thread(agent.run_cli, "flare", "--output", str(out))
    finally:
        await server.stop()
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        for expected in ("core/status.json", "core/status.txt", "core/config.yaml", "core/agent.log"):
            assert expected in names
            assert not archive.read(expected).startswith(b"[flare: this file")
        truncated = archive.read("Big_Flare/big.log")
        report = archive.read("FLARE_TRUNCATED.txt").decode()
        assert archive.read("Big_Flare/small.txt") == b"small\n"
    assert 0 < len(truncated) < 4 * 1024 * 1024
    assert big.startswith(truncated.rsplit(b"\n[flare: ", 1)[0])
    last = truncated.splitlines()[-1].decode()
    assert last.startswith("[flare: ") and f" of {len(big)} bytes dropped here by the core agent: " in last
    assert "truncated Big_Flare/big.log" in report
    assert "Traceback" not in agent.log_text()


async def test_status_shows_a_remote_agent_s_sections_scrubbed(agent: AgentProcess) -> None:
    session: list[str] = []

    async def status(
        _request: status_pb2.GetStatusDetailsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> status_pb2.GetStatusDetailsResponse:
        await context.send_initial_metadata((("session_id", session[0]),))
        response = status_pb2.GetStatusDetailsResponse()
        response.main_section.fields.update(
            {
                "state": "ready",
                "password": "hunter2-long-value",
                "last_error": "login refused: password: hunter2-long-value",
                "core key": f"seen {API_KEY}",
            }
        )
        response.named_sections["endpoints"].fields.update(
            {
                "intake": "https://admin:url-pass-99@intake.example:443/v1",
                "headers": "Authorization: Bearer tok-abcdef-0123",
            }
        )
        return response

    server, port = await _status_server(agent, status)
    try:
        session.append(await _register(agent, "leaky", "Leaky", f"127.0.0.1:{port}", STATUS_SERVICE))
        planted = ("hunter2-long-value", "url-pass-99", "tok-abcdef-0123", API_KEY)

        as_json = await asyncio.to_thread(agent.run_cli, "status", "--json")
        assert as_json.returncode == 0, as_json.stderr
        (leaky,) = json.loads(as_json.stdout)["remote_agents"]
        assert leaky["error"] is None
        assert leaky["main_section"] == {
            "state": "ready",
            "password": "********",
            "last_error": "login refused: password: ********",
            "core key": "seen ********",
        }
        assert leaky["named_sections"] == {
            "endpoints": {
                "intake": "https://admin:********@intake.example:443/v1",
                "headers": "Authorization: Bearer ********",
            }
        }
        text = await asyncio.to_thread(agent.run_cli, "status")
        assert text.returncode == 0, text.stderr
        assert "password: ********" in text.stdout and "state: ready" in text.stdout
        for secret in planted:
            assert secret not in as_json.stdout
            assert secret not in text.stdout
    finally:
        await server.stop(None)


StatusHandler = Callable[
    [status_pb2.GetStatusDetailsRequest, grpc.aio.ServicerContext[Any, Any]],
    Awaitable[status_pb2.GetStatusDetailsResponse],
]


async def _status_server(agent: AgentProcess, status: StatusHandler) -> tuple[grpc.aio.Server, int]:
    """A started remote agent server (the core's TLS material) answering the status RPC with ``status``."""
    material = agent.material()
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        status,
        request_deserializer=status_pb2.GetStatusDetailsRequest.FromString,
        response_serializer=status_pb2.GetStatusDetailsResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(STATUS_SERVICE, {STATUS_METHOD: handler}),)
    )
    port = server.add_secure_port("127.0.0.1:0", server_credentials(material.cert_pem, material.key_pem))
    await server.start()
    return server, port


async def _register(agent: AgentProcess, flavor: str, display_name: str, uri: str, service: str) -> str:
    """Register a remote agent serving ``service`` at ``uri`` with the core; its session id."""
    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        request = ra.RegisterRemoteAgentRequest(
            pid="1", flavor=flavor, display_name=display_name, api_endpoint_uri=uri, services=[service]
        )
        reply = await stub.RegisterRemoteAgent(request, metadata=agent.auth_metadata(), timeout=5)
    return str(reply.session_id)
