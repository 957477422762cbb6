"""The core-agent command line: parsing, locations, client errors, import weight."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from comp.core.ipc.mock import new_mock as new_ipc_mock
from core_agent.client import format_value, run_client_command
from core_agent.locations import (
    EMBEDDED_CONFIG,
    LocationError,
    default_state_dir,
    resolve_endpoint,
    resolve_locations,
)
from core_agent.main import build_parser, main


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


def test_default_state_dir_follows_xdg(tmp_path: Path) -> None:
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "core-agent"
    assert default_state_dir({}) == Path.home() / ".local" / "state" / "core-agent"


def test_locations_without_config_use_the_embedded_file_and_a_state_dir(tmp_path: Path) -> None:
    locations = resolve_locations(None, None, {"XDG_STATE_HOME": str(tmp_path)})
    assert locations.embedded and locations.config_file == EMBEDDED_CONFIG
    assert locations.state_dir == tmp_path / "core-agent"
    assert locations.secret_overrides() == {
        "auth_token_file_path": str(tmp_path / "core-agent" / "auth_token"),
        "ipc_cert_file_path": str(tmp_path / "core-agent" / "ipc_cert.pem"),
    }
    assert EMBEDDED_CONFIG.is_file()


def test_endpoint_from_a_config_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "datadog.yaml"
    config.write_text("cmd_host: 127.0.0.1\ncmd_port: 6001\nlog_level: info\n", encoding="utf-8")
    endpoint = resolve_endpoint(resolve_locations(config, None), environ={})
    assert endpoint.address == "127.0.0.1:6001"
    assert endpoint.auth_token == tmp_path / "auth_token"
    assert endpoint.ipc_cert == tmp_path / "ipc_cert.pem"

    env = {"DD_CMD_PORT": "7001", "DD_AUTH_TOKEN_FILE_PATH": str(tmp_path / "t" / "token")}
    endpoint = resolve_endpoint(resolve_locations(config, None), environ=env)
    assert endpoint.port == 7001
    assert endpoint.auth_token == tmp_path / "t" / "token"
    assert endpoint.ipc_cert == tmp_path / "t" / "ipc_cert.pem"

    # --state-dir wins over the file and the environment.
    endpoint = resolve_endpoint(resolve_locations(config, tmp_path / "s"), environ=env)
    assert endpoint.auth_token == tmp_path / "s" / "auth_token"
    assert endpoint.ipc_cert == tmp_path / "s" / "ipc_cert.pem"


def test_embedded_endpoint_defaults(tmp_path: Path) -> None:
    endpoint = resolve_endpoint(resolve_locations(None, tmp_path), environ={})
    assert endpoint.address == "localhost:5001"
    assert endpoint.auth_token == tmp_path / "auth_token"


@pytest.mark.parametrize(
    ("content", "message"),
    [("cmd_port: [1\n", "not valid YAML"), ("- a\n", "expected a mapping"), ("cmd_port: x\n", "'cmd_port'")],
)
def test_unusable_config_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "datadog.yaml"
    config.write_text(content, encoding="utf-8")
    with pytest.raises(LocationError, match=message):
        resolve_endpoint(resolve_locations(config, None), environ={})


@pytest.mark.parametrize(
    ("value", "text"),
    [("debug", "debug"), (5001, "5001"), (5001.0, "5001"), (True, "true"), (None, "null"), (["a"], '["a"]')],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


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
    assert f"agent not running at 127.0.0.1:{port}" in err.getvalue()
    assert out.getvalue() == ""


def test_client_commands_stay_light() -> None:
    code = (
        "import sys, core_agent.main\n"
        "assert 'grpc' not in sys.modules, 'main imports grpc'\n"
        "import core_agent.client\n"
        "heavy = ('comp', 'cryptography', 'pydantic', 'dependency_injector')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
