"""Run ``core-agent`` as a real process for end-to-end tests.

Usage (the fixtures of ``conftest.py`` do the start and the teardown)::

    agent = AgentProcess(tmp_path, settings={"remote_agent.registry.idle_timeout": "2s"})
    agent.start()                      # returns once grpc health answers SERVING (or raises)
    async with agent.aio_channel() as channel:
        stub = RemoteAgentStub(channel)
        await stub.RegisterRemoteAgent(request, metadata=agent.auth_metadata())
    result = agent.run_cli("config", "get", "log_level")
    agent.stop()                       # SIGTERM, then SIGKILL after a timeout; returns the exit code

Every agent gets its own directory: ``datadog.yaml`` (``cmd_host: 127.0.0.1``, ``cmd_port`` a free
port, token and certificate paths inside the directory, telemetry on another free port or off) and
``agent.log`` (its stdout and stderr). Waiting is by polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from pkg.ipc import ClientMaterial, auth_metadata, channel_options, client_credentials, load_client_material
from pkg.ipc import secure_channel as ipc_secure_channel
from tests.support.polling import eventually_sync

__all__ = [
    "API_KEY",
    "CLI_TIMEOUT",
    "READY_TIMEOUT",
    "STOP_TIMEOUT",
    "AgentFactory",
    "AgentProcess",
    "AgentStartError",
    "core_agent_command",
    "free_port",
    "nest",
    "run_core_agent",
]

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 30.0
POLL_INTERVAL = 0.05
API_KEY = "e2e0api0key0aaaabbbbccccddddwxyz"
"""The ``api_key`` every harness agent is configured with (a secret: shown masked)."""


class AgentStartError(RuntimeError):
    """The agent exited or did not serve in time; the message carries the end of its log."""


AgentFactory = Callable[..., "AgentProcess"]
"""Type of the ``new_agent``/``start_agent`` fixtures: ``(settings=None, **kwargs) -> AgentProcess``."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def nest(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested mappings: ``{"a.b": 1}`` → ``{"a": {"b": 1}}``."""
    tree: dict[str, Any] = {}
    for key, value in settings.items():
        *parents, leaf = key.split(".")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def _clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test's environment without ``DD_*`` variables (they would change the agent's config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def core_agent_command(*args: str) -> list[str]:
    """The argv that runs ``core-agent`` with the test's interpreter."""
    return [sys.executable, "-m", "core_agent", *args]


def run_core_agent(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``core-agent ARGS`` to completion (text output captured; never raises on exit code)."""
    return subprocess.run(
        core_agent_command(*args),
        cwd=cwd,
        env=_clean_environ(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class AgentProcess:
    """One ``core-agent run`` process with its own config file and directory.

    ``settings``: extra config keys (dotted) written to the file, over the harness defaults.
    ``cmd_port``: None picks a free port. ``telemetry``: serve metrics on a free port (else off).
    ``env``: extra environment variables for the process.
    ``embedded``: run without ``-c`` on the configuration shipped with the package, with
    ``--state-dir <directory>/state``; address and telemetry then come from ``DD_*`` variables and
    ``settings`` is ignored.
    """

    def __init__(
        self,
        directory: Path,
        *,
        settings: Mapping[str, Any] | None = None,
        cmd_port: int | None = None,
        telemetry: bool = True,
        env: Mapping[str, str] | None = None,
        embedded: bool = False,
    ) -> None:
        self.directory = directory
        self.embedded = embedded
        directory.mkdir(parents=True, exist_ok=True)
        self.host = "127.0.0.1"
        self.port = free_port(self.host) if cmd_port is None else cmd_port
        self.telemetry_port = free_port(self.host) if telemetry else 0
        self.config_file = directory / "datadog.yaml"
        self.state_dir = directory / "state"
        secrets_dir = self.state_dir if embedded else directory
        self.auth_token_path = secrets_dir / "auth_token"
        self.ipc_cert_path = secrets_dir / "ipc_cert.pem"
        self.log_path = directory / "agent.log"
        self.env = dict(env or {})
        if embedded:
            self.env.update(
                DD_CMD_HOST=self.host,
                DD_CMD_PORT=str(self.port),
                DD_TELEMETRY_ENABLED=str(telemetry).lower(),
                DD_TELEMETRY_PORT=str(self.telemetry_port or 5000),
            )
        self.settings: dict[str, Any] = {
            "cmd_host": self.host,
            "cmd_port": self.port,
            "auth_token_file_path": str(self.auth_token_path),
            "ipc_cert_file_path": str(self.ipc_cert_path),
            "log_level": "info",
            "hostname": "e2e-host",
            "api_key": API_KEY,
            "telemetry.enabled": telemetry,
            "telemetry.port": self.telemetry_port if telemetry else 5000,
            **(settings or {}),
        }
        if not embedded:
            self.write_config()
        self.process: subprocess.Popen[bytes] | None = None
        self._material: ClientMaterial | None = None

    # -- files -------------------------------------------------------------------------------

    def location_args(self) -> list[str]:
        """``-c <config>``, or ``--state-dir <dir>`` for an agent on the embedded configuration."""
        return ["--state-dir", str(self.state_dir)] if self.embedded else ["-c", str(self.config_file)]

    def write_config(self) -> None:
        """(Re)write the config file from :attr:`settings`."""
        self.config_file.write_text(yaml.safe_dump(nest(self.settings), sort_keys=True), encoding="utf-8")
        # Tests set custom.* keys at runtime: declared as an open group, as a remote agent may.
        declarations = self.directory / "config_keys.d"
        declarations.mkdir(exist_ok=True)
        groups = {"open_groups": [{"prefix": "custom", "description": "test settings"}]}
        (declarations / "e2e.yaml").write_text(yaml.safe_dump(groups), encoding="utf-8")

    def log_text(self) -> str:
        """Everything the agent wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """The first match of the regular expression ``pattern`` in the log, once it appears."""
        regex = re.compile(pattern)
        return eventually_sync(
            lambda: regex.search(self.log_text()),
            f"log line {pattern!r}",
            timeout,
            detail=lambda: f"log:\n{self._log_tail()}",
        )

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- process -----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "the agent was not started"
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def start(self, *, wait: bool = True, timeout: float = READY_TIMEOUT) -> None:
        """Start ``core-agent run -c <config>``; with ``wait``, return once it serves (see wait_ready)."""
        if self.process is not None:
            raise RuntimeError("this agent was already started")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                core_agent_command("run", *self.location_args()),
                cwd=self.directory,
                env=_clean_environ(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals sent to the test runner do not reach it
            )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll grpc health (mTLS, no token) until SERVING; AgentStartError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.returncode
            if code is not None:
                raise AgentStartError(
                    f"core-agent exited with code {code} before serving; log:\n{self._log_tail()}"
                )
            if self._health_serving():
                return
            if time.monotonic() >= deadline:
                raise AgentStartError(
                    f"core-agent did not serve on {self.address} within {timeout:g}s; "
                    f"log:\n{self._log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def _health_serving(self) -> bool:
        if not (self.auth_token_path.exists() and self.ipc_cert_path.exists()):
            return False
        try:
            material = self.material()
        except Exception:  # files being created right now: try again at the next poll
            return False
        with self.sync_channel(material) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1.0
                )
            except grpc.RpcError:
                return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def send_signal(self, signum: int) -> None:
        assert self.process is not None, "the agent was not started"
        self.process.send_signal(signum)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit code, once the process ends (subprocess.TimeoutExpired after ``timeout``)."""
        assert self.process is not None, "the agent was not started"
        return self.process.wait(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns the exit code (None if never started).

        Safe to call more than once and on a process that already exited.
        """
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    # -- clients -----------------------------------------------------------------------------

    def material(self) -> ClientMaterial:
        """The token, certificate and key the agent created (loaded once, mode-checked)."""
        if self._material is None:
            self._material = load_client_material(self.auth_token_path, self.ipc_cert_path)
        return self._material

    @property
    def token(self) -> str:
        return self.material().token

    def auth_metadata(self) -> tuple[tuple[str, str], ...]:
        """``(("authorization", "Bearer <token>"),)``."""
        return auth_metadata(self.token)

    def client_credentials(self) -> grpc.ChannelCredentials:
        material = self.material()
        return client_credentials(material.cert_pem, material.key_pem)

    def aio_channel(self, credentials: grpc.ChannelCredentials | None = None) -> grpc.aio.Channel:
        """An mTLS ``grpc.aio`` channel to the agent (create it inside the running event loop)."""
        return ipc_secure_channel(self.address, credentials or self.client_credentials())

    def sync_channel(self, material: ClientMaterial | None = None) -> grpc.Channel:
        """A blocking mTLS channel to the agent (use it as a context manager)."""
        material = material or self.material()
        credentials = client_credentials(material.cert_pem, material.key_pem)
        return grpc.secure_channel(self.address, credentials, options=channel_options(self.address))

    def run_cli(
        self, *args: str, timeout: float = CLI_TIMEOUT, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a ``core-agent`` client command against this agent (:meth:`location_args` are added
        after the subcommand): ``agent.run_cli("config", "set", "log_level", "debug")``."""
        split = 2 if args[:1] == ("config",) and len(args) >= 2 else 1
        argv: Sequence[str] = [*args[:split], *self.location_args(), *args[split:]]
        return run_core_agent(*argv, cwd=self.directory, env={**self.env, **(env or {})}, timeout=timeout)
