"""Definition of the config component: the layered, typed, observable configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pkg.config.change import ConfigChange, Setting, UpdateCallback
from pkg.config.errors import (
    ConfigError,
    ConfigFileError,
    ConfigKeyConflictError,
    ConfigLimitError,
    ConfigRestartRequiredError,
    ConfigValueError,
)
from pkg.config.limits import ConfigLimits
from pkg.config.reader import Reader
from pkg.config.schema import Schema
from pkg.config.sources import Source

__all__ = [
    "Component",
    "ConfigChange",
    "ConfigError",
    "ConfigFileError",
    "ConfigKeyConflictError",
    "ConfigLimitError",
    "ConfigLimits",
    "ConfigRestartRequiredError",
    "ConfigValueError",
    "Params",
    "Reader",
    "Setting",
    "Source",
    "UpdateCallback",
]


@dataclass(frozen=True)
class Params:
    """Inputs of the config component.

    ``config_file``: YAML file to load at source ``file`` (None: no file, embedded defaults only).
    ``environ``: environment to read ``DD_*`` variables from (None: ``os.environ``).
    ``overrides``: values applied at source ``cli`` (command-line flags).
    ``key_declarations``: also declare the keys remote agents declare (:mod:`pkg.config.declarations`:
    entry points, and ``config_keys.d/*.yaml`` beside the config file).
    """

    config_file: Path | None = None
    environ: Mapping[str, str] | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    key_declarations: bool = True


@runtime_checkable
class Component(Reader, Protocol):
    """The core agent's configuration. Thread-safe; callbacks run synchronously outside the lock."""

    def set(self, key: str, value: Any, source: Source) -> None:
        """Set ``key`` at ``source``. Raises a ConfigError (and changes nothing) on a bad value: a
        ConfigValueError (wrong type), ConfigKeyConflictError (``x`` and ``x.y``), ConfigLimitError
        (too big, too deep) or ConfigRestartRequiredError (a setting read only at startup)."""
        ...

    def set_many(self, values: Mapping[str, Any], source: Source) -> None:
        """Validate every value first, then set them one by one; all or nothing on a bad value."""
        ...

    def unset_for_source(self, key: str, source: Source) -> None:
        """Remove ``key`` from ``source``; the effective value falls back to the next lower source.
        Raises ConfigLimitError or ConfigRestartRequiredError (changing nothing) when what shows
        through would be over the total size or change a setting read only at startup."""
        ...

    @property
    def limits(self) -> ConfigLimits:
        """The size limits in force, read at startup."""
        ...

    def on_update(self, callback: UpdateCallback) -> Callable[[], None]:
        """Call ``callback`` after every change of an effective value; returns an unsubscribe function."""
        ...

    @property
    def sequence_id(self) -> int:
        """Incremented by one for every change of an effective value."""
        ...

    def flattened_with_sequence_id(self) -> tuple[dict[str, Setting], int]:
        """Every effective leaf setting with its source, and the sequence id, read under one lock."""
        ...

    def all_settings_by_source(self) -> dict[Source, dict[str, Any]]:
        """The leaf settings held by each source."""
        ...

    def config_file_used(self) -> Path | None:
        """The YAML file loaded at start, if any."""
        ...

    def is_secret(self, key: str) -> bool:
        """True for keys whose values must not be shown (api_key, ...)."""
        ...

    @property
    def schema(self) -> Schema:
        """The declared keys: types, defaults, aliases."""
        ...
