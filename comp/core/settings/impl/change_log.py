"""The INFO log of runtime settings changes: every change is told, none floods the log.

A change made when no such line was logged in the last ``interval`` seconds is logged at once, with
its keys (never its values: they may be secrets). Changes within that interval are folded into one
summary line, logged when it ends. An operator's occasional ``config set`` thus shows at once, and a
client that sets values in a tight loop costs one line per interval instead of one write per call:
on the event loop's thread each write costs far more than the rest of the call, as it lets grpc's
poller thread take the interpreter lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

__all__ = ["DEFAULT_INTERVAL", "LOGGED_KEYS", "ChangeLog", "keys_summary"]

DEFAULT_INTERVAL = 1.0
"""Seconds between two lines, at least."""
LOGGED_KEYS = 10
"""Keys named in one line."""


def keys_summary(keys: Iterable[str]) -> str:
    """The first keys in order, and how many more: a line stays short whatever a call changes."""
    names = sorted(keys)
    shown = ", ".join(names[:LOGGED_KEYS])
    more = len(names) - LOGGED_KEYS
    return f"{shown} and {more} more" if more > 0 else shown


class ChangeLog:
    """Logs changes to ``logger`` at INFO (see the module). Use on one event loop; call
    :meth:`flush` before the loop ends, so that the last summary is not lost."""

    def __init__(self, logger: logging.Logger, *, interval: float = DEFAULT_INTERVAL) -> None:
        self._log = logger
        self._interval = interval
        self._quiet_until = float("-inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._changes = 0
        self._keys: set[str] = set()
        self._last_sequence_id = 0

    def record(self, keys: Iterable[str], sequence_id: int, *, removed: bool = False) -> None:
        """One call changed (or, ``removed``, unset) ``keys``, up to ``sequence_id``."""
        if not self._log.isEnabledFor(logging.INFO):
            return
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        if self._timer is None and now >= self._quiet_until:
            what = "removed" if removed else "changed"
            self._log.info("runtime settings %s (sequence id %d): %s", what, sequence_id, keys_summary(keys))
            self._quiet_until = now + self._interval
            return
        self._changes += 1
        self._keys.update(keys)
        self._last_sequence_id = sequence_id
        if self._timer is None:
            self._timer = loop.call_at(self._quiet_until, self._log_summary)

    def flush(self) -> None:
        """Log what is folded now, if anything."""
        if self._timer is not None:
            self._timer.cancel()
        self._log_summary()

    def _log_summary(self) -> None:
        self._timer = None
        if not self._changes:
            return
        self._log.info(
            "runtime settings changed by %d more call(s) in the last %gs (up to sequence id %d): %s",
            self._changes,
            self._interval,
            self._last_sequence_id,
            keys_summary(self._keys),
        )
        self._changes = 0
        self._keys = set()
        if self._loop is not None:
            self._quiet_until = self._loop.time() + self._interval
