"""Waiting on a condition that has no event to await: poll it until it holds, or fail after a timeout.

``await eventually(lambda: consumer.sequence_id == 6, "update 6 applied")`` from a test or a task;
``eventually_sync`` is the same for synchronous code and threads. Both return the predicate's first
truthy value, and fail with an AssertionError naming what was awaited and the timeout, followed by
``detail()`` when given (the state at the timeout).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["INTERVAL", "WAIT", "eventually", "eventually_sync"]

WAIT = 10.0
"""Default timeout in seconds (conditions of a working system hold far sooner)."""

INTERVAL = 0.02
"""Seconds between two checks of the predicate."""

T = TypeVar("T")


def _timed_out(what: str, timeout: float, detail: Callable[[], object] | None) -> AssertionError:
    message = f"timed out after {timeout:g}s waiting for {what}"
    if detail is not None:
        message += f" ({detail()})"
    return AssertionError(message)


async def eventually(
    predicate: Callable[[], T | None],
    what: str,
    timeout: float = WAIT,  # noqa: ASYNC109 - the timeout is the point of this helper
    *,
    detail: Callable[[], object] | None = None,
) -> T:
    """Check ``predicate()`` every :data:`INTERVAL` until it is truthy and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, detail)
        await asyncio.sleep(INTERVAL)


def eventually_sync(
    predicate: Callable[[], T | None],
    what: str,
    timeout: float = WAIT,
    *,
    detail: Callable[[], object] | None = None,
) -> T:
    """:func:`eventually` for synchronous code: blocks the calling thread between checks."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, detail)
        time.sleep(INTERVAL)
