"""Finding the core agent from a client: address, auth token and certificate, with their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkg.config.limits import CONFIG_FILE_MAX_BYTES
from pkg.ipc import (
    DEFAULT_ADDRESS,
    DEFAULT_MAX_MESSAGE_BYTES,
    AgentLocation,
    IpcError,
    LocationError,
    default_state_dir,
    format_address,
    locate_core_agent,
    locate_with_settings,
    secrets_state_dir,
)


def _config(tmp_path: Path, text: str, name: str = "datadog.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "core-agent"
    assert default_state_dir({"XDG_STATE_HOME": " "}) == tmp_path / "home" / ".local" / "state" / "core-agent"
    assert default_state_dir({}) == tmp_path / "home" / ".local" / "state" / "core-agent"


def test_secrets_state_dir_is_the_given_one_else_the_default_only_without_a_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path)}
    assert secrets_state_dir(None, None, env) == tmp_path / "core-agent"
    assert secrets_state_dir(tmp_path / "datadog.yaml", None, env) is None
    assert secrets_state_dir(tmp_path / "datadog.yaml", tmp_path / "s", env) == tmp_path / "s"
    monkeypatch.chdir(tmp_path)
    assert secrets_state_dir(None, Path("rel"), env) == tmp_path / "rel"


def test_without_config_file_the_secrets_are_in_the_state_directory(tmp_path: Path) -> None:
    env = {"XDG_STATE_HOME": str(tmp_path), "DD_AUTH_TOKEN_FILE_PATH": "/ignored", "DD_CMD_PORT": "6001"}
    found = locate_core_agent(None, None, env)
    assert found == AgentLocation(
        "localhost:6001",
        tmp_path / "core-agent" / "auth_token",
        tmp_path / "core-agent" / "ipc_cert.pem",
        None,
    )
    assert locate_core_agent(None, None, {"XDG_STATE_HOME": str(tmp_path)}).address == DEFAULT_ADDRESS


def test_with_config_file_the_secrets_are_beside_it_and_the_address_comes_from_it(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "cmd_host: 127.0.0.1\ncmd_port: 6001\nlog_level: info\n")
    found = locate_core_agent(cfg, None, {})
    assert found == AgentLocation("127.0.0.1:6001", tmp_path / "auth_token", tmp_path / "ipc_cert.pem", cfg)


def test_environment_wins_over_the_file_and_flags_win_over_both(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"cmd_port: 6001\nauth_token_file_path: {tmp_path}/file/token\n")
    found = locate_core_agent(cfg, None, {})
    assert (found.address, found.auth_token) == ("localhost:6001", tmp_path / "file" / "token")
    assert found.ipc_cert == tmp_path / "file" / "ipc_cert.pem"  # beside the token in use

    env = {"DD_CMD_PORT": "7001", "DD_CMD_HOST": "127.0.0.2", "DD_IPC_CERT_FILE_PATH": f"{tmp_path}/env.pem"}
    found = locate_core_agent(cfg, None, env)
    assert (found.address, found.auth_token, found.ipc_cert) == (
        "127.0.0.2:7001",
        tmp_path / "file" / "token",
        tmp_path / "env.pem",
    )

    flags = {"address": "localhost:1", "auth_token_file": tmp_path / "f" / "t", "cert_file": tmp_path / "c"}
    found = locate_core_agent(cfg, None, env, **flags)  # type: ignore[arg-type]
    assert (found.address, found.auth_token, found.ipc_cert) == (
        "localhost:1",
        tmp_path / "f" / "t",
        tmp_path / "c",
    )


def test_an_explicit_token_moves_the_default_certificate_with_it(tmp_path: Path) -> None:
    found = locate_core_agent(_config(tmp_path, ""), None, {}, auth_token_file=tmp_path / "x" / "tok")
    assert found.ipc_cert == tmp_path / "x" / "ipc_cert.pem"


def test_state_dir_wins_over_the_file_and_the_environment_but_not_over_flags(tmp_path: Path) -> None:
    cfg = _config(tmp_path, f"auth_token_file_path: {tmp_path}/file/token\ncmd_port: 6001\n")
    env = {"DD_AUTH_TOKEN_FILE_PATH": "/env/token", "DD_IPC_CERT_FILE_PATH": "/env/cert.pem"}
    found = locate_core_agent(cfg, tmp_path / "s", env)
    assert (found.address, found.auth_token, found.ipc_cert) == (
        "localhost:6001",
        tmp_path / "s" / "auth_token",
        tmp_path / "s" / "ipc_cert.pem",
    )
    found = locate_core_agent(cfg, tmp_path / "s", env, cert_file=tmp_path / "c.pem")
    assert (found.auth_token, found.ipc_cert) == (tmp_path / "s" / "auth_token", tmp_path / "c.pem")


def test_embedded_config_gives_the_address_only_when_there_is_no_config_file(tmp_path: Path) -> None:
    embedded = _config(tmp_path, f"cmd_port: 6100\nauth_token_file_path: {tmp_path}/never\n", "embedded.yaml")
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    found = locate_core_agent(None, None, env, embedded_config=embedded)
    assert found.address == "localhost:6100"
    assert found.auth_token == tmp_path / "xdg" / "core-agent" / "auth_token"
    assert found.config_file == embedded
    own = _config(tmp_path, "cmd_port: 6200\n")
    assert locate_core_agent(own, None, env, embedded_config=embedded).address == "localhost:6200"


def test_empty_variables_and_null_values_count_as_unset(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "cmd_host: ~\ncmd_port: 6001\nauth_token_file_path:\n")
    found = locate_core_agent(
        cfg, None, {"DD_CMD_PORT": "", "DD_CMD_HOST": "  ", "DD_IPC_CERT_FILE_PATH": ""}
    )
    assert found == AgentLocation("localhost:6001", tmp_path / "auth_token", tmp_path / "ipc_cert.pem", cfg)


def test_keys_are_case_insensitive_and_values_are_trimmed(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "CMD_Host: ' 127.0.0.1 '\nCMD_PORT: '6001'\n")
    assert locate_core_agent(cfg, None, {"DD_CMD_PORT": " 7001 "}).address == "127.0.0.1:7001"


@pytest.mark.parametrize("host", ["::1", "fe80::1"])
def test_ipv6_hosts_are_bracketed(tmp_path: Path, host: str) -> None:
    assert locate_core_agent(None, tmp_path, {"DD_CMD_HOST": host}).address == f"[{host}]:5001"
    assert format_address(f"[{host}]", 1) == f"[{host}]:1"


@pytest.mark.parametrize(
    ("value", "port"),
    [("6001", 6001), ("6001.0", 6001), ("6001.5", None), ("65536", None), ("0", None), ("x", None)],
)
def test_port_from_the_environment(tmp_path: Path, value: str, port: int | None) -> None:
    if port is not None:
        assert locate_core_agent(None, tmp_path, {"DD_CMD_PORT": value}).address == f"localhost:{port}"
        return
    with pytest.raises(LocationError, match="environment variable DD_CMD_PORT: invalid value for 'cmd_port'"):
        locate_core_agent(None, tmp_path, {"DD_CMD_PORT": value})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("cmd_port: [1\n", r"is not valid YAML: .* \(line 2\)$"),
        ("- a\n- b\n", "must hold a mapping of settings, not a list"),
        ("just text\n", "must hold a mapping of settings, not the value 'just text'"),
        ("cmd_port: x\n", "invalid value for 'cmd_port': 'x', expected a port number 1-65535"),
        ("cmd_port: true\n", "invalid value for 'cmd_port': True"),
        ("cmd_host: [a, b]\n", "invalid value for 'cmd_host': \\['a', 'b'\\], expected text"),
        ("auth_token_file_path: {a: 1}\n", "invalid value for 'auth_token_file_path'"),
    ],
)
def test_unusable_config_file_is_a_clear_error_naming_it(tmp_path: Path, content: str, message: str) -> None:
    cfg = _config(tmp_path, content)
    with pytest.raises(LocationError, match=message) as info:
        locate_core_agent(cfg, None, {})
    assert f"config file {cfg}" in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, IpcError)


def test_integral_float_port_in_the_file_is_accepted(tmp_path: Path) -> None:
    assert locate_core_agent(_config(tmp_path, "cmd_port: 6001.0\n"), None, {}).address == "localhost:6001"


def test_message_size_from_the_environment_else_the_file_else_the_declared_default(tmp_path: Path) -> None:
    nested = _config(tmp_path, "Agent_IPC:\n  grpc_max_message_size: 16777216\n")
    assert locate_core_agent(nested, None, {}).max_message_bytes == 16 * 1024 * 1024
    dotted = _config(tmp_path, "agent_ipc.grpc_max_message_size: '8388608'\n", "dotted.yaml")
    assert locate_core_agent(dotted, None, {}).max_message_bytes == 8 * 1024 * 1024
    env = {"DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE": " 5242880 "}
    assert locate_core_agent(nested, None, env).max_message_bytes == 5 * 1024 * 1024
    plain = _config(tmp_path, "cmd_port: 6001\nagent_ipc: {}\n", "plain.yaml")
    assert (
        locate_core_agent(plain, None, {}).max_message_bytes == DEFAULT_MAX_MESSAGE_BYTES == 4 * 1024 * 1024
    )
    assert locate_with_settings(
        {"agent_ipc.grpc_max_message_size": 1 << 24}, None, None, {}
    ).max_message_bytes == (1 << 24)


@pytest.mark.parametrize("value", ["x", "1024", "2147483648", "65536.5", "true"])
def test_an_unusable_message_size_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(
        LocationError,
        match=r"environment variable DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE: invalid value for "
        r"'agent_ipc.grpc_max_message_size': .*, expected an integer between 65536 and 2147483647",
    ):
        locate_core_agent(None, None, {"DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE": value})


def test_missing_or_undecodable_config_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(LocationError, match=f"cannot read config file {missing}: No such file"):
        locate_core_agent(missing, None, {})
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"hostname: caf\xe9\n")
    with pytest.raises(LocationError, match=f"config file {latin} is not UTF-8 text"):
        locate_core_agent(latin, None, {})


def test_settings_of_a_loaded_configuration(tmp_path: Path) -> None:
    cfg = tmp_path / "datadog.yaml"
    settings = {"cmd_host": "::1", "cmd_port": 6001, "auth_token_file_path": "", "ipc_cert_file_path": None}
    found = locate_with_settings(settings, cfg, None, {})
    assert found == AgentLocation("[::1]:6001", tmp_path / "auth_token", tmp_path / "ipc_cert.pem", cfg)
    env = {"XDG_STATE_HOME": str(tmp_path)}
    found = locate_with_settings({"auth_token_file_path": "/ignored"}, None, None, env, address="h:1")
    assert (found.address, found.auth_token) == ("h:1", tmp_path / "core-agent" / "auth_token")
    with pytest.raises(
        LocationError, match=f"config file {cfg} or DD_\\* variables: invalid value for 'cmd_port': 0"
    ):
        locate_with_settings({"cmd_port": 0}, cfg, None, {})


def test_an_alias_bomb_in_the_config_file_is_refused_without_expanding(tmp_path: Path) -> None:
    lines = ["a0: &a0 [" + ", ".join(["x"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    config = tmp_path / "datadog.yaml"
    config.write_text("cmd_port: 5999\n" + "\n".join(lines) + "\n")
    with pytest.raises(LocationError, match="alias"):
        locate_core_agent(config, None, {})


def test_a_config_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "datadog.yaml"
    config.write_text("cmd_port: 5999\npadding: " + "p" * CONFIG_FILE_MAX_BYTES + "\n")
    with pytest.raises(LocationError, match="larger than"):
        locate_core_agent(config, None, {})
