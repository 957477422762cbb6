"""The core-agent command line: parsing, locations, client errors, import weight."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from comp.core.ipc.mock import new_mock as new_ipc_mock
from core_agent.client import run_client_command
from core_agent.locations import EMBEDDED_CONFIG, resolve_locations
from core_agent.main import build_parser, main
from pkg.ipc import locate_core_agent


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run"],
        ["config"],
        ["config", "list"],
        ["config", "get"],
        ["config", "set"],
        ["config", "unset"],
        ["status"],
    ],
)
def test_every_level_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    assert "usage: core-agent" in capsys.readouterr().out


def test_set_help_lists_the_runtime_keys_with_their_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["config", "set", "--help"])
    lines = capsys.readouterr().out.split("runtime keys (config list-runtime shows their values):\n")[1]
    described = dict(line.split(maxsplit=1) for line in lines.splitlines())
    assert described["log_level"] == "log level"
    assert described["sample_remote_agent.greeting"].startswith("logged by the sample remote agent")
    assert "cmd_port" not in described and "telemetry.port" not in described


def test_set_needs_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["config", "set", "log_level", "debug", "site"])
    assert exit_info.value.code == 2
    assert "KEY VALUE pairs" in capsys.readouterr().err


def test_options_after_positionals_are_parsed() -> None:
    args = build_parser().parse_args(["config", "set", "a", "1", "b", "2", "-c", "x.yaml", "--timeout", "2"])
    assert args.pairs == ["a", "1", "b", "2"]
    assert args.config == Path("x.yaml")
    assert args.timeout == 2.0


def test_locations_without_config_use_the_embedded_file_and_a_state_dir(tmp_path: Path) -> None:
    locations = resolve_locations(None, None, {"XDG_STATE_HOME": str(tmp_path)})
    assert locations.embedded and locations.config_file == EMBEDDED_CONFIG
    assert locations.state_dir == tmp_path / "core-agent"
    assert locations.secret_overrides() == {
        "auth_token_file_path": str(tmp_path / "core-agent" / "auth_token"),
        "ipc_cert_file_path": str(tmp_path / "core-agent" / "ipc_cert.pem"),
    }
    assert EMBEDDED_CONFIG.is_file()


def test_locations_with_a_config_file_leave_the_secrets_to_it_unless_a_state_dir_is_given(
    tmp_path: Path,
) -> None:
    config = tmp_path / "datadog.yaml"
    assert resolve_locations(config, None, {}).state_dir is None
    assert resolve_locations(config, None, {}).secret_overrides() == {}
    assert resolve_locations(config, tmp_path / "s", {}).state_dir == tmp_path / "s"


def test_client_without_config_reads_the_embedded_file_and_the_state_dir(tmp_path: Path) -> None:
    found = locate_core_agent(None, tmp_path, {}, embedded_config=EMBEDDED_CONFIG)
    assert found.address == "localhost:5001"
    assert found.auth_token == tmp_path / "auth_token"
    assert found.ipc_cert == tmp_path / "ipc_cert.pem"
    assert found.config_file == EMBEDDED_CONFIG
    # The embedded file's address yields to DD_* variables, as in the agent.
    env = {"DD_CMD_PORT": "6123", "XDG_STATE_HOME": str(tmp_path / "xdg")}
    found = locate_core_agent(None, None, env, embedded_config=EMBEDDED_CONFIG)
    assert found.address == "localhost:6123"
    assert found.auth_token == tmp_path / "xdg" / "core-agent" / "auth_token"


def test_client_reports_an_unusable_config_file_on_one_line(tmp_path: Path) -> None:
    config = tmp_path / "datadog.yaml"
    config.write_text("cmd_port: [1\n", encoding="utf-8")
    args = build_parser().parse_args(["status", "-c", str(config)])
    out, err = io.StringIO(), io.StringIO()
    assert run_client_command(args, out, err) == 1
    assert err.getvalue().startswith(f"core-agent: config file {config} is not valid YAML")
    assert err.getvalue().count("\n") == 1


def test_client_names_the_address_of_an_agent_that_is_not_running(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    new_ipc_mock(tmp_path)  # writes auth_token and ipc_cert.pem beside the config
    config = tmp_path / "datadog.yaml"
    config.write_text(f"cmd_host: 127.0.0.1\ncmd_port: {port}\n", encoding="utf-8")
    args = build_parser().parse_args(["config", "get", "log_level", "-c", str(config), "--timeout", "3"])
    out, err = io.StringIO(), io.StringIO()
    assert run_client_command(args, out, err) == 1
    assert err.getvalue().startswith(f"core-agent: cannot reach core agent at 127.0.0.1:{port}: ")
    assert out.getvalue() == ""


def test_client_commands_stay_light() -> None:
    code = (
        "import sys, core_agent.main\n"
        "core_agent.main.build_parser()\n"
        "assert 'grpc' not in sys.modules, 'main imports grpc'\n"
        "assert 'pkg.config.schema' not in sys.modules, 'the parser reads the schema before --help'\n"
        "import core_agent.client\n"
        "heavy = ('comp', 'cryptography', 'pydantic', 'dependency_injector')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
