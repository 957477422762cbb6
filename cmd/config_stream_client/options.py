"""Command-line flags of ``config-stream-client`` and where its address and IPC files come from.

Explicit flags win. Otherwise values are resolved as ``core-agent`` resolves them:

- with ``-c FILE``: the ``DD_*`` environment variable, else the top-level setting of FILE
  (``cmd_host``/``cmd_port``, ``auth_token_file_path``, ``ipc_cert_file_path``); the token defaults
  to ``auth_token`` beside FILE and the certificate to ``ipc_cert.pem`` beside the token;
- without ``-c``: the token and the certificate live in the agent's state directory
  (``$XDG_STATE_HOME/core-agent``, else ``~/.local/state/core-agent``);
- the address defaults to ``localhost:5001``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pkg.config.durations import parse_duration
from pkg.config.errors import ConfigValueError
from pkg.ipc import IpcError, resolve_ipc_file_paths

__all__ = [
    "DEFAULT_IPC_ADDRESS",
    "DEFAULT_NAME",
    "Options",
    "OptionsError",
    "Target",
    "build_parser",
    "default_state_dir",
    "parse_options",
    "resolve_target",
]

DEFAULT_IPC_PORT = 5001
DEFAULT_IPC_ADDRESS = f"localhost:{DEFAULT_IPC_PORT}"
DEFAULT_NAME = "test-client"
STATE_DIR_NAME = "core-agent"
DEFAULT_DURATION = "30s"
DEFAULT_MAX_SAMPLES = 5


class OptionsError(Exception):
    """The flags, the environment or the config file do not give a usable target."""


@dataclass(frozen=True)
class Options:
    """Parsed flags (``None``: not given on the command line)."""

    ipc_address: str | None
    auth_token_file: Path | None
    cert_file: Path | None
    config_file: Path | None
    name: str
    duration_seconds: float
    max_samples: int


@dataclass(frozen=True)
class Target:
    """Where to connect and which secrets to present."""

    address: str
    auth_token_file: Path
    cert_file: Path


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text, "--duration").total_seconds()
    except ConfigValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--duration must be positive, got {text!r}")
    return seconds


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="config-stream-client",
        description="Register with a core agent, stream its configuration and check the event order.",
    )
    parser.add_argument("--ipc-address", help=f"core agent IPC address (default: {DEFAULT_IPC_ADDRESS})")
    parser.add_argument("--auth-token-file", type=Path, help="auth token file (default: as the core agent)")
    parser.add_argument("--cert-file", type=Path, help="IPC certificate file (default: as the core agent)")
    parser.add_argument(
        "-c", "--cfgpath", dest="config_file", type=Path, help="the core agent's config file (datadog.yaml)"
    )
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"client name (default: {DEFAULT_NAME})")
    parser.add_argument(
        "--duration",
        type=_duration,
        default=_duration(DEFAULT_DURATION),
        help=f"how long to stream, Go syntax such as 30s or 1m (default: {DEFAULT_DURATION})",
    )
    parser.add_argument(
        "--max-samples",
        type=_non_negative_int,
        default=DEFAULT_MAX_SAMPLES,
        help=f"settings of the snapshot to print (default: {DEFAULT_MAX_SAMPLES})",
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Parse the command line; exits with status 2 and a usage message on bad flags."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    if not ns.name.strip():
        parser.error("--name must not be blank")
    return Options(
        ipc_address=ns.ipc_address,
        auth_token_file=ns.auth_token_file,
        cert_file=ns.cert_file,
        config_file=ns.config_file,
        name=ns.name,
        duration_seconds=ns.duration,
        max_samples=ns.max_samples,
    )


def _read_config_file(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OptionsError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise OptionsError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise OptionsError(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")
    return data


def _setting(key: str, environ: Mapping[str, str], file_values: Mapping[str, Any]) -> str | None:
    env = environ.get("DD_" + key.upper())
    if env is not None and env.strip():
        return env.strip()
    value = file_values.get(key)
    if value is None or isinstance(value, Mapping | list):
        return None
    text = str(value).strip()
    return text or None


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """The agent's state directory: ``$XDG_STATE_HOME/core-agent``, else ``~/.local/state/core-agent``."""
    xdg = environ.get("XDG_STATE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / STATE_DIR_NAME


def resolve_target(options: Options, environ: Mapping[str, str] | None = None) -> Target:
    """The address and IPC file paths to use, resolved as described in the module docstring."""
    env = os.environ if environ is None else environ
    file_values = _read_config_file(options.config_file) if options.config_file else {}
    address = options.ipc_address
    if not address:
        host = _setting("cmd_host", env, file_values) or "localhost"
        port = _setting("cmd_port", env, file_values)
        address = f"{host}:{port or DEFAULT_IPC_PORT}"
    if options.config_file is None:  # the agent keeps its secrets in its state directory
        token_file: Path | str | None = options.auth_token_file
        cert_file: Path | str | None = options.cert_file
        state_dir: Path | None = default_state_dir(env)
    else:
        token_file = options.auth_token_file or _setting("auth_token_file_path", env, file_values)
        cert_file = options.cert_file or _setting("ipc_cert_file_path", env, file_values)
        state_dir = None
    try:
        paths = resolve_ipc_file_paths(
            token_file, cert_file, config_file=options.config_file, state_dir=state_dir
        )
    except IpcError as exc:
        raise OptionsError(f"{exc} (or pass --auth-token-file and --cert-file)") from exc
    return Target(address=address, auth_token_file=paths.auth_token, cert_file=paths.ipc_cert)
