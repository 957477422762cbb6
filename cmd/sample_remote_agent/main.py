"""The ``sample-remote-agent`` command.

Usage::

    sample-remote-agent version | --version
    sample-remote-agent [-c PATH | --state-dir DIR] [--ipc-address HOST:PORT]
                        [--auth-token-file FILE] [--cert-file FILE] [--name NAME]
                        [--wait-timeout SECONDS] [--telemetry-port PORT]
                        [--key KEY ...] [--prefix PREFIX ...] [--all-keys]

Exit codes: 0 after a clean stop (SIGINT/SIGTERM), 1 when it cannot start or no configuration
arrived within ``--wait-timeout``, 2 on bad usage (an argument that is not valid UTF-8 included),
130 on SIGINT before the start; 0 also when the reader of the output goes away. Never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from pkg.util.cli import guarded
from sample_remote_agent.agent import EXIT_FAILURE, StartupError, describe_startup_error, run
from sample_remote_agent.options import Options, parse_options

__all__ = ["main"]


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    options = parse_options(argv)
    return guarded("sample-remote-agent", lambda: _run(options))


def _run(options: Options) -> int:
    try:
        return asyncio.run(run(options, _emit))
    except StartupError as exc:
        sys.stderr.write(describe_startup_error(exc) + "\n")
        return EXIT_FAILURE
