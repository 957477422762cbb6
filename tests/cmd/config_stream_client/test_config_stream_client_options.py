"""Flags of the test client and how its target is resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_stream_client.options import (
    DEFAULT_IPC_ADDRESS,
    Options,
    OptionsError,
    parse_options,
    resolve_target,
)


def test_defaults() -> None:
    options = parse_options([])
    assert options == Options(
        ipc_address=None,
        auth_token_file=None,
        cert_file=None,
        config_file=None,
        name="test-client",
        duration_seconds=30.0,
        max_samples=5,
    )


def test_flags() -> None:
    argv = ["--ipc-address", "127.0.0.1:6000", "--auth-token-file", "/t", "--cert-file", "/c", "--name", "x"]
    argv += ["--duration", "1m30s", "--max-samples", "0", "-c", "/etc/datadog.yaml"]
    options = parse_options(argv)
    assert options.ipc_address == "127.0.0.1:6000"
    assert options.auth_token_file == Path("/t")
    assert options.cert_file == Path("/c")
    assert options.config_file == Path("/etc/datadog.yaml")
    assert options.name == "x"
    assert options.duration_seconds == 90.0
    assert options.max_samples == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--duration", "soon"],
        ["--duration", "0s"],
        ["--max-samples", "-1"],
        ["--max-samples", "x"],
        ["--name", " "],
        ["--key", ""],
        ["--prefix", "a..b"],
        ["--max-batch-updates", "-1"],
    ],
)
def test_bad_flags_exit_with_usage_status(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse_options(argv)
    assert exc.value.code == 2
    assert "config-stream-client" in capsys.readouterr().err


def test_without_config_file_the_secrets_are_in_the_state_directory(tmp_path: Path) -> None:
    target = resolve_target(parse_options([]), {"XDG_STATE_HOME": str(tmp_path)})
    assert target.address == DEFAULT_IPC_ADDRESS
    assert target.auth_token_file == tmp_path / "core-agent" / "auth_token"
    assert target.cert_file == tmp_path / "core-agent" / "ipc_cert.pem"


def test_with_config_file_the_secrets_are_beside_it_and_the_port_comes_from_it(tmp_path: Path) -> None:
    cfg = tmp_path / "datadog.yaml"
    cfg.write_text("cmd_port: 6123\nlog_level: info\n")
    target = resolve_target(parse_options(["-c", str(cfg)]), {})
    assert target.address == "localhost:6123"
    assert target.auth_token_file == tmp_path / "auth_token"
    assert target.cert_file == tmp_path / "ipc_cert.pem"


def test_the_message_size_comes_from_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "datadog.yaml"
    cfg.write_text("agent_ipc:\n  grpc_max_message_size: 16777216\n")
    assert resolve_target(parse_options(["-c", str(cfg)]), {}).max_message_bytes == 16 * 1024 * 1024
    default = resolve_target(parse_options([]), {"XDG_STATE_HOME": str(tmp_path)})
    assert default.max_message_bytes == 4 * 1024 * 1024


def test_config_file_paths_then_environment_then_flags(tmp_path: Path) -> None:
    cfg = tmp_path / "datadog.yaml"
    cfg.write_text(f"cmd_host: 127.0.0.1\ncmd_port: 6123\nauth_token_file_path: {tmp_path}/secrets/token\n")
    target = resolve_target(parse_options(["-c", str(cfg)]), {})
    assert target.address == "127.0.0.1:6123"
    assert target.auth_token_file == tmp_path / "secrets" / "token"
    assert target.cert_file == tmp_path / "secrets" / "ipc_cert.pem"

    env = {"DD_CMD_PORT": "7000", "DD_IPC_CERT_FILE_PATH": "/env/cert.pem"}
    target = resolve_target(parse_options(["-c", str(cfg)]), env)
    assert target.address == "127.0.0.1:7000"
    assert target.cert_file == Path("/env/cert.pem")

    flags = [
        "-c",
        str(cfg),
        "--ipc-address",
        "localhost:1",
        "--auth-token-file",
        "/f/t",
        "--cert-file",
        "/f/c",
    ]
    target = resolve_target(parse_options(flags), env)
    assert (target.address, target.auth_token_file, target.cert_file) == (
        "localhost:1",
        Path("/f/t"),
        Path("/f/c"),
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [("a: [", "not valid YAML"), ("- a\n- b\n", "must hold a mapping"), (None, "cannot read config file")],
)
def test_unusable_config_file_is_a_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    cfg = tmp_path / "datadog.yaml"
    if content is not None:
        cfg.write_text(content)
    with pytest.raises(OptionsError, match=message):
        resolve_target(parse_options(["-c", str(cfg)]), {})


def test_extension_flags() -> None:
    options = parse_options(
        ["--key", "log_level", "--prefix", "apm_config", "--max-batch-updates", "64", "--progress"]
    )
    assert (options.keys, options.prefixes, options.max_batch_updates, options.progress) == (
        ("log_level",),
        ("apm_config",),
        64,
        True,
    )
    assert options.filtered and not parse_options([]).filtered
