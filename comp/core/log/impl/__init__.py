"""Implementation of the log component.

Between the lifecycle's start and stop, one handler on the root logger writes to stderr as
``2024-05-01 12:00:00 UTC | INFO | comp.core.ipc | message``, the root level follows ``log_level``
(changed live through ``on_update``), and a filter scrubs every record: the current values of every secret
setting (``api_key``, ``*password``, ...; see pkg.scrub), credential pairs, bearer tokens, URL
credentials.

Levels: ``trace`` and ``debug`` → DEBUG, ``info``, ``warn``/``warning`` → WARNING, ``error``,
``critical``, ``off`` → above CRITICAL (nothing is logged); case-insensitive, empty means ``info``.
An invalid ``log_level`` at construction aborts startup with an error naming the value; an invalid
value in a later update is ignored with a warning, keeping the current level.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO

from comp.core.config import def_ as config_def
from comp.core.log.impl.masking import SecretMaskingFilter
from pkg.config.change import ConfigChange
from pkg.config.errors import ConfigError, ConfigValueError
from pkg.util.lifecycle import Hook, Lifecycle

__all__ = [
    "FORMAT",
    "LEVELS",
    "Logging",
    "Provides",
    "Requires",
    "SecretMaskingFilter",
    "new_component",
    "parse_level",
]

_log = logging.getLogger(__name__)

FORMAT = "%(asctime)s | %(levelname)s | %(name)s | %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
_LEVEL_KEY = "log_level"
_DEFAULT_LEVEL = "info"

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
    name = value.strip().lower() or _DEFAULT_LEVEL
    if name not in LEVELS:
        raise ConfigValueError(_LEVEL_KEY, value, "one of " + ", ".join(LEVELS))
    return name, LEVELS[name]


@dataclass(frozen=True)
class Requires:
    lifecycle: Lifecycle
    config: config_def.Component


@dataclass(frozen=True)
class Provides:
    comp: Logging


class _RootHandler(logging.StreamHandler[TextIO]):
    """The component's handler; its own class so a leftover one can be recognised and removed."""


class Logging:
    """Configures the root logger from the config while started."""

    def __init__(self, config: config_def.Component) -> None:
        self._config = config
        self._level_name, self._levelno = parse_level(config.get_string(_LEVEL_KEY))
        self._filter = SecretMaskingFilter()
        self._reload_secrets()
        self._formatter = logging.Formatter(FORMAT, _DATE_FORMAT)
        self._formatter.converter = time.gmtime
        self._lock = threading.Lock()
        self._handler: logging.Handler | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._saved_root_level = logging.NOTSET

    @property
    def level(self) -> str:
        """The current level name (``info``, ``debug``, ...)."""
        return self._level_name

    @property
    def handler(self) -> logging.Handler | None:
        """The handler installed on the root logger while started, else None."""
        return self._handler

    async def start(self) -> None:
        """Install the handler, apply the level and follow config updates."""
        if self._handler is not None:
            return
        root = logging.getLogger()
        for stale in [h for h in root.handlers if isinstance(h, _RootHandler)]:
            root.removeHandler(stale)
        handler = _RootHandler(sys.stderr)
        handler.setFormatter(self._formatter)
        handler.addFilter(self._filter)
        self._saved_root_level = root.level
        root.addHandler(handler)
        self._handler = handler
        root.setLevel(self._levelno)
        self._unsubscribe = self._config.on_update(self._on_update)
        # Values changed between construction and subscription are picked up here.
        self._reload_level()
        self._reload_secrets()

    async def stop(self) -> None:
        """Stop following the config, remove the handler and restore the previous root level."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        handler, self._handler = self._handler, None
        if handler is not None:
            root = logging.getLogger()
            root.removeHandler(handler)
            root.setLevel(self._saved_root_level)
            handler.close()

    def _on_update(self, change: ConfigChange) -> None:
        # Runs on the thread that changed the config: must never raise into it.
        try:
            if change.key == _LEVEL_KEY:
                self._reload_level()
            elif self._config.is_secret(change.key):
                self._reload_secrets()
        except Exception:
            _log.exception("failed to apply a change of %r", change.key)

    def _reload_level(self) -> None:
        with self._lock:
            try:
                name, levelno = parse_level(self._config.get_string(_LEVEL_KEY))
            except ConfigError as exc:
                _log.warning("%s; keeping log level %r", exc, self._level_name)
                return
            if name == self._level_name:
                return
            old = self._level_name
            self._level_name, self._levelno = name, levelno
            if self._handler is not None:
                logging.getLogger().setLevel(levelno)
        _log.info("log level changed from %r to %r", old, name)

    def _reload_secrets(self) -> None:
        settings, _ = self._config.flattened_with_sequence_id()
        secrets = [setting.value for key, setting in settings.items() if self._config.is_secret(key)]
        self._filter.set_secrets(_texts(secrets))


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
    """Build the log component; raises ConfigValueError if ``log_level`` is not a level name."""
    component = Logging(requires.config)
    requires.lifecycle.append(Hook("log", on_start=component.start, on_stop=component.stop))
    return Provides(comp=component)
