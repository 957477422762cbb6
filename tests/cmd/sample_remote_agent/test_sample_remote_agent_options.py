"""Flags of sample-remote-agent and where its core agent and IPC files are resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from comp.core.config.container import ConfigContainer
from comp.core.config.def_ import Params as ConfigParams
from pkg.ipc import LocationError
from sample_remote_agent.container import consumer_params, local_config_params
from sample_remote_agent.options import DEFAULT_NAME, DEFAULT_WAIT_TIMEOUT, Options, locate, parse_options


def _config(config_file: Path | None = None, environ: dict[str, str] | None = None) -> object:
    container = ConfigContainer(params=ConfigParams(config_file=config_file, environ=environ or {}))
    return container.component()


def test_defaults() -> None:
    options = parse_options([])
    assert options == Options(name=DEFAULT_NAME, wait_timeout=DEFAULT_WAIT_TIMEOUT)


def test_every_flag() -> None:
    options = parse_options(
        [
            "-c", "/etc/dd/datadog.yaml", "--state-dir", "/s", "--ipc-address", "127.0.0.1:6000",
            "--auth-token-file", "/t", "--cert-file", "/c", "--name", "probe", "--wait-timeout", "2.5",
            "--telemetry-port", "0",
        ]
    )  # fmt: skip
    assert options == Options(
        config_file=Path("/etc/dd/datadog.yaml"),
        state_dir=Path("/s"),
        ipc_address="127.0.0.1:6000",
        auth_token_file=Path("/t"),
        cert_file=Path("/c"),
        name="probe",
        wait_timeout=2.5,
        telemetry_port=0,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--wait-timeout", "0"], "positive number of seconds"),
        (["--wait-timeout", "soon"], "expected a number of seconds"),
        (["--telemetry-port", "70000"], "port number 0-65535"),
        (["--name", " "], "--name must not be blank"),
        (["--all-keys", "--key", "hostname"], "--all-keys streams every key: it cannot be combined"),
        (["--key", ""], "invalid config stream filter --key[0]: '' is empty"),
        (["--prefix", "a..b"], "invalid config stream filter --prefix[0]: 'a..b'"),
    ],
)
def test_bad_flags_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse_options(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def _address(options: Options, config: object) -> str:
    return locate(options, config, {}).address  # type: ignore[arg-type]


def _files(options: Options, config: object, env: dict[str, str]) -> tuple[Path, Path]:
    found = locate(options, config, env)  # type: ignore[arg-type]
    return found.auth_token, found.ipc_cert


def test_address_from_the_flag_or_the_local_config(tmp_path: Path) -> None:
    cfg = tmp_path / "datadog.yaml"
    cfg.write_text("cmd_host: 127.0.0.1\ncmd_port: 6123\n")
    assert _address(Options(), _config()) == "localhost:5001"
    assert _address(Options(config_file=cfg), _config(cfg)) == "127.0.0.1:6123"
    assert _address(Options(), _config(environ={"DD_CMD_PORT": "7001"})) == "localhost:7001"
    assert _address(Options(ipc_address="h:1", config_file=cfg), _config(cfg)) == "h:1"
    assert _address(Options(), _config(environ={"DD_CMD_HOST": "::1"})) == "[::1]:5001"


def test_a_port_the_client_cannot_dial_is_a_clear_error() -> None:
    with pytest.raises(LocationError, match="'cmd_port': 0, expected a port number 1-65535"):
        _address(Options(), _config(environ={"DD_CMD_PORT": "0"}))


def test_ipc_paths_like_the_core_agent(tmp_path: Path) -> None:
    cfg = tmp_path / "etc" / "datadog.yaml"
    cfg.parent.mkdir()
    cfg.write_text("log_level: info\n")
    env = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    state = tmp_path / "xdg" / "core-agent"
    # No -c: the core agent's default state directory, whatever DD_AUTH_TOKEN_FILE_PATH says.
    ignored = _config(environ={"DD_AUTH_TOKEN_FILE_PATH": str(tmp_path / "ignored")})
    assert _files(Options(), ignored, env) == (state / "auth_token", state / "ipc_cert.pem")
    # -c FILE: beside the file.
    assert _files(Options(config_file=cfg), _config(cfg), env) == (
        cfg.parent / "auth_token",
        cfg.parent / "ipc_cert.pem",
    )
    # -c FILE naming the paths.
    named = tmp_path / "named.yaml"
    named.write_text(f"auth_token_file_path: {tmp_path}/tok\nipc_cert_file_path: {tmp_path}/cert.pem\n")
    assert _files(Options(config_file=named), _config(named), env) == (
        tmp_path / "tok",
        tmp_path / "cert.pem",
    )
    # --state-dir wins over the file; explicit files win over everything.
    with_state = Options(config_file=named, state_dir=tmp_path / "s")
    assert _files(with_state, _config(named), env) == (
        tmp_path / "s" / "auth_token",
        tmp_path / "s" / "ipc_cert.pem",
    )
    explicit = Options(auth_token_file=tmp_path / "t", cert_file=tmp_path / "c", state_dir=tmp_path / "s")
    assert _files(explicit, _config(), env) == (tmp_path / "t", tmp_path / "c")


def test_local_config_disables_telemetry_unless_a_port_is_given() -> None:
    assert local_config_params(Options(), {}).overrides == {"telemetry.enabled": False}
    assert local_config_params(Options(telemetry_port=9100), {}).overrides == {
        "telemetry.enabled": True,
        "telemetry.port": 9100,
    }


def test_consumer_params(tmp_path: Path) -> None:
    options = Options(state_dir=tmp_path, name="probe", wait_timeout=3.0)
    params = consumer_params(options, _config(environ={"DD_CMD_PORT": "6002"}), {})  # type: ignore[arg-type]
    assert params.ipc_address == "localhost:6002"
    assert (params.auth_token_file, params.cert_file) == (tmp_path / "auth_token", tmp_path / "ipc_cert.pem")
    assert (params.name, params.display_name, params.flavor) == ("probe", "probe", "sample-remote-agent")
    assert params.ready_timeout == 3.0


def test_filter_flags() -> None:
    options = parse_options(["--key", "hostname", "--key", "api_key", "--prefix", "logs_config"])
    assert (options.keys, options.prefixes, options.all_keys) == (
        ("hostname", "api_key"),
        ("logs_config",),
        False,
    )
    assert parse_options(["--all-keys"]).all_keys


def test_the_consumer_streams_only_the_keys_the_agent_reads(tmp_path: Path) -> None:
    config = _config()
    params = consumer_params(Options(state_dir=tmp_path), config, {})  # type: ignore[arg-type]
    assert (params.keys, params.prefixes) == (("log_level",), ("sample_remote_agent",))
    more = Options(state_dir=tmp_path, keys=("hostname",), prefixes=("logs_config",))
    params = consumer_params(more, config, {})  # type: ignore[arg-type]
    assert (params.keys, params.prefixes) == (
        ("log_level", "hostname"),
        ("sample_remote_agent", "logs_config"),
    )
    params = consumer_params(Options(state_dir=tmp_path, all_keys=True), config, {})  # type: ignore[arg-type]
    assert (params.keys, params.prefixes) == ((), ())
