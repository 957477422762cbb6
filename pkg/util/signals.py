"""Signals of the binaries: SIGINT and SIGTERM stop them, other signals run a callback."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Iterator, Mapping

__all__ = ["STOP_SIGNALS", "handle_signals", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def handle_signals(handlers: Mapping[signal.Signals, Callable[[], object]]) -> Iterator[None]:
    """Run each callback on the running loop when its signal arrives, while inside; the handlers are
    removed on exit. Where signals cannot be handled (not the main thread), none is installed."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum, callback in handlers.items():
        try:
            loop.add_signal_handler(signum, callback)
        except (NotImplementedError, RuntimeError):
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event, log: logging.Logger | None = None) -> Iterator[None]:
    """:func:`handle_signals` setting ``stop`` at SIGINT or SIGTERM; the first is logged to ``log``
    (``received SIGTERM, stopping``)."""

    def on_signal(signum: signal.Signals) -> None:
        if log is not None and not stop.is_set():
            log.info("received %s, stopping", signum.name)
        stop.set()

    with handle_signals({signum: functools.partial(on_signal, signum) for signum in STOP_SIGNALS}):
        yield
