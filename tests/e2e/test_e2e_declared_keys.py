"""Declared keys against a real core: typos and restart-only keys refused, list-runtime, undeclared
file keys kept with one warning, a remote agent's declared keys settable; JSON output, -c DIR."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import AgentFactory, AgentProcess, run_core_agent

pytestmark = pytest.mark.e2e


def test_config_set_refuses_a_typo_and_a_restart_only_key(agent: AgentProcess) -> None:
    typo = agent.run_cli("config", "set", "log_levl", "debug")
    assert typo.returncode == 1
    assert "unknown setting 'log_levl': did you mean log_level" in typo.stderr

    port = agent.run_cli("config", "set", "cmd_port", "6000")
    assert port.returncode == 1
    assert f"'cmd_port' needs a restart: set it in {agent.config_file}" in port.stderr
    assert agent.run_cli("config", "get", "cmd_port").stdout.strip() == str(agent.port)


def test_list_runtime_names_the_live_keys_including_a_remote_agents(agent: AgentProcess) -> None:
    result = agent.run_cli("config", "list-runtime")
    assert result.returncode == 0, result.stderr
    keys = {line.split()[0] for line in result.stdout.splitlines()}
    assert {"log_level", "hostname", "sample_remote_agent.greeting"} <= keys
    assert not {"cmd_port", "cmd_host", "telemetry.port"} & keys

    changed = agent.run_cli("config", "set", "sample_remote_agent.greeting", "bonjour")
    assert changed.returncode == 0, changed.stderr
    assert agent.run_cli("config", "get", "sample_remote_agent.greeting").stdout.strip() == "bonjour"


def test_undeclared_file_keys_are_kept_and_named_in_one_warning(start_agent: AgentFactory) -> None:
    agent = start_agent(
        {"my_tool.colour": "blue", "hostnme": "typo-host"},
        env={"DD_MY_TOOL_MODE": "fast", "DD_LOGS_CONFIG": "not-a-group"},
    )
    agent.wait_for_log(r"2 undeclared keys in .*datadog\.yaml.*: hostnme, my_tool\.colour")
    agent.wait_for_log(r"1 undeclared keys in DD_\* environment variables.*: my_tool_mode")
    agent.wait_for_log(r"1 DD_\* environment variables ignored .*: DD_LOGS_CONFIG")
    got = agent.run_cli("config", "get", "my_tool.colour", "--source")
    assert got.stdout.strip() == "blue (file)"
    from_env = agent.run_cli("config", "get", "my_tool_mode", "--source")
    assert from_env.stdout.strip() == "fast (environment-variable)"


def test_json_output_and_a_directory_for_cfgpath(agent: AgentProcess) -> None:
    directory = str(agent.config_file.parent)
    listing = run_core_agent("config", "--json", "--cfgpath", directory)
    assert listing.returncode == 0, listing.stderr
    settings = json.loads(listing.stdout)["settings"]
    assert settings["cmd_port"]["value"] == agent.port and settings["api_key"]["masked"]
    got = run_core_agent("-c", directory, "config", "get", "log_level", "--json")
    assert json.loads(got.stdout)["value"] == "info"
    runtime = json.loads(run_core_agent("config", "list-runtime", "--json", "-c", directory).stdout)
    assert "log_level" in runtime["settings"] and "cmd_port" not in runtime["settings"]
