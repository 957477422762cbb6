"""Wiring of core-agent's root container: real components, one provider overridden."""

from __future__ import annotations

from pathlib import Path

import pytest
from dependency_injector import providers

from comp.core.ipc.impl import Provides as IpcProvides
from comp.core.ipc.mock import MockIpc, new_mock
from comp.core.settings.impl.service import SERVICE_NAME as SETTINGS_SERVICE
from core_agent.container import build_root_container, new_root_container
from core_agent.locations import resolve_locations
from pkg.ipc import secure_channel
from pkg.proto.gen.configstream.settings.v1 import settings_pb2, settings_pb2_grpc


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "datadog.yaml"
    path.write_text(
        "cmd_host: 127.0.0.1\ncmd_port: 0\nhostname: wired\ntelemetry:\n  enabled: false\n", encoding="utf-8"
    )
    return path


async def test_root_container_serves_every_contributed_service(config_file: Path) -> None:
    container = new_root_container(resolve_locations(config_file, None))
    ipc: MockIpc = new_mock()
    container.ipc.provides.override(providers.Object(IpcProvides(comp=ipc)))
    try:
        parts = build_root_container(container)
        assert parts.ipc is ipc
        assert container.grpc_server.component() is parts.server
        service_names = {n for service in container.grpc_services() for n in service.names}
        assert {
            "datadog.remoteagent.v1.RemoteAgent",
            "datadog.api.v1.AgentSecure",
            SETTINGS_SERVICE,
        } <= service_names

        await parts.lifecycle.start()
        try:
            async with secure_channel(parts.server.address, ipc.client_credentials()) as channel:
                stub = settings_pb2_grpc.SettingsStub(channel)
                status = await stub.Status(
                    settings_pb2.StatusRequest(), metadata=ipc.auth_metadata(), timeout=5
                )
                got = await stub.GetSetting(
                    settings_pb2.GetSettingRequest(key="hostname"), metadata=ipc.auth_metadata(), timeout=5
                )
        finally:
            await parts.lifecycle.stop()
    finally:
        container.ipc.provides.reset_override()
        container.reset_singletons()
    # The settings service sees the port the server actually bound.
    assert status.listen_address == parts.server.address
    assert status.health == "SERVING"
    assert status.config_file == str(config_file)
    assert got.setting.value.string_value == "wired"


CORE_AGENT_HOOKS = [
    "log",
    "ipc",
    "telemetry",
    "remote agent registry",
    "remote agent metrics",
    "config stream",
    "config stream server",
    "fleet",
    "settings",
    "recent logs",
    "grpc server",
]


def test_every_component_is_built_and_its_hooks_run_in_this_order(tmp_path: Path) -> None:
    config = tmp_path / "datadog.yaml"
    # With fleet endpoints, so that every component has its hook (nothing is dialed before start).
    config.write_text(
        "cmd_host: 127.0.0.1\ncmd_port: 0\nremote_config:\n  etcd:\n    endpoints: [127.0.0.1:1]\n",
        encoding="utf-8",
    )
    parts = build_root_container(new_root_container(resolve_locations(config, None)))
    assert parts.lifecycle.hook_names == CORE_AGENT_HOOKS
    assert not (tmp_path / "auth_token").exists()  # constructors do no I/O: the ipc hook writes it


def test_the_status_is_assembled_from_contributions(config_file: Path) -> None:
    container = new_root_container(resolve_locations(config_file, None))
    container.ipc.provides.override(providers.Object(IpcProvides(comp=new_mock())))
    try:
        parts = build_root_container(container)
        status = parts.settings.status()
    finally:
        container.ipc.provides.reset_override()
        container.reset_singletons()
    # Before the start: the configured address, not serving; no fleet endpoints; telemetry off.
    assert (status.listen_address, status.health) == ("127.0.0.1:0", "NOT_SERVING")
    assert status.fleet is not None and status.fleet["enabled"] is False
    assert status.telemetry_url == ""


def test_secrets_go_to_the_state_dir_when_asked(config_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    container = new_root_container(resolve_locations(config_file, state))
    parts = build_root_container(container)
    assert parts.ipc.paths.auth_token == state / "auth_token"
    assert parts.ipc.paths.ipc_cert == state / "ipc_cert.pem"
    assert parts.config.get_source("auth_token_file_path") is not None
