"""Command-line flags of ``sample-remote-agent`` and where its core agent and IPC files are.

Explicit flags win. Otherwise everything is resolved as ``core-agent`` resolves it
(:func:`pkg.ipc.locate_with_settings`):

- the address is ``cmd_host:cmd_port`` of the local configuration: ``-c FILE`` if given (else the
  defaults, ``localhost:5001``), with ``DD_*`` environment variables on top;
- ``--state-dir DIR``: the auth token and the certificate live in DIR;
- else with ``-c FILE``: ``auth_token_file_path`` / ``ipc_cert_file_path`` of FILE, by default
  ``auth_token`` beside FILE and ``ipc_cert.pem`` beside the token;
- else the core agent's default state directory (``$XDG_STATE_HOME/core-agent``, else
  ``~/.local/state/core-agent``);
- the largest message accepted is ``agent_ipc.grpc_max_message_size`` of the local configuration,
  which should be the core's.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from comp.core.configstreamconsumer.impl.streamfilter import filter_names
from pkg.config.reader import Reader
from pkg.ipc import LOCATION_KEYS, AgentLocation, locate_with_settings
from pkg.util.cli import (
    add_config_path_option,
    add_version_command,
    config_file_path,
    package_version,
    reject_undecodable_arguments,
)

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_NAME",
    "DEFAULT_WAIT_TIMEOUT",
    "FLAVOR",
    "PROG",
    "Options",
    "build_parser",
    "locate",
    "parse_options",
]

PROG = "sample-remote-agent"
FLAVOR = "sample-remote-agent"
DEFAULT_NAME = "sample-remote-agent"
DEFAULT_WAIT_TIMEOUT = 30.0
DEFAULT_LISTEN = "127.0.0.1:0"


@dataclass(frozen=True)
class Options:
    """Parsed flags (None: not given)."""

    config_file: Path | None = None
    state_dir: Path | None = None
    ipc_address: str | None = None
    auth_token_file: Path | None = None
    cert_file: Path | None = None
    name: str = DEFAULT_NAME
    wait_timeout: float = DEFAULT_WAIT_TIMEOUT
    telemetry_port: int | None = None
    listen: str = DEFAULT_LISTEN
    keys: tuple[str, ...] = ()
    """Keys to stream and print besides the agent's own (``--key``)."""
    prefixes: tuple[str, ...] = ()
    """Prefixes to stream and print besides the agent's own (``--prefix``)."""
    all_keys: bool = False
    """Stream every key (``--all-keys``): no filter."""


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A remote agent that streams its configuration from the core agent, follows its "
        "log_level live and prints every change it sees. Stops cleanly on SIGINT or SIGTERM.",
    )
    add_version_command(parser, "run")
    add_config_path_option(
        parser,
        "the core agent's datadog.yaml, or the directory holding it (address and IPC files are read from it)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="directory of the core agent's auth token and IPC certificate",
    )
    parser.add_argument(
        "--ipc-address",
        metavar="HOST:PORT",
        help="core agent IPC address (default: cmd_host:cmd_port, localhost:5001)",
    )
    parser.add_argument("--auth-token-file", type=Path, metavar="FILE", help="auth token file")
    parser.add_argument("--cert-file", type=Path, metavar="FILE", help="IPC certificate file")
    parser.add_argument(
        "--name", default=DEFAULT_NAME, help=f"name shown by the core agent (default: {DEFAULT_NAME})"
    )
    parser.add_argument(
        "--wait-timeout",
        type=_positive_seconds,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up when no configuration arrived after this long (default: {DEFAULT_WAIT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--telemetry-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics on 127.0.0.1:PORT (default: telemetry disabled)",
    )
    parser.add_argument(
        "--listen",
        default=DEFAULT_LISTEN,
        metavar="ADDRESS",
        help="where this agent serves its status, flare and telemetry to the core agent: HOST:PORT "
        f"(port 0: a free one) or unix:///PATH (default: {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--key",
        dest="keys",
        action="append",
        default=[],
        metavar="KEY",
        help="also stream KEY and print its changes (repeatable); by default the agent streams only "
        "the keys it reads: log_level and sample_remote_agent.*",
    )
    parser.add_argument(
        "--prefix",
        dest="prefixes",
        action="append",
        default=[],
        metavar="PREFIX",
        help="also stream the keys under PREFIX (PREFIX and PREFIX.*) and print their changes (repeatable)",
    )
    parser.add_argument(
        "--all-keys", action="store_true", help="stream every key of the core agent's config (no filter)"
    )
    return parser


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Parse the command line; exits with status 2 and a usage message on bad flags."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    reject_undecodable_arguments(parser, ns)
    if ns.command == "version":
        print(f"{parser.prog} {package_version()}")
        parser.exit(0)
    if not ns.name.strip():
        parser.error("--name must not be blank")
    if ns.listen.startswith("unix://") and not ns.listen.startswith("unix:///"):
        parser.error(f"--listen {ns.listen!r}: a unix socket needs an absolute path (unix:///PATH)")
    if ns.all_keys and (ns.keys or ns.prefixes):
        parser.error("--all-keys streams every key: it cannot be combined with --key or --prefix")
    for flag, names in (("--key", ns.keys), ("--prefix", ns.prefixes)):
        try:
            filter_names(flag, names)
        except ValueError as exc:
            parser.error(str(exc))
    return Options(
        config_file=config_file_path(ns.config_file),
        state_dir=ns.state_dir,
        ipc_address=ns.ipc_address,
        auth_token_file=ns.auth_token_file,
        cert_file=ns.cert_file,
        name=ns.name,
        wait_timeout=ns.wait_timeout,
        telemetry_port=ns.telemetry_port,
        listen=ns.listen,
        keys=tuple(ns.keys),
        prefixes=tuple(ns.prefixes),
        all_keys=ns.all_keys,
    )


def locate(options: Options, config: Reader, environ: Mapping[str, str]) -> AgentLocation:
    """The core agent's address and IPC files, by the rules of the module docstring.

    ``config`` is the local configuration (``-c FILE`` and ``DD_*`` variables already applied);
    ``environ`` locates the default state directory. Raises :class:`pkg.ipc.IpcError` (a
    ``LocationError``) on an unusable address setting.
    """
    return locate_with_settings(
        {key: config.get(key) for key in LOCATION_KEYS},
        options.config_file,
        options.state_dir,
        environ,
        address=options.ipc_address,
        auth_token_file=options.auth_token_file,
        cert_file=options.cert_file,
    )
