"""Where a local client finds the core agent: its address and its IPC secrets.

The rules are those of ``core-agent run``, so a client finds exactly the files the agent created:

- explicit values (a client's flags) win, each on its own;
- the secrets live in the state directory, whatever the configuration says, when one is given
  (``--state-dir``) and always without a config file (the agent then runs on its embedded
  configuration and uses :func:`default_state_dir`);
- otherwise ``auth_token_file_path`` and ``ipc_cert_file_path`` come from the ``DD_*`` environment,
  then the config file; by default the token is ``auth_token`` beside the config file;
- the certificate defaults to ``ipc_cert.pem`` beside the token in use;
- the address is ``cmd_host:cmd_port`` from the environment (``DD_CMD_HOST``, ``DD_CMD_PORT``), then
  the config file, then the declared defaults (:func:`pkg.config.schema.declared_default`:
  ``localhost:5001``);
- the largest message the core sends is its ``agent_ipc.grpc_max_message_size``, from the environment
  (``DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE``), then the config file, then the declared default (4 MiB):
  a client accepts messages that large.

Usage::

    found = locate_core_agent(Path("/etc/datadog-agent/datadog.yaml"), None, os.environ)
    found.address, found.auth_token, found.ipc_cert, found.max_message_bytes

Light to import (PyYAML, the standard library and the declarations, without pydantic): command-line
clients use it on every call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from pkg.config import keys
from pkg.config.limits import CONFIG_FILE_MAX_BYTES
from pkg.config.loader import env_var_name
from pkg.config.safe_yaml import YamlLimitError, load_document
from pkg.config.schema import declared_default, declared_spec
from pkg.ipc.errors import LocationError
from pkg.ipc.paths import resolve_ipc_file_paths

__all__ = [
    "DEFAULT_ADDRESS",
    "DEFAULT_CMD_HOST",
    "DEFAULT_CMD_PORT",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "LOCATION_KEYS",
    "STATE_DIR_NAME",
    "AgentLocation",
    "default_state_dir",
    "format_address",
    "locate_core_agent",
    "locate_with_settings",
    "secrets_state_dir",
]

STATE_DIR_NAME = "core-agent"
DEFAULT_CMD_HOST: str = declared_default(keys.CMD_HOST)
DEFAULT_CMD_PORT: int = declared_default(keys.CMD_PORT)
DEFAULT_ADDRESS = f"{DEFAULT_CMD_HOST}:{DEFAULT_CMD_PORT}"
DEFAULT_MAX_MESSAGE_BYTES: int = declared_default(keys.GRPC_MAX_MESSAGE_SIZE)
# The settings that say where the agent is and the size of its messages (each also read from its
# environment variable, pkg.config.loader.env_var_name).
LOCATION_KEYS = (
    keys.CMD_HOST,
    keys.CMD_PORT,
    keys.AUTH_TOKEN_FILE_PATH,
    keys.IPC_CERT_FILE_PATH,
    keys.GRPC_MAX_MESSAGE_SIZE,
)
_MESSAGE_SIZE = declared_spec(keys.GRPC_MAX_MESSAGE_SIZE)


@dataclass(frozen=True)
class AgentLocation:
    """How to reach the core agent.

    ``config_file``: the config file whose settings were read (the embedded one included); None when
    only the environment and the defaults applied. ``max_message_bytes``: the core's
    ``agent_ipc.grpc_max_message_size``, the largest message a client must accept.
    """

    address: str
    auth_token: Path
    ipc_cert: Path
    config_file: Path | None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


class _Setting(NamedTuple):
    value: Any
    origin: str  # for error messages: "config file X", "environment variable DD_X"


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """The agent's default state directory: ``$XDG_STATE_HOME/core-agent``, else
    ``~/.local/state/core-agent``."""
    xdg = environ.get("XDG_STATE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / STATE_DIR_NAME


def secrets_state_dir(
    config_file: Path | None, state_dir: Path | None, environ: Mapping[str, str]
) -> Path | None:
    """The directory that holds the secrets whatever the configuration says (absolute), or None when
    the configuration decides: ``state_dir`` if given, else the default one when there is no config
    file. The agent and its clients both use this rule."""
    if state_dir is not None:
        return state_dir.absolute()
    if config_file is None:
        return default_state_dir(environ).absolute()
    return None


def format_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def locate_core_agent(
    config_file: Path | None,
    state_dir: Path | None,
    environ: Mapping[str, str],
    *,
    address: str | None = None,
    auth_token_file: Path | None = None,
    cert_file: Path | None = None,
    embedded_config: Path | None = None,
) -> AgentLocation:
    """Resolve the address and the secrets' paths by the rules of the module docstring.

    ``config_file``/``state_dir``: the ``-c`` and ``--state-dir`` the agent runs with.
    ``address``/``auth_token_file``/``cert_file``: explicit values, used as given.
    ``embedded_config``: the file the agent reads when it runs without ``-c`` (``core-agent``'s
    embedded ``datadog.yaml``); only its address settings are used.

    Raises LocationError naming the file or variable when the config file cannot be read or a
    setting is unusable.
    """
    read_from = config_file if config_file is not None else embedded_config
    settings: dict[str, _Setting] = {}
    if read_from is not None:
        origin = f"config file {read_from}"
        settings.update((key, _Setting(value, origin)) for key, value in _read_settings(read_from).items())
    for key in LOCATION_KEYS:
        var = env_var_name(key)
        text = environ.get(var, "").strip()
        if text:  # an empty variable counts as unset, as for the agent
            settings[key] = _Setting(text, f"environment variable {var}")
    return _locate(
        settings,
        read_from,
        config_file=config_file,
        state_dir=state_dir,
        environ=environ,
        address=address,
        auth_token_file=auth_token_file,
        cert_file=cert_file,
    )


def locate_with_settings(
    settings: Mapping[str, Any],
    config_file: Path | None,
    state_dir: Path | None,
    environ: Mapping[str, str],
    *,
    address: str | None = None,
    auth_token_file: Path | None = None,
    cert_file: Path | None = None,
) -> AgentLocation:
    """As :func:`locate_core_agent`, with the effective values of :data:`LOCATION_KEYS` (dotted names)
    already read from ``config_file`` and the environment (a loaded configuration's values; None or
    ``""``: unset). ``environ`` only locates the default state directory."""
    origin = "DD_* variables" if config_file is None else f"config file {config_file} or DD_* variables"
    given = {
        key: _Setting(value, origin) for key, value in settings.items() if value is not None and value != ""
    }
    return _locate(
        given,
        config_file,
        config_file=config_file,
        state_dir=state_dir,
        environ=environ,
        address=address,
        auth_token_file=auth_token_file,
        cert_file=cert_file,
    )


def _locate(
    settings: Mapping[str, _Setting],
    read_from: Path | None,
    *,
    config_file: Path | None,
    state_dir: Path | None,
    environ: Mapping[str, str],
    address: str | None,
    auth_token_file: Path | None,
    cert_file: Path | None,
) -> AgentLocation:
    secrets_dir = secrets_state_dir(config_file, state_dir, environ)
    token_setting = cert_setting = None
    if secrets_dir is None:
        token_setting = _text(settings, keys.AUTH_TOKEN_FILE_PATH)
        cert_setting = _text(settings, keys.IPC_CERT_FILE_PATH)
    files = resolve_ipc_file_paths(
        auth_token_file if auth_token_file is not None else token_setting,
        cert_file if cert_file is not None else cert_setting,
        config_file=config_file.absolute() if config_file is not None and secrets_dir is None else None,
        state_dir=secrets_dir,
    )
    if not address:
        host = _text(settings, keys.CMD_HOST) or DEFAULT_CMD_HOST
        address = format_address(host, _port(settings.get(keys.CMD_PORT)))
    max_message_bytes = _message_size(settings.get(keys.GRPC_MAX_MESSAGE_SIZE))
    return AgentLocation(address, files.auth_token, files.ipc_cert, read_from, max_message_bytes)


def _read_settings(path: Path) -> dict[str, Any]:
    """The values of :data:`LOCATION_KEYS` in a YAML config file (keys as the agent reads them:
    case-insensitive, a dotted key nested or written whole; null values skipped)."""
    try:
        with path.open("rb") as file:
            raw = file.read(CONFIG_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise LocationError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    if len(raw) > CONFIG_FILE_MAX_BYTES:
        raise LocationError(f"config file {path} is larger than {CONFIG_FILE_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise LocationError(f"config file {path} is {reason}") from exc
    try:  # the agent's own bounded parser: a config file cannot make a client command expand aliases
        data, _root = load_document(text)
    except YamlLimitError as exc:
        raise LocationError(f"config file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise LocationError(f"config file {path} is not valid YAML: {_yaml_problem(exc)}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        kind = "a list" if isinstance(data, list) else f"the value {data!r}"
        raise LocationError(f"config file {path} must hold a mapping of settings, not {kind}")
    found = {key: _lookup(data, key) for key in LOCATION_KEYS}
    return {key: value for key, value in found.items() if value is not None}


def _lookup(data: Mapping[Any, Any], key: str) -> Any:
    """The value of the dotted ``key`` in a mapping of settings (``a: {b: 1}`` or ``a.b: 1``), or None."""
    values = {str(name).lower(): value for name, value in data.items()}
    if key in values:
        return values[key]
    head, dot, rest = key.partition(".")
    nested = values.get(head)
    return _lookup(nested, rest) if dot and isinstance(nested, Mapping) else None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line: the problem and its line (PyYAML's own text spans several lines)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark or exc.context_mark
        return exc.problem if mark is None else f"{exc.problem} (line {mark.line + 1})"
    return " ".join(str(exc).split())


def _text(settings: Mapping[str, _Setting], key: str) -> str | None:
    setting = settings.get(key)
    if setting is None:
        return None
    if isinstance(setting.value, Mapping | list):
        raise LocationError(f"{setting.origin}: invalid value for {key!r}: {setting.value!r}, expected text")
    return str(setting.value).strip() or None


def _port(setting: _Setting | None) -> int:
    """The port of a setting, read as the agent's config does (``"6001"`` and ``6001.0`` included)."""
    return _integer(setting, keys.CMD_PORT, DEFAULT_CMD_PORT, (1, 65535), "a port number 1-65535")


def _message_size(setting: _Setting | None) -> int:
    """The core's message size limit, within its declared bounds."""
    low, high = _MESSAGE_SIZE.minimum, _MESSAGE_SIZE.maximum
    assert low is not None and high is not None  # declared with both bounds
    return _integer(
        setting, _MESSAGE_SIZE.key, DEFAULT_MAX_MESSAGE_BYTES, (int(low), int(high)), _MESSAGE_SIZE.expected
    )


def _integer(setting: _Setting | None, key: str, default: int, bounds: tuple[int, int], expected: str) -> int:
    """An integer setting read as the agent's config does (``"6001"`` and ``6001.0`` included), within
    ``bounds`` (inclusive); ``default`` when unset."""
    if setting is None:
        return default
    value = setting.value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value.strip()) if value.strip().lstrip("+-").isdigit() else float(value)
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not bounds[0] <= number <= bounds[1]:
        raise LocationError(
            f"{setting.origin}: invalid value for {key!r}: {setting.value!r}, expected {expected}"
        )
    return number
