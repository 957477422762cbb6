"""The ``core-agent`` command: run the agent, or talk to the running one.

Usage::

    core-agent [-c PATH] run [--state-dir DIR]
    core-agent config [--json]                     # the whole effective config, secrets masked
    core-agent config list [PREFIX] [--json] | list-runtime [--json] | get KEY [--source] [--json]
    core-agent config set KEY VALUE [KEY VALUE ...] | unset KEY
    core-agent config reload                       # re-read the file and DD_* (as SIGHUP does)
    core-agent status [--json]
    core-agent health                              # SERVING (exit 0), or why not (exit 1)
    core-agent flare [--output PATH]
    core-agent version | --version
    core-agent fleet list|get|set|unset ...   (see core_agent.fleet_cli)

``-c/--cfgpath PATH`` (a file, or the directory holding ``datadog.yaml``) and ``--state-dir DIR`` go
before or after the subcommand (see :mod:`core_agent.locations`).
Exit codes: 0 success (also when the reader of the output goes away, as ``| head -1`` does), 1
failure (one line on stderr, never a traceback), 2 bad usage (an argument that is not valid UTF-8
included), 130 interrupted.

grpc's own C-core logging is off (``GRPC_VERBOSITY=NONE``) unless the environment sets it: its
failures reach the user as this program's messages.

Only the standard library is imported here: grpc, the generated code and the components are
imported by the subcommand that needs them, so client commands start fast.
"""

from __future__ import annotations

import argparse
import gc
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core_agent.fleet_cli import add_fleet_parser
from pkg.util.cli import (
    add_version_option,
    config_file_path,
    guarded,
    package_version,
    reject_undecodable_arguments,
)

__all__ = ["build_parser", "config_path", "main"]

PROG = "core-agent"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _location_options(common)
    return common


def _location_options(parser: argparse.ArgumentParser) -> None:
    """``-c/--cfgpath`` and ``--state-dir``, accepted before or after the subcommand (SUPPRESS: a
    subcommand's parser does not overwrite what the top level parsed)."""
    parser.add_argument(
        "-c",
        "--cfgpath",
        "--config",
        dest="config",
        type=Path,
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="datadog.yaml to use, or the directory holding it (default: the configuration embedded "
        "in the package)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="directory of the auth token and the IPC certificate (default without -c: "
        "$XDG_STATE_HOME/core-agent, else ~/.local/state/core-agent; with -c: beside the config file)",
    )


def _client_options(*, nested: bool = False) -> argparse.ArgumentParser:
    """``--timeout`` and the location options; ``nested`` for the actions under ``config``, whose
    parsers must not overwrite with their default what ``config`` itself parsed."""
    client = argparse.ArgumentParser(add_help=False, parents=[_common_options()])
    client.add_argument(
        "--timeout",
        type=float,
        default=argparse.SUPPRESS if nested else 5.0,
        metavar="SECONDS",
        help="give up after this long (default 5)",
    )
    return client


class _ParserWithLateHelp(argparse.ArgumentParser):
    """A parser whose help ends with text computed only when the help is printed (``late_help``):
    what it imports costs nothing to the other commands."""

    def __init__(self, *args: Any, late_help: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._late_help = late_help

    def format_help(self) -> str:
        text = super().format_help()
        return text if self._late_help is None else f"{text}\n{self._late_help()}"


def _runtime_keys_help() -> str:
    """The keys ``config set`` accepts, with their descriptions (remote agents' entry points
    included; files in ``config_keys.d`` are read by the running agent: see ``list-runtime``)."""
    from pkg.config.declarations import declare_from_entry_points
    from pkg.config.schema import default_schema

    schema = default_schema()
    declare_from_entry_points(schema)
    keys = schema.live_keys()
    width = max(map(len, keys), default=0)
    lines = [f"  {key:<{width}}  {description}".rstrip() for key, description in keys.items()]
    return "runtime keys (config list-runtime shows their values):\n" + "\n".join(lines) + "\n"


def _json_option(*, nested: bool = False) -> argparse.ArgumentParser:
    """``--json`` (``nested``: as for :func:`_client_options`, so ``config --json list`` keeps it)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if nested else False, help="print JSON"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``core-agent`` (every level answers ``--help``)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The core agent: serves its configuration to remote agents over IPC.",
        epilog="Exit codes: 0 ok, 1 failure (one line on stderr), 2 bad usage, 130 interrupted.",
    )
    add_version_option(parser)
    _location_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        parents=[_common_options()],
        help="run the agent until SIGINT or SIGTERM",
        description="Run the core agent in the foreground until SIGINT or SIGTERM. Logs go to stderr.",
    )
    run.set_defaults(handler=_run)

    version = commands.add_parser(
        "version",
        parents=[_common_options()],
        help="print the version",
        description="Print the version of core-agent (-c is accepted, as by every subcommand).",
    )
    version.set_defaults(handler=_print_version)

    config = commands.add_parser(
        "config",
        parents=[_client_options(), _json_option()],
        help="read or change the running agent's settings (alone: print the whole effective config)",
        description="Read or change the settings of the running agent (changes are not saved to the "
        "file). Without ACTION, print every effective setting (secrets masked).",
    )
    config.set_defaults(handler=_client, action="list", prefix="")
    config_commands: argparse._SubParsersAction[argparse.ArgumentParser] = config.add_subparsers(
        dest="config_command", metavar="ACTION", parser_class=_ParserWithLateHelp
    )
    listing = config_commands.add_parser(
        "list",
        parents=[_client_options(nested=True), _json_option(nested=True)],
        help="print every effective setting with its source",
        description="Print every effective setting as 'key = value (source)'; secrets are masked.",
    )
    listing.add_argument("prefix", nargs="?", default="", metavar="PREFIX", help="only keys starting with it")
    listing.set_defaults(handler=_client, action="list")
    runtime = config_commands.add_parser(
        "list-runtime",
        parents=[_client_options(nested=True), _json_option(nested=True)],
        help="print the settings that can change while the agent runs",
        description="Print the settings 'config set' accepts (the others need a restart), with their "
        "values and descriptions.",
    )
    runtime.set_defaults(handler=_client, action="list-runtime", prefix="")
    get = config_commands.add_parser(
        "get",
        parents=[_client_options(nested=True), _json_option(nested=True)],
        help="print the effective value of a key",
        description="Print the effective value of KEY (JSON for lists and maps); secrets are masked.",
    )
    get.add_argument("key", metavar="KEY")
    get.add_argument("--source", action="store_true", help="also print the source of the value")
    get.set_defaults(handler=_client, action="get")
    setter = config_commands.add_parser(
        "set",
        parents=[_client_options(nested=True)],
        help="change settings at runtime (source agent-runtime)",
        description="Set each KEY to VALUE at source 'agent-runtime'. VALUE is YAML ('10', 'true', "
        "'[a, b]'); all values are checked before any is applied.",
        late_help=_runtime_keys_help,
    )
    setter.add_argument("pairs", nargs="+", metavar="KEY VALUE", help="one or more KEY VALUE pairs")
    setter.set_defaults(handler=_client, action="set")
    unset = config_commands.add_parser(
        "unset",
        parents=[_client_options(nested=True)],
        help="remove a runtime change",
        description="Remove KEY from source 'agent-runtime'; the value falls back to the next source.",
    )
    unset.add_argument("key", metavar="KEY")
    unset.set_defaults(handler=_client, action="unset")
    reload = config_commands.add_parser(
        "reload",
        parents=[_client_options(nested=True)],
        help="re-read the config file and the environment (as SIGHUP does)",
        description="Re-read the agent's config file and the DD_* environment it started with, and "
        "apply the differences at sources 'file' and 'environment-variable' (they stream to remote "
        "agents). Settings read only at startup are reported, not applied. An invalid file changes "
        "nothing (exit 1).",
    )
    reload.set_defaults(handler=_client, action="reload")

    status = commands.add_parser(
        "status",
        parents=[_client_options()],
        help="show the running agent's status",
        description="Show the running agent's address, version, sequence id and remote agents.",
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=_client, action="status")

    flare = commands.add_parser(
        "flare",
        parents=[_client_options()],
        help="write a zip of the agent's and its remote agents' diagnostics",
        description="Write one zip with the core agent's effective config, recent logs, status (text "
        "and JSON), metrics and registered remote agents, and each remote agent's flare files "
        "(<name>/UNREACHABLE.txt for one that could not be queried). Secrets are masked. Prints the path.",
    )
    flare.add_argument(
        "--output", metavar="PATH", help="where to write the zip (default: core-agent-flare-<time>.zip here)"
    )
    flare.set_defaults(handler=_client, action="flare")

    health = commands.add_parser(
        "health",
        parents=[_client_options()],
        help="ask the running agent's gRPC health service",
        description="Ask the running agent's grpc.health.v1 service. Prints SERVING and exits 0, or "
        "prints why not and exits 1.",
    )
    health.set_defaults(handler=_client, action="health")
    add_fleet_parser(commands, [_client_options(nested=True)], [_client_options()])
    return parser


def _print_version(args: argparse.Namespace) -> int:
    print(f"{PROG} {package_version()}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from core_agent.agent import run_agent

    return run_agent(getattr(args, "config", None), getattr(args, "state_dir", None))


def _client(args: argparse.Namespace) -> int:
    from core_agent.client import run_client_command

    code = run_client_command(args)
    # The process ends now: spare the interpreter's shutdown its collector passes over every object
    # grpc and protobuf loaded (a third of a client command's time); exit handlers still run.
    gc.freeze()
    return code


config_path = config_file_path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``core-agent`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.config = config_path(getattr(args, "config", None))
    args.state_dir = getattr(args, "state_dir", None)
    reject_undecodable_arguments(parser, args)
    if getattr(args, "action", None) == "set" and len(args.pairs) % 2:
        parser.exit(2, f"{PROG} config set: error: expected KEY VALUE pairs, got {len(args.pairs)} words\n")
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # read when grpc is imported, just below
    handler: Callable[[argparse.Namespace], int] = args.handler
    return guarded(PROG, lambda: handler(args))
