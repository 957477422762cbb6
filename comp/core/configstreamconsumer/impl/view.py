"""The consumer's view of the core agent's config: immutable snapshots swapped by reference.

Every change builds a new mapping and then replaces the reference in one assignment, so a reader
(on any thread) sees either the whole previous view or the whole next one, never half a snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from comp.core.configstreamconsumer.def_ import ChangeEvent
from comp.core.configstreamconsumer.impl.streamfilter import StreamFilter
from pkg.config.change import Setting
from pkg.config.getters import TypedGetters
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import Source
from pkg.config.tree import subtree

__all__ = ["ViewHolder", "ViewReader", "diff_views", "parse_source", "same_setting"]

_log = logging.getLogger(__name__)
_warned_sources: set[str] = set()

View = Mapping[str, Setting]


def parse_source(name: str) -> Source | None:
    """The :class:`Source` named ``name``; None for ""; ``unknown`` (logged once) for a name this
    version does not know, so that a newer core agent's sources never break the stream."""
    if not name:
        return None
    try:
        return Source(name)
    except ValueError:
        if name not in _warned_sources:
            _warned_sources.add(name)
            _log.warning("config stream: unknown config source %r, treated as %r", name, Source.UNKNOWN.value)
        return Source.UNKNOWN


def same_setting(a: Setting | None, b: Setting | None) -> bool:
    """Equal values of the same type from the same source (1 == 1.0 == True in Python, but a change
    of type is a change)."""
    return a == b and type(None if a is None else a.value) is type(None if b is None else b.value)


def diff_views(old: View, new: View) -> list[ChangeEvent]:
    """One event per key whose value or source differs, sorted by key."""
    events: list[ChangeEvent] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if same_setting(before, after):
            continue
        events.append(
            ChangeEvent(
                key,
                None if before is None else before.value,
                None if after is None else after.value,
                None if after is None else after.source,
            )
        )
    return events


class ViewHolder:
    """Holds the current view and the sequence id of the last event applied to it."""

    def __init__(self) -> None:
        self._view: View = MappingProxyType({})
        self._sequence_id = -1

    @property
    def view(self) -> View:
        return self._view

    @property
    def sequence_id(self) -> int:
        return self._sequence_id

    def replace(
        self, settings: dict[str, Setting], sequence_id: int, *, diff: bool = True
    ) -> list[ChangeEvent]:
        """Swap in a whole new view (``settings`` must not be used by the caller afterwards); the
        changes from the previous view, or none without ``diff`` (a first view is not announced)."""
        old = self._view
        self._view = MappingProxyType(settings)
        self._sequence_id = sequence_id
        return diff_views(old, self._view) if diff else []

    def apply(self, key: str, setting: Setting | None, sequence_id: int) -> ChangeEvent | None:
        """Set (or, with None, remove) one key; the event, or None when nothing visible changed."""
        changes = self.apply_many(((key, setting),), sequence_id)
        return changes[0] if changes else None

    def apply_many(
        self, assignments: Iterable[tuple[str, Setting | None]], sequence_id: int
    ) -> list[ChangeEvent]:
        """Apply the assignments in order as ONE change of the view (readers see all of them or none)
        and move to ``sequence_id``; the events, in order, as if each had been applied alone (a key
        assigned twice gives two events)."""
        old = self._view
        settings: dict[str, Setting] | None = None
        events: list[ChangeEvent] = []
        for key, setting in assignments:
            current = old if settings is None else settings
            before = current.get(key)
            if same_setting(before, setting):
                continue
            if settings is None:
                settings = dict(old)
            if setting is None:
                del settings[key]
            else:
                settings[key] = setting
            events.append(
                ChangeEvent(
                    key,
                    None if before is None else before.value,
                    None if setting is None else setting.value,
                    None if setting is None else setting.source,
                )
            )
        if settings is not None:
            self._view = MappingProxyType(settings)
        self._sequence_id = sequence_id
        return events

    def advance(self, sequence_id: int) -> None:
        """Move to ``sequence_id`` with no change of the view (a progress event of a filtered stream)."""
        self._sequence_id = sequence_id


class ViewReader(TypedGetters):
    """The :class:`pkg.config.reader.Reader` of a view; always reads the holder's current view.

    Keys are resolved like the core's config does (lower case, old names such as
    ``remote_agent_registry.*`` accepted), using ``schema`` (default: the default schema). With a
    ``stream_filter``, reading a key outside it raises :class:`KeyNotStreamedError`.
    """

    def __init__(
        self, holder: ViewHolder, schema: Schema | None = None, stream_filter: StreamFilter | None = None
    ) -> None:
        self._holder = holder
        self._schema = schema if schema is not None else default_schema()
        self._filter = stream_filter if stream_filter is not None else StreamFilter()

    def _canonical(self, key: str) -> str:
        name = self._schema.canonical(key)
        self._filter.check_read(name)
        return name

    def get(self, key: str) -> Any:
        view = self._holder.view
        key = self._canonical(key)
        setting = view.get(key)
        if setting is not None:
            return setting.value
        return subtree(((k, s.value) for k, s in view.items()), key)

    def get_source(self, key: str) -> Source | None:
        setting = self._holder.view.get(self._canonical(key))
        return None if setting is None else setting.source

    def is_set(self, key: str) -> bool:
        """True when a source other than ``default`` holds the key (or a leaf under this prefix)."""
        view = self._holder.view
        name = self._canonical(key)
        setting = view.get(name)
        if setting is not None:
            return setting.source is not Source.DEFAULT
        start = name + "."
        return any(k.startswith(start) and s.source is not Source.DEFAULT for k, s in view.items())

    def all_settings(self) -> dict[str, Any]:
        return {key: setting.value for key, setting in self._holder.view.items()}

    @property
    def sequence_id(self) -> int:
        return self._holder.sequence_id
