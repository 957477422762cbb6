"""Entry point of ``config-stream-client``: a test tool that streams a core agent's configuration.

Exit status: 0 when a snapshot arrived and every update followed in order until ``--duration``
elapsed (or SIGINT/SIGTERM); 1 when no snapshot arrived, a gap or an out-of-order sequence id was
seen, or the core agent could not be reached or refused the client; 2 on bad flags (an argument
that is not valid UTF-8 included); 0 also when the reader of the output goes away; 130 on SIGINT
before the stream started. Never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from config_stream_client.client import EXIT_FAILURE, run
from config_stream_client.options import OptionsError, parse_options, resolve_target
from pkg.util.cli import guarded
from pkg.util.signals import stop_on_signals

__all__ = ["amain", "main"]

_PROG = "config-stream-client"


def _out(line: str) -> None:
    print(line, flush=True)


def _err(line: str) -> None:
    print(f"{_PROG}: {line}", file=sys.stderr, flush=True)


async def amain(argv: Sequence[str] | None = None) -> int:
    """Parse flags, resolve the target and stream; SIGINT or SIGTERM ends early with the summary."""
    options = parse_options(argv)
    try:
        target = resolve_target(options)
    except OptionsError as exc:
        _err(f"error: {exc}")
        return EXIT_FAILURE
    stop = asyncio.Event()
    with stop_on_signals(stop):
        return await run(options, target, _out, _err, stop)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script ``config-stream-client``: no traceback ever (see pkg.util.cli)."""
    sys.exit(guarded(_PROG, lambda: asyncio.run(amain(argv))))


if __name__ == "__main__":
    main()
