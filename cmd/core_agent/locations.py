"""Where the agent's files are: the embedded default config, the state directory, the IPC endpoint.

The server and the command-line client resolve these the same way, so ``core-agent config ...``
finds the agent that ``core-agent run`` started with the same ``-c``/``--state-dir``:

- ``-c FILE``: settings come from FILE (and ``DD_*`` variables); the auth token defaults to
  ``auth_token`` beside FILE and the certificate to ``ipc_cert.pem`` beside the token.
- no ``-c``: the embedded ``datadog.yaml`` shipped with the package, and the state directory holds
  the token and the certificate.
- ``--state-dir DIR`` (with or without ``-c``): the token and the certificate live in DIR, whatever
  the config says. Default directory: ``$XDG_STATE_HOME/core-agent``, else
  ``~/.local/state/core-agent``.

This module stays light (no grpc, no config model): the client imports it on every call.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "EMBEDDED_CONFIG",
    "AgentEndpoint",
    "LocationError",
    "Locations",
    "default_state_dir",
    "resolve_endpoint",
    "resolve_locations",
]

EMBEDDED_CONFIG = Path(__file__).with_name("datadog.yaml")
STATE_DIR_NAME = "core-agent"
AUTH_TOKEN_FILE_NAME = "auth_token"
IPC_CERT_FILE_NAME = "ipc_cert.pem"
DEFAULT_CMD_HOST = "localhost"
DEFAULT_CMD_PORT = 5001

# The settings a client needs, with the environment variables the config loader reads for them.
_ENDPOINT_KEYS = ("cmd_host", "cmd_port", "auth_token_file_path", "ipc_cert_file_path")


class LocationError(Exception):
    """A config file or a setting needed to reach the agent is unusable."""


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/core-agent``, else ``~/.local/state/core-agent``."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_STATE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / STATE_DIR_NAME


@dataclass(frozen=True)
class Locations:
    """The config file to load and, when the state directory holds the secrets, that directory."""

    config_file: Path
    embedded: bool
    state_dir: Path | None

    def secret_overrides(self) -> dict[str, str]:
        """Settings (source ``cli``) that put the token and the certificate in the state directory."""
        if self.state_dir is None:
            return {}
        return {
            "auth_token_file_path": str(self.state_dir / AUTH_TOKEN_FILE_NAME),
            "ipc_cert_file_path": str(self.state_dir / IPC_CERT_FILE_NAME),
        }


def resolve_locations(
    config_file: Path | None, state_dir: Path | None, environ: Mapping[str, str] | None = None
) -> Locations:
    """Apply the rules of the module docstring to the ``-c`` and ``--state-dir`` flags."""
    if config_file is None:
        return Locations(EMBEDDED_CONFIG, True, (state_dir or default_state_dir(environ)).absolute())
    return Locations(config_file.absolute(), False, state_dir.absolute() if state_dir else None)


@dataclass(frozen=True)
class AgentEndpoint:
    """How a client reaches the agent."""

    host: str
    port: int
    auth_token: Path
    ipc_cert: Path

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def resolve_endpoint(locations: Locations, environ: Mapping[str, str] | None = None) -> AgentEndpoint:
    """Read the address and the secrets' paths as the agent would (file, then ``DD_*`` variables,
    then the state directory)."""
    env = os.environ if environ is None else environ
    values = _read_top_level(locations.config_file)
    for key in _ENDPOINT_KEYS:
        env_value = env.get("DD_" + key.upper())
        if env_value is not None:
            values[key] = env_value
    values.update(locations.secret_overrides())
    host = str(values.get("cmd_host") or DEFAULT_CMD_HOST).strip()
    port = _port(values.get("cmd_port", DEFAULT_CMD_PORT))
    from pkg.ipc import resolve_ipc_file_paths

    files = resolve_ipc_file_paths(
        _text(values.get("auth_token_file_path")),
        _text(values.get("ipc_cert_file_path")),
        config_file=locations.config_file,
    )
    return AgentEndpoint(host, port, files.auth_token, files.ipc_cert)


def _read_top_level(path: Path) -> dict[str, Any]:
    import yaml  # only when a client command runs

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LocationError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise LocationError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LocationError(f"config file {path}: expected a mapping of settings, got {type(data).__name__}")
    return {str(k).lower(): v for k, v in data.items() if str(k).lower() in _ENDPOINT_KEYS}


def _port(value: Any) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 0 < port <= 65535:
        raise LocationError(f"invalid value for 'cmd_port': {value!r}, expected a port number 1-65535")
    return port


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
