"""Implementation of the log component.

Between the lifecycle's start and stop, handlers on the root logger write where the config says
(:mod:`.outputs`): stderr (``log_to_console``) and a rolled file (``log_file``, ``log_file_max_size``,
``log_file_max_rolls``), as ``2024-05-01 12:00:00 UTC | INFO | comp.core.ipc | message`` lines or one
JSON object per line (``log_format_json``). The root level follows ``log_level``. Every one of these
keys changes live (``on_update``): a change of the outputs opens the new handlers first and swaps them
in, so a log file that cannot be opened leaves the current outputs in place (logged as an error); at
start it aborts startup naming the file. A filter scrubs every record: the current values of every
secret setting (``api_key``, ``*password``, ...; see pkg.scrub), credential pairs, bearer tokens, URL
credentials.

Levels: ``trace`` and ``debug`` → DEBUG, ``info``, ``warn``/``warning`` → WARNING, ``error``,
``critical``, ``off`` → above CRITICAL (nothing is logged); case-insensitive, empty means ``info``.
An invalid ``log_level`` at construction aborts startup with an error naming the value; an invalid
value in a later update is ignored with a warning, keeping the current level.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from comp.core.config import def_ as config_def
from comp.core.log.def_ import Component
from comp.core.log.impl.masking import SecretMaskingFilter
from comp.core.log.impl.outputs import (
    OUTPUT_KEYS,
    ConsoleHandler,
    Outputs,
    RollingFileHandler,
    open_handlers,
)
from pkg.config import keys
from pkg.config.change import ConfigChange
from pkg.config.errors import ConfigError, ConfigValueError
from pkg.config.schema import declared_default
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = ["Provides", "Requires", "new_component"]

_log = logging.getLogger(__name__)


LEVELS: dict[str, int] = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "off": logging.CRITICAL + 10,
}


def parse_level(value: str) -> tuple[str, int]:
    """The normalised name and the ``logging`` level of a ``log_level`` value.

    Raises ConfigValueError naming the value and the accepted names.
    """
    name = value.strip().lower() or declared_default(keys.LOG_LEVEL)
    if name not in LEVELS:
        raise ConfigValueError(keys.LOG_LEVEL, value, "one of " + ", ".join(LEVELS))
    return name, LEVELS[name]


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component


@dataclass(frozen=True)
class Provides:
    comp: Component


class Logging:
    """Configures the root logger from the config while started."""

    def __init__(self, config: config_def.Component) -> None:
        self._config = config
        self._level_name, self._levelno = parse_level(config.get_string(keys.LOG_LEVEL))
        self._outputs = Outputs.from_config(config)
        self._filter = SecretMaskingFilter()
        self._reload_secrets()
        self._lock = threading.Lock()
        self._handlers: list[logging.Handler] = []
        self._started = False
        self._unsubscribe: Callable[[], None] | None = None
        self._saved_root_level = logging.NOTSET

    @property
    def level(self) -> str:
        """The current level name (``info``, ``debug``, ...)."""
        return self._level_name

    @property
    def outputs(self) -> Outputs:
        """The outputs in use (or to be used at start)."""
        return self._outputs

    @property
    def handlers(self) -> tuple[logging.Handler, ...]:
        """The handlers installed on the root logger while started."""
        return tuple(self._handlers)

    async def start(self) -> None:
        """Open the outputs, apply the level and follow config updates.

        Raises OSError naming ``log_file`` when it cannot be opened.
        """
        if self._started:
            return
        root = logging.getLogger()
        for stale in [h for h in root.handlers if isinstance(h, ConsoleHandler | RollingFileHandler)]:
            root.removeHandler(stale)
        self._install(open_handlers(self._outputs))
        self._started = True
        self._saved_root_level = root.level
        root.setLevel(self._levelno)
        self._unsubscribe = self._config.on_update(self._on_update)
        # Values changed between construction and subscription are picked up here.
        self._reload_level()
        self._reload_outputs()
        self._reload_secrets()

    async def stop(self) -> None:
        """Stop following the config, close the outputs and restore the previous root level."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if not self._started:
            return
        self._started = False
        with self._lock:
            self._install([])
        logging.getLogger().setLevel(self._saved_root_level)

    def _install(self, handlers: list[logging.Handler]) -> None:
        """Swap the root logger's handlers for ``handlers`` (new ones first, so no record is lost)."""
        root = logging.getLogger()
        old, self._handlers = self._handlers, handlers
        for handler in handlers:
            handler.addFilter(self._filter)
            root.addHandler(handler)
        for handler in old:
            root.removeHandler(handler)
            handler.close()

    def _on_update(self, change: ConfigChange) -> None:
        # Runs on the thread that changed the config: must never raise into it.
        try:
            if change.key == keys.LOG_LEVEL:
                self._reload_level()
            elif change.key in OUTPUT_KEYS:
                self._reload_outputs()
            elif self._config.is_secret(change.key):
                self._reload_secrets()
        except Exception:
            _log.exception("failed to apply a change of %r", change.key)

    def _reload_level(self) -> None:
        with self._lock:
            try:
                name, levelno = parse_level(self._config.get_string(keys.LOG_LEVEL))
            except ConfigError as exc:
                _log.warning("%s; keeping log level %r", exc, self._level_name)
                return
            if name == self._level_name:
                return
            old = self._level_name
            self._level_name, self._levelno = name, levelno
            if self._started:
                logging.getLogger().setLevel(levelno)
        _log.info("log level changed from %r to %r", old, name)

    def _reload_outputs(self) -> None:
        with self._lock:
            try:
                outputs = Outputs.from_config(self._config)
            except ConfigError as exc:
                _log.warning("%s; keeping the current log outputs", exc)
                return
            if outputs == self._outputs or not self._started:
                self._outputs = outputs
                return
            try:
                handlers = open_handlers(outputs)
            except OSError as exc:
                _log.error("%s; keeping the current log outputs", exc)
                return
            self._outputs = outputs
            self._install(handlers)
        _log.info("log outputs changed: %s", _describe(outputs))

    def _reload_secrets(self) -> None:
        settings, _ = self._config.flattened_with_sequence_id()
        secrets = [setting.value for key, setting in settings.items() if self._config.is_secret(key)]
        self._filter.set_secrets(_texts(secrets))


def _describe(outputs: Outputs) -> str:
    places = []
    if outputs.file:
        places.append(f"file {outputs.file} (rolled at {outputs.max_bytes} bytes, {outputs.max_rolls} kept)")
    if outputs.console:
        places.append("stderr")
    return (", ".join(places) or "nowhere") + (" as JSON" if outputs.json else "")


def _texts(value: object) -> Iterator[str]:
    """Every scalar inside ``value`` as text (secret lists and mappings: each item)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)
    elif value is not None:
        yield str(value)


def new_component(requires: Requires) -> Provides:
    """Build the log component; raises ConfigValueError if ``log_level`` is not a level name.

    The outputs open at start (an unopenable ``log_file`` aborts startup there)."""
    component = Logging(requires.config)
    requires.lifecycle.append(Hook("log", on_start=component.start, on_stop=component.stop))
    return Provides(comp=component)
