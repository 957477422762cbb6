"""The run of ``sample-remote-agent``: start the components, wait for the config, follow it, stop.

It asks the core to stream only the keys it reads (``log_level`` and its own
``sample_remote_agent.*``), plus those of ``--key`` / ``--prefix``, or every key with ``--all-keys``.
What it prints on stdout (one line each, flushed, for people and scripts alike)::

    ready: 2 settings from core agent at localhost:5001 (sequence id 0)
    change: log_level = debug (source: agent-runtime)
    change: hostname removed
    stopped

The streamed ``log_level`` is mirrored into the local configuration at the source it has in the core
agent, so the log component (which follows the local configuration) applies it live. Secrets are
printed masked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from comp.core.config import def_ as config_def
from comp.core.configstreamconsumer import ChangeEvent, ConfigStream, NotReadyError, Subscription
from pkg.config.errors import ConfigError
from pkg.config.sources import Source
from pkg.scrub import scrub_setting
from pkg.util.display import format_value
from pkg.util.lifecycle import LifecycleError
from pkg.util.signals import stop_on_signals
from sample_remote_agent.container import Parts, SampleRemoteAgentContainer, build_parts
from sample_remote_agent.keys import GREETING_KEY, LOG_LEVEL_KEY
from sample_remote_agent.options import PROG, Options

__all__ = ["EXIT_FAILURE", "EXIT_OK", "LevelMirror", "StartupError", "format_change", "run"]

_log = logging.getLogger("sample_remote_agent")

EXIT_OK = 0
EXIT_FAILURE = 1

Emit = Callable[[str], None]


class StartupError(Exception):
    """The agent cannot start; the message says why."""


def format_change(change: ChangeEvent, secret: bool) -> str:
    """``change: key = value (source: s)``, or ``change: key removed``; masked by pkg.scrub's rules."""
    if change.source is None:
        return f"change: {change.key} removed"
    value = format_value(scrub_setting(change.key, change.new, secret=secret)[0])
    return f"change: {change.key} = {value} (source: {change.source.value})"


class LevelMirror:
    """Copies the streamed ``log_level`` into the local configuration, at the streamed source."""

    def __init__(self, config: config_def.Component) -> None:
        self._config = config
        self._source: Source | None = None

    def apply(self, value: Any, source: Source | None) -> None:
        """Mirror one value (None/None: the key is gone in the core agent); never raises."""
        try:
            if source is not None and value is not None:
                self._config.set(LOG_LEVEL_KEY, value, source)
            if self._source is not None and self._source not in (source, Source.DEFAULT):
                self._config.unset_for_source(LOG_LEVEL_KEY, self._source)
        except ConfigError as exc:
            _log.warning("cannot apply the core agent's log_level: %s", exc)
            return
        self._source = source


async def _print_changes(parts: Parts, changes: Subscription, mirror: LevelMirror, emit: Emit) -> None:
    async for change in changes:
        emit(format_change(change, parts.config.is_secret(change.key)))
        if change.key == LOG_LEVEL_KEY:
            mirror.apply(change.new, change.source)
        elif change.key == GREETING_KEY:
            _log.info("greeting: %s", change.new)


async def run(
    options: Options,
    emit: Emit,
    stop: asyncio.Event | None = None,
    container: SampleRemoteAgentContainer | None = None,
) -> int:
    """Run until ``stop`` is set (by SIGINT/SIGTERM when not given). Returns the exit code.

    ``container``: the root container to build from (tests override providers in it). Raises
    StartupError when the components cannot be built or started.
    """
    if stop is None:
        stop = asyncio.Event()
        with stop_on_signals(stop, _log):
            return await run(options, emit, stop, container)
    if container is None:
        container = SampleRemoteAgentContainer(options=options)
    try:
        parts = build_parts(container)
    except Exception as exc:  # constructors raise on bad config, paths or parameters
        raise StartupError(str(exc) or type(exc).__name__) from exc
    try:
        await parts.lifecycle.start()
    except LifecycleError as exc:
        raise StartupError(str(exc)) from exc
    try:
        return await _follow(parts, options, emit, stop)
    finally:
        await parts.lifecycle.stop()
        emit("stopped")


async def _follow(parts: Parts, options: Options, emit: Emit, stop: asyncio.Event) -> int:
    consumer = parts.consumer
    stopping = asyncio.create_task(stop.wait())
    ready = asyncio.create_task(consumer.wait_ready(options.wait_timeout))
    try:
        await asyncio.wait({stopping, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            return EXIT_OK  # stopped before the config arrived
        try:
            ready.result()
        except NotReadyError as exc:
            emit(f"error: {exc}")
            _log.error("%s", exc)
            return EXIT_FAILURE
        config = ConfigStream(consumer)
        # Subscribe, then read, with no await in between: no change can slip through.
        changes = config.changes()
        mirror = LevelMirror(parts.config)
        printer = asyncio.create_task(_print_changes(parts, changes, mirror, emit))
        address = parts.consumer_params.ipc_address
        count = len(config.all_settings())
        emit(f"ready: {count} settings from core agent at {address} (sequence id {config.sequence_id})")
        level, source = config.get_string(LOG_LEVEL_KEY, default=""), config.get_source(LOG_LEVEL_KEY)
        _log.info(
            "effective log_level: %s (source: %s)", level or "(unset)", source.value if source else "none"
        )
        mirror.apply(config.get(LOG_LEVEL_KEY), source)
        # Declared by this agent (sample_remote_agent.keys); an older core may not stream it.
        _log.info("greeting: %s", config.get_string(GREETING_KEY, default="hello"))
        try:
            await stopping
        finally:
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
        return EXIT_OK
    finally:
        for task in (stopping, ready):
            task.cancel()
        await asyncio.gather(stopping, ready, return_exceptions=True)


def describe_startup_error(exc: StartupError) -> str:
    return f"{PROG}: cannot start: {exc}"
