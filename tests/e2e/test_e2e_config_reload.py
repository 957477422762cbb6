"""``core-agent config reload`` and SIGHUP against a real core agent, seen by a real consumer."""

from __future__ import annotations

import asyncio
import signal

from tests.e2e.consumer_support import WAIT, running_consumer
from tests.e2e.harness import AgentProcess, run_core_agent
from tests.support.polling import eventually


async def test_reload_applies_the_edited_file_streams_it_and_reports_restart_keys(
    agent: AgentProcess,
) -> None:
    async with running_consumer(agent, name="e2e-reload") as (consumer, _telemetry):
        await consumer.wait_ready(WAIT)
        reader = consumer.reader()
        assert reader.get_string("log_level") == "info"

        agent.settings.update({"log_level": "debug", "tags": ["reloaded:yes"], "cmd_host": "localhost"})
        agent.write_config()
        result = await asyncio.to_thread(agent.run_cli, "config", "reload")

        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].startswith(f"reloaded {agent.config_file}: log_level, tags changed (sequence id ")
        assert lines[1:] == ["needs a restart, not applied: cmd_host"]
        got = await asyncio.to_thread(agent.run_cli, "config", "get", "log_level", "--source")
        assert got.stdout == "debug (file)\n"
        host = await asyncio.to_thread(agent.run_cli, "config", "get", "cmd_host")
        assert host.stdout == "127.0.0.1\n"
        await eventually(
            lambda: reader.get_string("log_level") == "debug", "the consumer to see log_level", WAIT
        )
        assert reader.get("tags") == ["reloaded:yes"]
        agent.wait_for_log(
            r"config reloaded from .*: log_level, tags changed; needs a restart, not applied: cmd_host"
        )


def test_an_invalid_file_changes_nothing_and_the_command_says_why(agent: AgentProcess) -> None:
    # The client finds the agent through a copy of the good file: it reads cmd_port from its -c file.
    client_config = agent.directory / "client.yaml"
    client_config.write_bytes(agent.config_file.read_bytes())
    before = agent.run_cli("config", "list").stdout
    agent.config_file.write_text("log_level: debug\ncmd_port: many\n", encoding="utf-8")

    result = run_core_agent("config", "reload", "-c", str(client_config))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"core-agent: invalid value for 'cmd_port' (from {agent.config_file}:2): 'many', "
        "expected an integer between 0 and 65535\n"
    )
    assert run_core_agent("config", "list", "-c", str(client_config)).stdout == before
    agent.wait_for_log(r"config reload refused, nothing changed: invalid value for 'cmd_port'")


def test_sighup_reloads_the_file(agent: AgentProcess) -> None:
    agent.settings["hostname"] = "after-sighup"
    agent.write_config()
    agent.send_signal(signal.SIGHUP)
    agent.wait_for_log(r"config reloaded from .*: hostname changed")
    assert agent.run_cli("config", "get", "hostname", "--source").stdout == "after-sighup (file)\n"
    assert agent.returncode is None
