"""``core-agent run``: build the components, start them, serve until SIGINT/SIGTERM, stop them.
SIGHUP reloads the config file and the ``DD_*`` environment (as ``core-agent config reload``)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from comp.core.config import def_ as config_def
from comp.core.settings import def_ as settings_def
from core_agent.container import CoreAgentContainer, build_root_container, new_root_container
from core_agent.locations import Locations, resolve_locations
from pkg.config.loader import environment_left_out
from pkg.config.sources import Source
from pkg.util.lifecycle import LifecycleError
from pkg.util.signals import handle_signals, stop_on_signals

__all__ = ["StartupError", "run_agent", "serve"]

_log = logging.getLogger("core_agent")
PROG = "core-agent"
# Errors raised by this project's code carry messages written for the operator.
_OWN_PACKAGES = frozenset({"pkg", "comp", "core_agent"})


class StartupError(Exception):
    """The agent cannot start; the message names the cause (file, key, port...)."""


def _describe(exc: BaseException) -> str:
    """A one-line cause: the message of our own errors, the type too for anything unexpected."""
    text = str(exc) or type(exc).__name__
    own = type(exc).__module__.split(".")[0] in _OWN_PACKAGES
    if own or isinstance(exc, (ValueError, OSError, RuntimeError, LookupError)):
        return text
    return f"{type(exc).__name__}: {text}"


def _warn_undeclared(config: config_def.Component) -> None:
    """One warning listing the file's keys no one declared, one for the ``DD_*`` variables: kept
    and streamed, as the Go agent does."""
    by_source = config.all_settings_by_source()
    for source, where in (
        (Source.FILE, str(config.config_file_used())),
        (Source.ENVIRONMENT_VARIABLE, "DD_* environment variables"),
    ):
        undeclared = sorted(key for key in by_source[source] if not config.schema.is_declared(key))
        if undeclared:
            _log.warning(
                "%d undeclared keys in %s, kept and streamed (typo? a remote agent can declare them, "
                "see config_keys.d): %s",
                len(undeclared),
                where,
                ", ".join(undeclared),
            )
    left_out = environment_left_out(os.environ, config.schema, by_source[Source.ENVIRONMENT_VARIABLE])
    if left_out:
        _log.warning(
            "%d DD_* environment variables ignored (no key name, a clash with declared keys, too long): %s",
            len(left_out),
            ", ".join(left_out),
        )


def _hangup_handler(settings: settings_def.Component) -> Callable[[], None]:
    """For SIGHUP: runs :meth:`settings_def.Component.reload` off the event loop (it reads a file),
    one at a time; the component logs the outcome, a refused reload included."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[None]] = set()
    lock = asyncio.Lock()

    async def reload() -> None:
        async with lock:
            with contextlib.suppress(settings_def.SettingsValueError):  # logged by the component
                await asyncio.to_thread(settings.reload)

    def on_hangup() -> None:
        _log.info("received SIGHUP, reloading the config")
        task = loop.create_task(reload())
        running.add(task)
        task.add_done_callback(running.discard)

    return on_hangup


async def serve(container: CoreAgentContainer, locations: Locations, stop: asyncio.Event) -> None:
    """Build and start every component, wait for ``stop``, then stop them in reverse order.

    Raises StartupError when building or starting fails (what started is stopped first).
    """
    try:
        parts = build_root_container(container)
    except Exception as exc:  # building runs constructors that raise on bad config or secrets
        raise StartupError(_describe(exc)) from exc
    try:
        await parts.lifecycle.start()
    except LifecycleError as exc:
        raise StartupError(_describe(exc)) from exc
    try:
        config_file = "embedded default" if locations.embedded else str(locations.config_file)
        _log.info(
            "core-agent pid %d: config %s, auth token %s, certificate %s",
            os.getpid(),
            config_file,
            parts.ipc.paths.auth_token,
            parts.ipc.paths.ipc_cert,
        )
        if locations.state_dir is not None:
            _log.info("state directory: %s", locations.state_dir)
        _warn_undeclared(parts.config)
        with handle_signals({signal.SIGHUP: _hangup_handler(parts.settings)}):
            _log.info("serving on %s", parts.server.address)
            # Everything built so far lives as long as the process: move it out of the collector's
            # reach so that full collections stay short and do not stall config streams.
            gc.freeze()
            await stop.wait()
    finally:
        await parts.lifecycle.stop()


async def _main(locations: Locations) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop, _log):
        await serve(new_root_container(locations), locations, stop)


def run_agent(config_file: Path | None, state_dir: Path | None) -> int:
    """Run until SIGINT/SIGTERM; 0 after a clean stop, 1 with one line on stderr if startup fails."""
    locations = resolve_locations(config_file, state_dir)
    try:
        asyncio.run(_main(locations))
    except StartupError as exc:
        sys.stderr.write(f"{PROG}: cannot start: {exc}\n")
        return 1
    return 0
