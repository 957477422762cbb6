"""A real core's ``/metrics`` against the table of README's Telemetry section: every series is
documented with its type, unit and labels, and every series documented as there from the start is."""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from comp.core.telemetry.def_ import SECONDS_BUCKETS
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2 as ra
from pkg.proto.gen.datadog.remoteagent.v1 import remoteagent_pb2_grpc
from tests.e2e.harness import AgentProcess

pytestmark = pytest.mark.e2e

_README = Path(__file__).resolve().parents[2] / "README.md"
_UNIT_SUFFIXES = {"seconds": ("_seconds", "_seconds_total"), "bytes": ("_bytes", "_bytes_total")}


@dataclass(frozen=True)
class _Row:
    name: str
    type: str
    unit: str
    labels: frozenset[str]
    appears: str


@dataclass(frozen=True)
class _Series:
    type: str
    samples: tuple[tuple[str, dict[str, str], float], ...]


def _readme_table() -> dict[str, _Row]:
    text = _README.read_text(encoding="utf-8")
    section = text.split("\n## Telemetry\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, _Row] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        name, kind, unit, labels, appears = cells[:5]
        rows[name.strip("`")] = _Row(
            name.strip("`"), kind, unit, frozenset(re.findall(r"`([^`]+)`", labels)), appears
        )
    assert rows, f"no table of series in the Telemetry section of {_README}"
    return rows


def _exported_name(family_name: str, kind: str) -> str:
    return f"{family_name}_total" if kind == "counter" else family_name


async def _scrape(agent: AgentProcess) -> dict[str, _Series]:
    def fetch() -> str:
        url = f"http://127.0.0.1:{agent.telemetry_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    return {
        _exported_name(family.name, family.type): _Series(
            family.type, tuple((s.name, dict(s.labels), s.value) for s in family.samples)
        )
        for family in text_string_to_metric_families(await asyncio.to_thread(fetch))
    }


def _check_documented(scraped: dict[str, _Series], table: dict[str, _Row]) -> None:
    for name, series in scraped.items():
        row = table.get(name)
        assert row is not None, f"{name} is exported but not in README's Telemetry table"
        assert series.type == row.type, f"{name}: exported as {series.type}, documented as {row.type}"
        suffixes = _UNIT_SUFFIXES.get(row.unit, ())
        if row.unit:
            assert name.endswith(suffixes), f"{name}: documented in {row.unit}, name lacks the suffix"
        else:
            assert not name.endswith(("_seconds", "_bytes")), f"{name}: a unit in the name, none documented"
        for sample_name, labels, _ in series.samples:
            extra = set(labels) - row.labels - ({"le"} if row.type == "histogram" else set())
            assert not extra, f"{sample_name}: labels {sorted(extra)} not documented for {name}"


async def test_every_series_is_in_the_readme_table(agent: AgentProcess) -> None:
    table = _readme_table()

    at_start = await _scrape(agent)
    _check_documented(at_start, table)
    missing = [row.name for row in table.values() if row.appears == "start" and row.name not in at_start]
    assert not missing, f"documented as exported from the start, but missing: {missing}"
    for name, series in at_start.items():
        if series.type == "counter" and not name.startswith("process_"):
            assert all(value == 0 for _, _, value in series.samples), f"{name} not 0 at start"

    async with agent.aio_channel() as channel:
        stub = remoteagent_pb2_grpc.RemoteAgentStub(channel)
        request = ra.RegisterRemoteAgentRequest(pid=str(os.getpid()), flavor="e2e", display_name="Table")
        reply = await stub.RegisterRemoteAgent(request, metadata=agent.auth_metadata(), timeout=5)
        await stub.RefreshRemoteAgent(
            ra.RefreshRemoteAgentRequest(session_id=reply.session_id),
            metadata=agent.auth_metadata(),
            timeout=5,
        )

    after = await _scrape(agent)
    _check_documented(after, table)
    durations = after["remote_agent_registry_action_duration_seconds"]
    bounds = [
        labels["le"]
        for sample, labels, _ in durations.samples
        if sample.endswith("_bucket") and labels["action"] == "register"
    ]
    assert bounds == [repr(float(b)) for b in SECONDS_BUCKETS] + ["+Inf"]
    assert ("remote_agent_registry_updated_total", {}, 1.0) in after[
        "remote_agent_registry_updated_total"
    ].samples
    assert after["remote_agent_registry_registered"].samples == (
        ("remote_agent_registry_registered", {}, 1.0),
    )
    (build,) = after["core_agent_build_info"].samples
    assert build[2] == 1 and set(build[1]) == {"version", "python", "grpcio", "protobuf"}
