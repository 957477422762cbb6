"""Two hosts' core agents watching one real etcd, each with a sample remote agent: a ``global``
change reaches both remote agents, a ``host:`` change only its host's; ``core-agent status`` shows
the fleet source."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from demo.children import Child, Console, child_env
from tests.comp.core.fleet.fleet_support import put
from tests.e2e.harness import AgentProcess
from tests.etcd_server import EtcdCluster

AgentFactory = Callable[..., AgentProcess]
WAIT = 20.0


@pytest.fixture
def run_remote(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def start(agent: AgentProcess, name: str) -> Child:
        argv = [sys.executable, "-m", "sample_remote_agent", "-c", str(agent.config_file), "--name", name]
        child = Child(
            name,
            [*argv, "--key", "site"],  # besides log_level, which it always streams
            Console(io.StringIO()),
            env=child_env({}),
            cwd=str(tmp_path),
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


async def test_global_change_reaches_every_host_and_host_change_one(
    etcd: EtcdCluster, start_agent: AgentFactory, run_remote: Any
) -> None:
    await put(etcd.endpoints, "host:host-a/log_level", "warn")  # there before the cores start
    fleet = {"remote_config.etcd.endpoints": list(etcd.endpoints)}
    core_a = start_agent({"hostname": "host-a", **fleet})
    core_b = start_agent({"hostname": "host-b", **fleet})
    remote_a = run_remote(core_a, "remote-a")
    remote_b = run_remote(core_b, "remote-b")
    for remote in (remote_a, remote_b):
        remote.wait_for(r"^ready: ", WAIT)
    remote_a.wait_for(r"effective log_level: warn \(source: remote-config\)", WAIT)
    remote_b.wait_for(r"effective log_level: info \(source: file\)", WAIT)

    mark_a, mark_b = remote_a.mark(), remote_b.mark()
    await put(etcd.endpoints, "global/site", "fleet.example")
    for remote, mark in ((remote_a, mark_a), (remote_b, mark_b)):
        remote.wait_for(r"^change: site = fleet\.example \(source: remote-config\)$", WAIT, after=mark)

    mark_a, mark_b = remote_a.mark(), remote_b.mark()
    await put(etcd.endpoints, "host:host-b/log_level", "debug")
    await put(etcd.endpoints, "global/site", "fleet2.example")  # both see this one after the host change
    remote_b.wait_for(r"^change: log_level = debug \(source: remote-config\)$", WAIT, after=mark_b)
    for remote, mark in ((remote_a, mark_a), (remote_b, mark_b)):
        remote.wait_for(r"^change: site = fleet2\.example \(source: remote-config\)$", WAIT, after=mark)
    assert not any("change: log_level" in line for line in remote_a.lines[mark_a:])

    status = core_b.run_cli("status")
    assert status.returncode == 0, status.stderr
    assert "fleet source:" in status.stdout
    assert f"watching, values from etcd, on {etcd.endpoints[0]}" in status.stdout
    assert "global, host:host-b" in status.stdout
    as_json = json.loads(core_b.run_cli("status", "--json").stdout)["core"]["fleet"]
    assert (as_json["state"], as_json["lag"], as_json["scopes"]) == ("watching", 0, ["global", "host:host-b"])
    assert as_json["applied_keys"] == 2
