"""``core-agent config ...`` and ``core-agent status`` against a real agent process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pkg.ipc import generate_ipc_certificate
from tests.e2e.harness import API_KEY, CLI_TIMEOUT, AgentFactory, AgentProcess, free_port, run_core_agent

pytestmark = pytest.mark.e2e


def test_config_set_changes_the_running_agents_log_level(agent: AgentProcess) -> None:
    assert agent.run_cli("config", "get", "log_level").stdout.strip() == "info"

    result = agent.run_cli("config", "set", "log_level", "debug")
    assert result.returncode == 0, result.stderr
    assert "log_level" in result.stdout

    got = agent.run_cli("config", "get", "log_level", "--source")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "debug (agent-runtime)"
    agent.wait_for_log(r"log level changed from 'info' to 'debug'")

    unset = agent.run_cli("config", "unset", "log_level")
    assert unset.returncode == 0, unset.stderr
    assert agent.run_cli("config", "get", "log_level").stdout.strip() == "info"


def test_config_set_of_a_bad_value_fails_and_changes_nothing(agent: AgentProcess) -> None:
    before = agent.run_cli("config", "list").stdout
    result = agent.run_cli(
        "config", "set", "log_level", "debug", "remote_agent.registry.idle_timeout", "soon"
    )
    assert result.returncode == 1
    assert "remote_agent.registry.idle_timeout" in result.stderr
    assert "soon" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert agent.run_cli("config", "get", "log_level").stdout.strip() == "info"
    assert agent.run_cli("config", "list").stdout == before


def test_config_list_and_get_mask_secrets(agent: AgentProcess) -> None:
    listing = agent.run_cli("config", "list")
    assert listing.returncode == 0, listing.stderr
    assert "hostname = e2e-host (file)" in listing.stdout.splitlines()
    assert API_KEY not in listing.stdout
    assert f"api_key = {'*' * 27}{API_KEY[-5:]} (file)" in listing.stdout.splitlines()

    got = agent.run_cli("config", "get", "api_key")
    assert got.stdout.strip() == f"{'*' * 27}{API_KEY[-5:]}"

    prefixed = agent.run_cli("config", "list", "remote_agent.registry.")
    lines = prefixed.stdout.splitlines()
    assert lines and all(line.startswith("remote_agent.registry.") for line in lines)

    missing = agent.run_cli("config", "get", "no.such.key")
    assert missing.returncode == 1
    assert "no.such.key" in missing.stderr


def test_status_shows_the_agent(agent: AgentProcess) -> None:
    result = agent.run_cli("status")
    assert result.returncode == 0, result.stderr
    assert agent.address in result.stdout
    assert f"pid:                {agent.pid}" in result.stdout
    assert str(agent.config_file) in result.stdout


def test_client_reports_an_agent_that_is_not_running(new_agent: AgentFactory) -> None:
    running = new_agent()
    running.start()
    # A second config whose port nobody listens on, with the first agent's secrets.
    stopped = new_agent(
        {
            "auth_token_file_path": str(running.auth_token_path),
            "ipc_cert_file_path": str(running.ipc_cert_path),
        },
        cmd_port=free_port(),
    )
    result = stopped.run_cli("config", "get", "log_level", "--timeout", "3")
    assert result.returncode == 1
    assert f"cannot reach core agent at {stopped.address}: " in result.stderr
    assert "Traceback" not in result.stderr


def test_client_without_secrets_names_the_missing_file(tmp_path: object) -> None:
    config = tmp_path / "datadog.yaml"  # type: ignore[operator]
    config.write_text("cmd_port: 5999\n", encoding="utf-8")
    result = run_core_agent("config", "get", "log_level", "-c", str(config))
    assert result.returncode == 1
    assert str(config.parent / "auth_token") in result.stderr
    assert "Traceback" not in result.stderr


def test_config_get_loads_neither_cryptography_nor_the_components(agent: AgentProcess) -> None:
    code = (
        "import sys\n"
        "from core_agent.main import main\n"
        f"code = main(['config', 'get', 'log_level', *{agent.location_args()!r}])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('comp', 'cryptography'))\n"
        "assert not loaded, loaded\n"
        "raise SystemExit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "info"


def test_client_names_a_key_that_does_not_belong_to_the_certificate(
    agent: AgentProcess, new_agent: AgentFactory
) -> None:
    # The agent's certificate with another key: only the TLS handshake notices, then the client says why.
    bad_cert = agent.directory / "mismatched_cert.pem"
    bad_cert.write_bytes(agent.material().cert_pem + generate_ipc_certificate().key_pem)
    bad_cert.chmod(0o600)
    client = new_agent(
        {"auth_token_file_path": str(agent.auth_token_path), "ipc_cert_file_path": str(bad_cert)},
        cmd_port=agent.port,
    )
    result = client.run_cli("config", "get", "log_level", "--timeout", "5")
    assert result.returncode == 1
    assert f"{bad_cert}: the private key does not belong to the certificate" in result.stderr
    assert "Traceback" not in result.stderr
