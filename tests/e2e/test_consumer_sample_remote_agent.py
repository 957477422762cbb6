"""The ``sample-remote-agent`` binary against a real core agent: ready, live changes, clean stops."""

from __future__ import annotations

import io
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from demo.children import Child, Console, child_env
from tests.e2e.harness import API_KEY, AgentProcess, free_port

AgentFactory = Callable[..., AgentProcess]
WAIT = 20.0


@pytest.fixture
def run_remote(tmp_path: Any) -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def start(*args: str) -> Child:
        child = Child(
            "remote",
            [sys.executable, "-m", "sample_remote_agent", *args],
            Console(io.StringIO()),
            env=child_env({}),
            cwd=str(tmp_path),
        )
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


def test_follows_the_core_agent_and_stops_on_sigint(agent: AgentProcess, run_remote: Any) -> None:
    remote = run_remote(
        "-c", str(agent.config_file), "--name", "e2e-sample", "--wait-timeout", str(WAIT),
        "--key", "hostname", "--key", "api_key",  # besides the keys it reads, which it always streams
    )  # fmt: skip
    ready = remote.wait_for(r"^ready: (\d+) settings from core agent at (\S+) \(sequence id (-?\d+)\)", WAIT)
    assert ready.group(2) == agent.address
    remote.wait_for(r"\| INFO \| sample_remote_agent \| effective log_level: info \(source: file\)", WAIT)
    status = agent.run_cli("status")
    assert "e2e-sample (flavor sample-remote-agent" in status.stdout

    mark = remote.mark()
    assert agent.run_cli("config", "set", "log_level", "debug", "hostname", "live").returncode == 0
    remote.wait_for(r"^change: log_level = debug \(source: agent-runtime\)$", WAIT, after=mark)
    remote.wait_for(r"^change: hostname = live \(source: agent-runtime\)$", WAIT, after=mark)
    remote.wait_for(r"\| INFO \| .* \| log level changed from 'info' to 'debug'", WAIT, after=mark)

    mark = remote.mark()
    assert agent.run_cli("config", "set", "api_key", "0123456789abcdef0123456789abcdef").returncode == 0
    remote.wait_for(r"^change: api_key = \*{27}bcdef \(source: agent-runtime\)$", WAIT, after=mark)
    assert agent.run_cli("config", "unset", "log_level").returncode == 0
    remote.wait_for(r"^change: log_level = info \(source: file\)$", WAIT, after=mark)
    remote.wait_for(r"log level changed from 'debug' to 'info'", WAIT, after=mark)

    remote.send_signal(signal.SIGINT)
    assert remote.stop() == 0
    remote.wait_for(r"^stopped$", WAIT)
    assert API_KEY not in "\n".join(remote.lines)


def test_state_dir_and_sigterm(start_agent: AgentFactory, run_remote: Any) -> None:
    agent = start_agent(telemetry=False)  # its token and certificate are in its directory
    remote = run_remote(
        "--state-dir", str(agent.directory), "--ipc-address", agent.address, "--telemetry-port", "0"
    )
    remote.wait_for(r"^ready: ", WAIT)
    remote.wait_for(r"telemetry: serving Prometheus metrics at http://127\.0\.0\.1:\d+/metrics", WAIT)
    assert remote.stop() == 0
    remote.wait_for(r"^stopped$", WAIT)


def test_no_core_agent_exits_1_after_the_wait_timeout(run_remote: Any, agent: AgentProcess) -> None:
    address = f"127.0.0.1:{free_port()}"
    remote = run_remote(
        "--ipc-address",
        address,
        "--auth-token-file",
        str(agent.auth_token_path),
        "--cert-file",
        str(agent.ipc_cert_path),
        "--wait-timeout",
        "1",
    )
    expected = f"error: config stream not ready after 1.0s: cannot reach core agent at {address}: "
    remote.wait_for("^" + re.escape(expected) + ".*Connection refused$", WAIT)
    assert remote.wait(WAIT) == 1


def test_help(run_remote: Any) -> None:
    remote = run_remote("--help")
    remote.wait_for(r"--wait-timeout", WAIT)
    assert remote.wait(WAIT) == 0
