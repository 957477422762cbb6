"""The IPC component: where it puts the secrets, that it reloads them, and that problems abort startup."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from comp.core.config import mock as config_mock
from comp.core.ipc.container import IpcContainer
from comp.core.ipc.def_ import AUTH_METADATA_KEY, Component, IpcPaths, Params
from comp.core.ipc.impl import Requires, new_component
from comp.core.ipc.impl.secrets import IpcSecrets
from comp.core.ipc.mock import MOCK_TOKEN, new_mock
from pkg.config.model import LayeredConfig
from pkg.ipc import InsecureFileModeError, IpcError, load_client_material, secure_channel
from pkg.util.lifecycle import Lifecycle


def _config(settings: dict[str, Any] | None = None, config_file: Path | None = None) -> LayeredConfig:
    return config_mock.new_mock(settings, config_file=config_file)


def _build(config: LayeredConfig, state_dir: Path | None = None) -> Component:
    """The component with its files created or loaded, as its start hook does."""
    ipc = new_component(Requires(Lifecycle(), config, Params(state_dir=state_dir))).comp
    assert isinstance(ipc, IpcSecrets)
    ipc.load()
    return ipc


def test_without_config_file_the_secrets_go_to_the_state_directory(tmp_path: Path) -> None:
    ipc = _build(_config(), state_dir=tmp_path / "state")
    assert isinstance(ipc, Component)
    assert ipc.paths == IpcPaths(tmp_path / "state" / "auth_token", tmp_path / "state" / "ipc_cert.pem")
    assert ipc.paths.auth_token.read_text() == ipc.token
    assert ipc.paths.ipc_cert.read_bytes().startswith(ipc.cert_pem)
    for path in ipc.paths.auth_token, ipc.paths.ipc_cert:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_secrets_go_beside_the_config_file_or_where_the_config_says(tmp_path: Path) -> None:
    beside = _build(_config(config_file=tmp_path / "datadog.yaml"), state_dir=tmp_path / "state")
    assert beside.paths == IpcPaths(tmp_path / "auth_token", tmp_path / "ipc_cert.pem")
    explicit = _build(
        _config(
            {
                "auth_token_file_path": str(tmp_path / "a" / "tok"),
                "ipc_cert_file_path": str(tmp_path / "c.pem"),
            },
            config_file=tmp_path / "datadog.yaml",
        )
    )
    assert explicit.paths == IpcPaths(tmp_path / "a" / "tok", tmp_path / "c.pem")
    assert explicit.token != beside.token


def test_a_second_start_loads_the_same_secrets(tmp_path: Path) -> None:
    first = _build(_config(), state_dir=tmp_path)
    second = _build(_config(), state_dir=tmp_path)
    assert (second.token, second.cert_pem) == (first.token, first.cert_pem)


def test_an_insecure_existing_token_aborts_the_start(tmp_path: Path) -> None:
    first = _build(_config(), state_dir=tmp_path)
    first.paths.auth_token.chmod(0o644)
    with pytest.raises(InsecureFileModeError, match="chmod 600"):
        _build(_config(), state_dir=tmp_path)


def test_nowhere_to_put_the_secrets_aborts_construction() -> None:
    with pytest.raises(IpcError, match="auth_token_file_path"):
        _build(_config())


def test_token_matches_and_auth_metadata(tmp_path: Path) -> None:
    ipc = _build(_config(), state_dir=tmp_path)
    assert ipc.token_matches(ipc.token)
    assert not ipc.token_matches(ipc.token[:-1] + ("0" if ipc.token[-1] != "0" else "1"))
    assert not ipc.token_matches("")
    assert ipc.auth_metadata() == ((AUTH_METADATA_KEY, f"Bearer {ipc.token}"),)


async def _health_over_mtls(server_side: Component, client_creds: grpc.ChannelCredentials) -> int:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", server_side.server_credentials())
    await server.start()
    try:
        async with secure_channel(f"127.0.0.1:{port}", client_creds) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=10
            )
            return int(reply.status)
    finally:
        await server.stop(None)


async def test_component_credentials_work_together_and_refuse_another_host(tmp_path: Path) -> None:
    ipc = _build(_config(), state_dir=tmp_path / "one")
    other = _build(_config(), state_dir=tmp_path / "two")
    assert await _health_over_mtls(ipc, ipc.client_credentials()) == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await _health_over_mtls(ipc, other.client_credentials())
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mock_has_a_fixed_token_and_working_credentials(tmp_path: Path) -> None:
    mock = new_mock()
    assert isinstance(mock, Component)
    assert mock.token == MOCK_TOKEN
    assert mock.token_matches(MOCK_TOKEN) and not mock.token_matches("nope")
    assert not mock.paths.auth_token.exists()
    assert await _health_over_mtls(mock, mock.client_credentials()) == health_pb2.HealthCheckResponse.SERVING


def test_mock_with_a_directory_writes_loadable_files(tmp_path: Path) -> None:
    mock = new_mock(tmp_path, token="f" * 64)
    material = load_client_material(mock.paths.auth_token, mock.paths.ipc_cert)
    assert (material.token, material.cert_pem, material.key_pem) == ("f" * 64, mock.cert_pem, mock.key_pem)
    with pytest.raises(FileExistsError):
        new_mock(tmp_path)


async def test_container_builds_one_component_that_writes_nothing_before_its_start(tmp_path: Path) -> None:
    lifecycle = Lifecycle()
    container = IpcContainer(lifecycle=lifecycle, config=_config(), params=Params(state_dir=tmp_path))
    ipc = container.component()
    assert ipc.paths.auth_token == tmp_path / "auth_token"
    assert container.component() is ipc
    assert not ipc.paths.auth_token.exists()
    with pytest.raises(RuntimeError, match="not loaded yet"):
        _ = ipc.token
    assert lifecycle.hook_names == ["ipc"]
    await lifecycle.start()
    try:
        assert isinstance(ipc, Component)
        assert ipc.paths.auth_token.read_text() == ipc.token
    finally:
        await lifecycle.stop()
