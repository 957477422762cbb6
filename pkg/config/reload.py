"""Reloading the config file and the ``DD_*`` environment into a running config.

Usage::

    report = reload_sources(config, Path("/etc/datadog-agent/datadog.yaml"), startup_environ)

Both are read and validated first (a bad file or variable raises, changing nothing). Then the
differences are applied at their own sources, ``file`` and ``environment-variable``, as ordinary
changes (so they reach ``on_update`` subscribers and the config stream): new and changed values are
set, keys gone from the file are unset. A declared key that is not ``live`` (read only at startup)
is reported in :attr:`ReloadReport.restart_required` and left as it is. Undeclared keys are applied:
nothing in the core reads them, they are only streamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pkg.config.errors import ConfigError
from pkg.config.loader import read_environment, read_yaml_file
from pkg.config.schema import Schema
from pkg.config.sources import Source

__all__ = ["ReloadReport", "ReloadTarget", "SourceChanges", "diff_source", "reload_sources"]


class ReloadTarget(Protocol):
    """What a reload needs of a config (:class:`pkg.config.model.LayeredConfig` has it)."""

    @property
    def schema(self) -> Schema: ...

    @property
    def sequence_id(self) -> int: ...

    def all_settings_by_source(self) -> dict[Source, dict[str, Any]]: ...

    def set_many(self, values: Mapping[str, Any], source: Source) -> None: ...

    def unset_for_source(self, key: str, source: Source) -> None: ...


@dataclass(frozen=True)
class SourceChanges:
    """What differs at one source: ``set`` new or changed values, ``unset`` keys gone, and
    ``restart_required`` keys (set or unset) that are read only at startup, left out of the other two."""

    source: Source
    set: dict[str, Any]
    unset: tuple[str, ...]
    restart_required: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key applied, sorted."""
        return tuple(sorted([*self.set, *self.unset]))


@dataclass(frozen=True)
class ReloadReport:
    """The outcome of a reload: keys ``applied`` (at ``file`` or ``environment-variable``), keys that
    differ but need a restart (not applied), the sequence id after the reload and the file read
    (``""``: none)."""

    applied: tuple[str, ...]
    restart_required: tuple[str, ...]
    sequence_id: int
    config_file: str = ""


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def diff_source(
    schema: Schema, source: Source, held: Mapping[str, Any], read: Mapping[str, Any]
) -> SourceChanges:
    """The changes that turn what ``source`` holds into what was ``read`` for it."""
    changed = {key: value for key, value in read.items() if key not in held or not _same(held[key], value)}
    gone = [key for key in held if key not in read]

    def needs_restart(key: str) -> bool:
        return schema.spec(key) is not None and not schema.is_live(key)

    restart = sorted(key for key in [*changed, *gone] if needs_restart(key))
    return SourceChanges(
        source=source,
        set={k: v for k, v in sorted(changed.items()) if not needs_restart(k)},
        unset=tuple(sorted(k for k in gone if not needs_restart(k))),
        restart_required=tuple(restart),
    )


def _apply(config: ReloadTarget, changes: SourceChanges, held: Mapping[str, Any]) -> None:
    """Unset, then set (a key may turn from a value into a group); on a refusal, put back what was
    unset and raise."""
    done: list[str] = []
    try:
        for key in changes.unset:
            config.unset_for_source(key, changes.source)
            done.append(key)
        if changes.set:
            config.set_many(changes.set, changes.source)
    except ConfigError:
        if done:
            config.set_many({key: held[key] for key in done}, changes.source)
        raise


def _undo(config: ReloadTarget, changes: SourceChanges, held: Mapping[str, Any]) -> None:
    """Put ``changes.source`` back as it was before ``changes`` were applied."""
    for key in changes.set:
        if key not in held:
            config.unset_for_source(key, changes.source)
    restore = {key: held[key] for key in [*changes.set, *changes.unset] if key in held}
    if restore:
        config.set_many(restore, changes.source)


def reload_sources(
    config: ReloadTarget, config_file: Path | None, environ: Mapping[str, str]
) -> ReloadReport:
    """Re-read ``config_file`` (None: no file) and ``environ``; apply the differences as described in
    the module docstring. Raises ConfigFileError or ConfigValueError for a bad file or variable, or
    the ConfigError a change was refused with, having changed nothing."""
    schema = config.schema
    file_settings = read_yaml_file(config_file, schema) if config_file is not None else {}
    held = config.all_settings_by_source()
    env_settings = read_environment(environ, schema, file_settings)
    held_env = held[Source.ENVIRONMENT_VARIABLE]
    read = {
        Source.FILE: file_settings,
        # The environment is the one the agent started with: an undeclared variable left out then
        # (over a size limit) stays out, rather than making every reload fail.
        Source.ENVIRONMENT_VARIABLE: {
            key: value for key, value in env_settings.items() if schema.is_declared(key) or key in held_env
        },
    }
    plans = [diff_source(schema, source, held[source], values) for source, values in read.items()]
    applied: list[SourceChanges] = []
    try:
        for plan in plans:
            _apply(config, plan, held[plan.source])
            applied.append(plan)
    except ConfigError:
        for plan in reversed(applied):
            _undo(config, plan, held[plan.source])
        raise
    return ReloadReport(
        applied=tuple(sorted({key for plan in plans for key in plan.keys})),
        restart_required=tuple(sorted({key for plan in plans for key in plan.restart_required})),
        sequence_id=config.sequence_id,
        config_file="" if config_file is None else str(config_file),
    )
