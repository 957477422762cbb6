"""Flare assembly: the core's files, each remote agent's directory, masking and the size bounds."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from comp.core.config.mock import new_mock as new_config
from comp.core.diagnostics.impl.bounds import REPORT_NAME, limits_for
from comp.core.diagnostics.impl.flare import remote_agent_files
from comp.core.diagnostics.impl.service import Diagnostics
from comp.core.remoteagentregistry.def_ import QueryResult, RemoteAgent, StatusDetails
from comp.core.remoteagentregistry.mock import MockRemoteAgentRegistry
from comp.core.settings.mock import new_mock as new_settings
from pkg.proto.gen.configstream.remoteagents.v1 import remoteagents_pb2 as pb
from pkg.remoteagent.services import FLARE_SERVICE
from pkg.util.recent_logs import RecentLogs

API_KEY = "0123456789abcdefXYZWvutsrqponmlk"
MIB = 1024 * 1024


class _Queries:
    """Answers each agent's flare files from a dict by session id (None: unreachable)."""

    def __init__(
        self, registry: MockRemoteAgentRegistry, files: Mapping[str, dict[str, bytes] | None]
    ) -> None:
        self._registry = registry
        self._files = files

    async def status(self) -> list[QueryResult[StatusDetails]]:
        return []

    async def flare_files(self) -> list[QueryResult[dict[str, bytes]]]:
        results: list[QueryResult[dict[str, bytes]]] = []
        for agent in self._registry.list():
            files = self._files.get(agent.session_id)
            error = (
                None if files is not None else "cannot reach remote agent at 127.0.0.1:1: connection refused"
            )
            results.append(QueryResult(agent, files, error))
        return results

    async def telemetry(self) -> list[QueryResult[str]]:
        return []


def _diagnostics(
    registry: MockRemoteAgentRegistry,
    files: Mapping[str, dict[str, bytes] | None],
    *,
    max_message: int = 4 * MIB,
) -> Diagnostics:
    limits = {
        "agent_ipc.grpc_max_message_size": max_message,
        "config_limits.total_max_bytes": max_message // 2,
    }
    config = new_config({"api_key": API_KEY, **limits})
    settings = new_settings({"api_key": API_KEY, "log_level": "info"}, secrets={"api_key"})
    return Diagnostics(
        config=config,
        settings=settings,
        registry=registry,
        queries=_Queries(registry, files),
        logs=RecentLogs(),
        metrics_url=lambda: None,
    )


def _agent(registry: MockRemoteAgentRegistry, session: str, name: str, **kwargs: str) -> str:
    return registry.add_session(session, display_name=name, services=(FLARE_SERVICE,), **kwargs)


async def test_secrets_in_remote_agents_files_are_masked() -> None:
    registry = MockRemoteAgentRegistry()
    _agent(registry, "s1", "Trace Agent")
    config_yaml = b"database:\n  host: db.local\n  db_password: hunter2-correct-horse\n"
    log = (
        b"2026-01-01 INFO calling the intake with Authorization: Bearer tok-abcdefghijklmnop\n"
        b"2026-01-01 INFO proxy http://proxyuser:proxy-pass-123@proxy.local:3128/\n"
        b"2026-01-01 INFO the api key is " + API_KEY.encode() + b"\n"
    )
    flare = await _diagnostics(registry, {"s1": {"config.yaml": config_yaml, "agent.log": log}}).flare_files()
    masked_config = flare["Trace_Agent/config.yaml"].decode()
    assert "hunter2-correct-horse" not in masked_config
    assert "db_password: ********\n" in masked_config and "host: db.local" in masked_config
    masked_log = flare["Trace_Agent/agent.log"].decode()
    assert "tok-abcdefghijklmnop" not in masked_log and "Bearer ********\n" in masked_log
    assert "proxy-pass-123" not in masked_log
    assert "http://proxyuser:********@proxy.local:3128/" in masked_log
    assert API_KEY not in masked_log and API_KEY[-5:] not in masked_log
    for path, content in flare.items():
        assert API_KEY.encode() not in content, path


async def test_the_core_files_come_first_then_each_agent_under_its_sanitized_name() -> None:
    registry = MockRemoteAgentRegistry()
    _agent(registry, "b", "Trace Agent")
    _agent(registry, "a", "Trace Agent")
    _agent(registry, "c", "core")
    _agent(registry, "d", "  ../../etc  ")
    files = {
        "a": {"a.log": b"first\n"},
        "b": {"../../escape.txt": b"second\n", "sub/dir/x.yaml": b"x: 1\n"},
        "c": {"c.txt": b"not the core's\n"},
        "d": {"d.txt": b"dots\n"},
    }
    flare = await _diagnostics(registry, files).flare_files()
    paths = list(flare)
    core = [p for p in paths if p.startswith("core/")]
    assert paths[: len(core)] == core
    assert core[:2] == ["core/status.json", "core/status.txt"]
    assert core[2:] == ["core/config.yaml", "core/agent.log", "core/metrics.txt", "core/remote_agents.json"]
    assert paths[len(core) :] == [
        ".._.._etc/d.txt",
        "Trace_Agent/a.log",
        "Trace_Agent-2/.._.._escape.txt",
        "Trace_Agent-2/sub_dir_x.yaml",
        "core-2/c.txt",
    ]
    assert flare["Trace_Agent/a.log"] == b"first\n"
    assert flare["Trace_Agent-2/.._.._escape.txt"] == b"second\n"
    assert flare["core-2/c.txt"] == b"not the core's\n"
    assert REPORT_NAME not in flare
    assert {a["session_id"] for a in json.loads(flare["core/remote_agents.json"])} == {"a", "b", "c", "d"}


def test_two_files_sanitized_to_one_name_both_kept() -> None:
    registry = MockRemoteAgentRegistry()
    agent = registry.get(_agent(registry, "s", "A"))
    assert isinstance(agent, RemoteAgent)
    files = remote_agent_files([QueryResult(agent, {"x/y": b"1", "x_y": b"2", "x:y": b"3"})])
    assert files == {"A/x_y": b"1", "A/_x_y": b"3", "A/__x_y": b"2"}  # in the order of the sent names


async def test_an_unreachable_agent_gets_a_note_saying_why() -> None:
    registry = MockRemoteAgentRegistry()
    _agent(registry, "s1", "System Probe", pid="4242", flavor="system-probe", api_endpoint_uri="127.0.0.1:1")
    _agent(registry, "s2", "No Endpoint")
    flare = await _diagnostics(registry, {}).flare_files()
    assert flare["System_Probe/UNREACHABLE.txt"] == (
        b"remote agent 'System Probe' (flavor system-probe, pid 4242) at 127.0.0.1:1 could not be "
        b"queried: cannot reach remote agent at 127.0.0.1:1: connection refused\n"
    )
    assert flare["No_Endpoint/UNREACHABLE.txt"].startswith(
        b"remote agent 'No Endpoint' (flavor test, pid 1) at (no endpoint) could not be queried: "
    )
    assert not [p for p in flare if p.startswith("System_Probe/") and p != "System_Probe/UNREACHABLE.txt"]


@pytest.mark.parametrize("max_message", [4 * MIB, 256 * 1024])
async def test_a_remote_agent_answering_more_than_a_message_gives_a_flare_that_fits(max_message: int) -> None:
    registry = MockRemoteAgentRegistry()
    _agent(registry, "s1", "Big")
    _agent(registry, "s2", "Later")
    big = b"".join(b"event %08d db_password: hunter2-secret-value\n" % i for i in range(120_000))
    assert len(big) > 5 * MIB
    files = {"s1": {"huge.log": big, "small.txt": b"small\n"}, "s2": {"later.txt": b"later\n"}}
    flare = await _diagnostics(registry, files, max_message=max_message).flare_files()
    limits = limits_for(max_message)
    assert 5 + pb.CreateFlareResponse(files=flare).ByteSize() <= max_message
    for path in ("core/status.json", "core/config.yaml", "core/agent.log", "core/remote_agents.json"):
        assert b"left out" not in flare[path][:200], path
    huge = flare["Big/huge.log"]
    assert len(huge) <= limits.per_file
    assert huge.startswith(b"event 00000000 db_password: ********\n")
    assert b"hunter2-secret-value" not in huge
    assert b"bytes dropped here by the core agent" in huge.splitlines()[-1]
    assert "truncated Big/huge.log" in flare[REPORT_NAME].decode()
    if max_message == 4 * MIB:
        assert flare["Later/later.txt"] == b"later\n"
