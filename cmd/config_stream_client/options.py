"""Command-line flags of ``config-stream-client`` and where its address and IPC files come from.

Explicit flags win. Otherwise values are resolved as ``core-agent`` resolves them
(:func:`pkg.ipc.locate_core_agent`):

- with ``-c FILE``: the ``DD_*`` environment variable, else the top-level setting of FILE
  (``cmd_host``/``cmd_port``, ``auth_token_file_path``, ``ipc_cert_file_path``); the token defaults
  to ``auth_token`` beside FILE and the certificate to ``ipc_cert.pem`` beside the token;
- without ``-c``: the token and the certificate live in the agent's state directory
  (``$XDG_STATE_HOME/core-agent``, else ``~/.local/state/core-agent``);
- the address defaults to ``localhost:5001``;
- the largest message accepted is the core's ``agent_ipc.grpc_max_message_size``: the
  ``DD_AGENT_IPC_GRPC_MAX_MESSAGE_SIZE`` variable, else the setting of FILE, else 4 MiB.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pkg.config.durations import parse_duration
from pkg.config.errors import ConfigValueError
from pkg.config.schema import MAX_KEY_CHARS
from pkg.ipc import DEFAULT_ADDRESS, DEFAULT_MAX_MESSAGE_BYTES, IpcError, locate_core_agent
from pkg.util.cli import (
    add_config_path_option,
    add_version_command,
    config_file_path,
    package_version,
    reject_undecodable_arguments,
)

__all__ = [
    "DEFAULT_IPC_ADDRESS",
    "DEFAULT_NAME",
    "Options",
    "OptionsError",
    "Target",
    "build_parser",
    "parse_options",
    "resolve_target",
]

DEFAULT_IPC_ADDRESS = DEFAULT_ADDRESS
DEFAULT_NAME = "test-client"
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
    keys: tuple[str, ...] = ()
    """``--key``: stream only these keys (and the ``prefixes``); neither: every key."""
    prefixes: tuple[str, ...] = ()
    """``--prefix``: stream the keys equal to or under these prefixes."""
    max_batch_updates: int = 0
    """``--max-batch-updates``: accept batches of up to this many updates (0: none)."""
    progress: bool = False
    """``--progress``: accept progress events on a quiet stream."""

    @property
    def filtered(self) -> bool:
        return bool(self.keys or self.prefixes)


@dataclass(frozen=True)
class Target:
    """Where to connect, which secrets to present and the largest message to accept."""

    address: str
    auth_token_file: Path
    cert_file: Path
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES


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
    add_version_command(parser, "stream")
    add_config_path_option(
        parser,
        "the core agent's datadog.yaml, or the directory holding it",
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
    extensions = parser.add_argument_group(
        "stream extensions", "asked for only when given; a core that does not know them ignores them"
    )
    extensions.add_argument(
        "--key", dest="keys", action="append", default=[], metavar="KEY", help="stream only KEY (repeatable)"
    )
    extensions.add_argument(
        "--prefix",
        dest="prefixes",
        action="append",
        default=[],
        metavar="PREFIX",
        help="stream only the keys equal to PREFIX or under PREFIX. (repeatable)",
    )
    extensions.add_argument(
        "--max-batch-updates",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="accept batches of up to N updates in one message (default: 0, none)",
    )
    extensions.add_argument(
        "--progress", action="store_true", help="accept progress events on a quiet stream"
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
    return Options(
        ipc_address=ns.ipc_address,
        auth_token_file=ns.auth_token_file,
        cert_file=ns.cert_file,
        config_file=config_file_path(ns.config_file),
        name=ns.name,
        duration_seconds=ns.duration,
        max_samples=ns.max_samples,
        keys=_filter_names(parser, "--key", ns.keys),
        prefixes=_filter_names(parser, "--prefix", ns.prefixes),
        max_batch_updates=ns.max_batch_updates,
        progress=ns.progress,
    )


def _filter_names(parser: argparse.ArgumentParser, flag: str, names: list[str]) -> tuple[str, ...]:
    """Names of ``--key`` / ``--prefix``: non-empty dotted key names, each at most MAX_KEY_CHARS."""
    for name in names:
        if not name.strip() or "" in name.split(".") or len(name) > MAX_KEY_CHARS:
            parser.error(
                f"{flag} {name!r}: expected a non-empty dotted key name of at most {MAX_KEY_CHARS} characters"
            )
    return tuple(names)


def resolve_target(options: Options, environ: Mapping[str, str] | None = None) -> Target:
    """The address and IPC file paths to use, resolved as described in the module docstring."""
    try:
        found = locate_core_agent(
            options.config_file,
            None,
            os.environ if environ is None else environ,
            address=options.ipc_address,
            auth_token_file=options.auth_token_file,
            cert_file=options.cert_file,
        )
    except IpcError as exc:
        raise OptionsError(str(exc)) from exc
    return Target(
        address=found.address,
        auth_token_file=found.auth_token,
        cert_file=found.ipc_cert,
        max_message_bytes=found.max_message_bytes,
    )
