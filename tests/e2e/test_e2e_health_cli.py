"""``core-agent health`` against a real core agent process."""

from __future__ import annotations

from tests.e2e.harness import AgentProcess


def test_health_says_serving_then_why_not_once_the_agent_stopped(agent: AgentProcess) -> None:
    serving = agent.run_cli("health")
    assert (serving.returncode, serving.stdout, serving.stderr) == (0, "SERVING\n", "")

    agent.stop()
    stopped = agent.run_cli("health", "--timeout", "3")
    assert stopped.returncode == 1
    assert stopped.stdout == ""
    (line,) = stopped.stderr.splitlines()
    assert line.startswith(f"core-agent: cannot reach core agent at {agent.address}: ")
    assert line.endswith("Connection refused")
