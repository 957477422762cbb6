"""The two servers under test: a real ``core-agent run`` process and the floor server.

Both listen on a free loopback port with the same certificate and token (created here with the
project's IPC helpers) and read the same generated ``datadog.yaml``.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.procs import Child, ChildError, ProcessGroup, free_port
from pkg.ipc import (
    client_credentials,
    create_or_load_auth_token,
    create_or_load_ipc_certificate,
    load_client_material,
    secure_channel,
)

__all__ = [
    "CORE",
    "FLOOR",
    "Secrets",
    "Server",
    "core_agent_command",
    "make_secrets",
    "metric_value",
    "new_config",
    "read_metrics",
    "start_server",
    "wait_serving",
    "write_config",
]

CORE = "core"
FLOOR = "floor"
BULK_PREFIX = "bench.bulk."
# Quick reconnects while waiting for a starting server (grpc's default first backoff is 1 s).
_PROBE_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 10),
    ("grpc.min_reconnect_backoff_ms", 10),
    ("grpc.max_reconnect_backoff_ms", 50),
]


@dataclass(frozen=True)
class Secrets:
    token_file: Path
    cert_file: Path

    def args(self) -> list[str]:
        return ["--token-file", str(self.token_file), "--cert-file", str(self.cert_file)]


def make_secrets(directory: Path) -> Secrets:
    """The auth token and the IPC certificate, created (mode 0600) in ``directory``."""
    secrets = Secrets(directory / "auth_token", directory / "ipc_cert.pem")
    create_or_load_auth_token(secrets.token_file)
    create_or_load_ipc_certificate(secrets.cert_file)
    return secrets


BULK_VALUE = "value-{i:05d}"
"""The text of bulk setting ``i`` (``str.format`` with ``i``)."""


def write_config(
    path: Path,
    *,
    port: int,
    telemetry_port: int,
    secrets: Secrets,
    bulk_settings: int = 0,
    bulk_value: str = BULK_VALUE,
    total_max_bytes: int | None = None,
) -> Path:
    """A ``datadog.yaml`` for one server: loopback port, the shared secrets, telemetry on a free port,
    sessions that outlive the benchmark, and ``bulk_settings`` extra string settings (``bulk_value``
    formatted with their index); ``total_max_bytes`` raises ``config_limits.total_max_bytes``."""
    config: dict[str, Any] = {
        "cmd_host": "127.0.0.1",
        "cmd_port": port,
        "auth_token_file_path": str(secrets.token_file),
        "ipc_cert_file_path": str(secrets.cert_file),
        "log_level": "info",
        "telemetry": {"enabled": True, "port": telemetry_port},
        # A filtered subscriber learns that a run's last update passed it by from a progress event:
        # every second, so that runs do not wait out the default ten.
        "remote_agent": {"registry": {"idle_timeout": "1h"}, "configstream": {"progress_interval": "1s"}},
    }
    if bulk_settings:
        bulk = {f"s{i:05d}": bulk_value.format(i=i) for i in range(bulk_settings)}
        config["bench"] = {"bulk": bulk}
    if total_max_bytes is not None:
        config["config_limits"] = {"total_max_bytes": total_max_bytes}
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    # The writer sets bench.* keys at runtime: declare them to the core (pkg/config/declarations.py).
    declarations = path.parent / "config_keys.d"
    declarations.mkdir(exist_ok=True)
    groups = {"open_groups": [{"prefix": "bench", "description": "benchmark settings"}]}
    (declarations / "bench.yaml").write_text(yaml.safe_dump(groups), encoding="utf-8")
    return path


def core_agent_command() -> list[str]:
    """``core-agent`` of this interpreter's environment (the installed console script)."""
    script = Path(sys.executable).parent / "core-agent"
    if not script.exists():
        raise ChildError(f"{script} not found: install the project (make venv)")
    return [str(script)]


@dataclass
class Server:
    """A running server under test."""

    kind: str
    child: Child
    address: str
    metrics_port: int | None
    ready_seconds: float
    config_file: Path

    @property
    def pid(self) -> int:
        return self.child.pid


async def wait_serving(address: str, secrets: Secrets, limit_s: float, child: Child | None = None) -> None:
    """Until the gRPC health service answers SERVING for the whole server (mTLS, no token)."""
    material = load_client_material(secrets.token_file, secrets.cert_file)
    credentials = client_credentials(material.cert_pem, material.key_pem)
    deadline = time.monotonic() + limit_s
    async with secure_channel(address, credentials, _PROBE_OPTIONS) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildError(f"{address}: not SERVING within {limit_s:.0f}s")
            if child is not None and not child.running:
                raise ChildError(f"{child.name} exited with {child.proc.returncode}:\n{child.log_tail()}")
            try:
                response = await stub.Check(
                    health_pb2.HealthCheckRequest(service=""),
                    timeout=min(remaining, 1.0),
                    wait_for_ready=True,
                )
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.005)
                continue
            if response.status == health_pb2.HealthCheckResponse.SERVING:
                return
            await asyncio.sleep(0.005)


async def start_server(
    kind: str, group: ProcessGroup, secrets: Secrets, config_file: Path, *, port: int, limit_s: float
) -> Server:
    """Start the core agent or the floor on ``port`` and wait until it serves."""
    started = time.monotonic()
    if kind == CORE:
        child = await group.spawn(
            CORE, [*core_agent_command(), "run", "-c", str(config_file)], json_lines=False
        )
        await wait_serving(f"127.0.0.1:{port}", secrets, limit_s, child)
        telemetry = yaml.safe_load(config_file.read_bytes())["telemetry"]["port"]  # noqa: ASYNC240 - tiny file
        return Server(kind, child, f"127.0.0.1:{port}", telemetry, time.monotonic() - started, config_file)
    args = ["--port", str(port), *secrets.args(), "--config-file", str(config_file)]
    child = await group.spawn_python(FLOOR, "bench.floor_server", args)
    ready = await child.receive(limit_s)
    return Server(kind, child, f"127.0.0.1:{ready['port']}", None, time.monotonic() - started, config_file)


def new_config(
    directory: Path, kind: str, secrets: Secrets, bulk_settings: int = 0, **options: Any
) -> tuple[Path, int]:
    """A config file for a server of ``kind`` on a fresh free port; returns it and the port.
    ``options``: more arguments of :func:`write_config`."""
    port = free_port()
    path = directory / f"{kind}-{port}" / "datadog.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_config(
        path, port=port, telemetry_port=free_port(), secrets=secrets, bulk_settings=bulk_settings, **options
    )
    return path, port


def _fetch(url: str, timeout: float) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body.decode()


async def read_metrics(port: int, limit_s: float = 5.0) -> str:
    """The Prometheus text of ``http://127.0.0.1:<port>/metrics``."""
    return await asyncio.to_thread(_fetch, f"http://127.0.0.1:{port}/metrics", limit_s)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)", re.MULTILINE)


def metric_value(text: str, pattern: str) -> tuple[str, float] | None:
    """The first sample whose name matches the regular expression ``pattern`` (labels summed)."""
    wanted = re.compile(pattern)
    found: dict[str, float] = {}
    for name, _labels, value in _SAMPLE.findall(text):
        if wanted.search(name):
            found[name] = found.get(name, 0.0) + float(value)
    if not found:
        return None
    name = sorted(found)[0]
    return name, found[name]
