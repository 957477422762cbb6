"""Every client finds the address and the secrets the core agent itself uses, for each way to run it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from comp.core.config.container import ConfigContainer
from comp.core.config.def_ import Params as ConfigParams
from config_stream_client.options import parse_options, resolve_target
from core_agent.container import new_root_container
from core_agent.locations import EMBEDDED_CONFIG, resolve_locations
from pkg.ipc import format_address, locate_core_agent
from sample_remote_agent.container import consumer_params
from sample_remote_agent.options import Options as RemoteOptions

# (config file content or None for no -c, --state-dir given, environment)
CASES = {
    "embedded": (None, False, {"DD_AUTH_TOKEN_FILE_PATH": "{tmp}/ignored"}),
    "embedded, address from env": (None, False, {"DD_CMD_PORT": "6301", "DD_CMD_HOST": "::1"}),
    "embedded with state dir": (None, True, {"DD_IPC_CERT_FILE_PATH": "{tmp}/ignored.pem"}),
    "file": ("cmd_port: 6302\nlog_level: info\n", False, {}),
    "file, empty env": ("cmd_port: 6307\n", False, {"DD_CMD_PORT": "", "DD_AUTH_TOKEN_FILE_PATH": ""}),
    "file naming paths": (
        "cmd_port: 6303\nauth_token_file_path: {tmp}/file/token\nipc_cert_file_path: {tmp}/file/c.pem\n",
        False,
        {},
    ),
    "file, env wins": (
        "cmd_host: localhost\ncmd_port: 6304\nauth_token_file_path: {tmp}/file/token\n",
        False,
        {"DD_CMD_PORT": "6305", "DD_AUTH_TOKEN_FILE_PATH": "{tmp}/env/token", "DD_CMD_HOST": ""},
    ),
    "file, state dir wins": (
        "auth_token_file_path: {tmp}/file/token\n",
        True,
        {"DD_IPC_CERT_FILE_PATH": "{tmp}/env/c.pem", "DD_CMD_PORT": "6306"},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_clients_find_what_the_agent_uses(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content, with_state_dir, env = CASES[case]
    for name in [n for n in os.environ if n.startswith("DD_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    config = None
    if content is not None:
        config = tmp_path / "datadog.yaml"
        config.write_text(content.format(tmp=tmp_path), encoding="utf-8")
    state_dir = tmp_path / "state" if with_state_dir else None

    container = new_root_container(resolve_locations(config, state_dir))
    try:
        agent_config, agent_ipc = container.config.component(), container.ipc.component()
        lifecycle = container.lifecycle()
        assert lifecycle.hook_names == ["ipc"]
        asyncio.run(lifecycle.start())  # the IPC component's start writes the files
    finally:
        container.reset_singletons()
    expected = (
        format_address(agent_config.get_string("cmd_host"), agent_config.get_int("cmd_port")),
        agent_ipc.paths.auth_token,
        agent_ipc.paths.ipc_cert,
    )
    assert expected[1].is_file() and expected[2].is_file()

    cli = locate_core_agent(config, state_dir, os.environ, embedded_config=EMBEDDED_CONFIG)
    assert (cli.address, cli.auth_token, cli.ipc_cert) == expected

    remote_options = RemoteOptions(config_file=config, state_dir=state_dir)
    remote_config = ConfigContainer(params=ConfigParams(config_file=config, environ=os.environ)).component()
    remote = consumer_params(remote_options, remote_config, os.environ)
    assert (remote.ipc_address, remote.auth_token_file, remote.cert_file) == expected

    if state_dir is None:  # config-stream-client has no --state-dir
        target = resolve_target(parse_options(["-c", str(config)] if config else []))
        assert (target.address, target.auth_token_file, target.cert_file) == expected
