"""Start/stop hooks run in dependency order.

Components register their hooks while they are constructed. Because a component is constructed
only after everything it depends on, registration order is dependency order: :meth:`Lifecycle.start`
runs the start hooks in that order and :meth:`Lifecycle.stop` runs the stop hooks of the started
components in reverse.

Usage::

    lc = Lifecycle()
    lc.append(Hook(name="grpc server", on_start=server.start, on_stop=server.stop))
    await lc.start()      # raises LifecycleError and stops what started if a hook fails
    ...
    await lc.stop()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Hook", "Lifecycle", "LifecycleError"]

_log = logging.getLogger(__name__)

HookFunc = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Hook:
    """A named pair of optional async start/stop callables."""

    name: str
    on_start: HookFunc | None = None
    on_stop: HookFunc | None = None


class LifecycleError(RuntimeError):
    """A start hook failed; the message names the component and the cause."""


class Lifecycle:
    """Ordered start/stop hooks (the analogue of an Fx lifecycle)."""

    def __init__(self, *, start_timeout: float = 30.0, stop_timeout: float = 30.0) -> None:
        self._hooks: list[Hook] = []
        self._started: list[Hook] = []
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._running = False

    def append(self, hook: Hook) -> None:
        """Register a hook; hooks appended after :meth:`start` are refused."""
        if self._running:
            raise LifecycleError(f"cannot add hook {hook.name!r}: the lifecycle has already started")
        self._hooks.append(hook)

    @property
    def hook_names(self) -> list[str]:
        """Names of the registered hooks, in start order."""
        return [h.name for h in self._hooks]

    async def start(self) -> None:
        """Run the start hooks in order; on failure stop what started and raise LifecycleError."""
        if self._running:
            raise LifecycleError("lifecycle already started")
        self._running = True
        for hook in self._hooks:
            try:
                if hook.on_start is not None:
                    await asyncio.wait_for(hook.on_start(), self._start_timeout)
            except BaseException as exc:
                await self.stop()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
                raise LifecycleError(f"starting {hook.name} failed: {reason}") from exc
            self._started.append(hook)

    async def stop(self) -> None:
        """Run the stop hooks of started components in reverse order; errors are logged, not raised."""
        while self._started:
            hook = self._started.pop()
            if hook.on_stop is None:
                continue
            try:
                await asyncio.wait_for(hook.on_stop(), self._stop_timeout)
            except Exception:
                _log.exception("stopping %s failed", hook.name)
        self._running = False
