"""The layered config: ten sources, one effective value per leaf key, a sequence id, change callbacks.

Each source holds a flat dict of leaf key -> value. The effective value of a key is the one of its
highest source. Every change of an effective value (its value or its source) increments
``sequence_id`` by exactly one and is delivered as a :class:`ConfigChange` to every ``on_update``
callback; a write that changes nothing effective is silent.

Delivery: changes are queued under the data lock, in sequence order, with the callbacks registered at
that moment. The writer then releases the data lock and delivers the queue while holding a separate
notify lock, so callbacks run outside the data lock (they may read or write the config), one change at
a time, in sequence order even with concurrent writers. When a write returns, its changes have been
delivered, possibly by another writer's thread; a write made from inside a callback is delivered
after the current change, once that callback returns. A callback that raises is logged and skipped.
Callbacks must not block on another thread that writes to the config.

Integers are kept as Python ints of any size; the wire may carry big ones as decimal text (the stream
and the remote side handle that).
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pkg.config.change import ConfigChange, Setting, UpdateCallback
from pkg.config.getters import TypedGetters
from pkg.config.schema import Schema, default_schema
from pkg.config.sources import SOURCES_BY_PRIORITY, Source
from pkg.config.tree import subtree

__all__ = ["LayeredConfig"]

_log = logging.getLogger(__name__)

_HIGHEST_FIRST = tuple(reversed(SOURCES_BY_PRIORITY))


def _copy(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, list | dict) else value


def _same(a: Any, b: Any) -> bool:
    """Equality that tells 1, 1.0 and True apart, recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _same_setting(a: Setting | None, b: Setting | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.source is b.source and _same(a.value, b.value)


_Delivery = tuple[ConfigChange, tuple[tuple[int, UpdateCallback], ...]]


class LayeredConfig(TypedGetters):
    """The core agent's configuration (implements ``comp.core.config.def_.Component``). Thread-safe.

    ``schema`` (default: :func:`pkg.config.schema.default_schema`) is frozen by the config; its
    defaults are held at source ``default`` from the start (sequence id 0).
    """

    def __init__(self, schema: Schema | None = None, *, config_file: Path | None = None) -> None:
        self._schema = schema if schema is not None else default_schema()
        self._schema.freeze()
        self._config_file = config_file
        self._layers: dict[Source, dict[str, Any]] = {source: {} for source in SOURCES_BY_PRIORITY}
        self._layers[Source.DEFAULT] = self._schema.defaults()
        self._effective: dict[str, Setting] = {
            key: Setting(value, Source.DEFAULT) for key, value in self._layers[Source.DEFAULT].items()
        }
        self._sequence_id = 0
        self._lock = threading.Lock()
        self._callbacks: dict[int, UpdateCallback] = {}
        self._callback_ids = itertools.count(1)
        self._pending: deque[_Delivery] = deque()
        self._notify_lock = threading.Lock()
        self._delivering = threading.local()

    @property
    def schema(self) -> Schema:
        return self._schema

    # -- reading --------------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The effective value (a copy), the nested leaves under a prefix, or None."""
        name = self._schema.canonical(key)
        with self._lock:
            setting = self._effective.get(name)
            if setting is not None:
                return _copy(setting.value)
            nested = subtree(((k, s.value) for k, s in self._effective.items()), name)
        return copy.deepcopy(nested)

    def get_source(self, key: str) -> Source | None:
        """The source of a leaf key's effective value, or None."""
        name = self._schema.canonical(key)
        with self._lock:
            setting = self._effective.get(name)
        return None if setting is None else setting.source

    def is_set(self, key: str) -> bool:
        """True when a source other than ``default`` holds the key (or a leaf under this prefix)."""
        name = self._schema.canonical(key)
        start = name + "."
        with self._lock:
            for source in _HIGHEST_FIRST[:-1]:
                layer = self._layers[source]
                if name in layer or any(k.startswith(start) for k in layer):
                    return True
        return False

    def all_settings(self) -> dict[str, Any]:
        """Every effective leaf setting (copies), flattened."""
        with self._lock:
            return {key: _copy(s.value) for key, s in self._effective.items()}

    def all_settings_by_source(self) -> dict[Source, dict[str, Any]]:
        """The leaves held by each of the ten sources (copies; empty dicts included)."""
        with self._lock:
            return {source: copy.deepcopy(layer) for source, layer in self._layers.items()}

    def flattened_with_sequence_id(self) -> tuple[dict[str, Setting], int]:
        """Every effective leaf setting with its source, and the sequence id, read under one lock."""
        with self._lock:
            settings = {key: Setting(_copy(s.value), s.source) for key, s in self._effective.items()}
            return settings, self._sequence_id

    @property
    def sequence_id(self) -> int:
        with self._lock:
            return self._sequence_id

    def config_file_used(self) -> Path | None:
        return self._config_file

    def is_secret(self, key: str) -> bool:
        return self._schema.is_secret(key)

    # -- writing --------------------------------------------------------------------------------

    def set(self, key: str, value: Any, source: Source) -> None:
        """Set ``key`` at ``source`` (a mapping on an undeclared key sets its leaves).

        Raises ConfigValueError, changing nothing, when the key or value is invalid.
        """
        self.set_many({key: value}, source)

    def set_many(self, values: Mapping[str, Any], source: Source) -> None:
        """Validate every value, then apply them all under one lock; all or nothing on a bad value."""
        source = Source(source)
        leaves: dict[str, Any] = {}
        for key, value in values.items():
            leaves.update(self._schema.prepare(key, value, origin=str(source)))
        with self._lock:
            layer = self._layers[source]
            for key, value in leaves.items():
                layer[key] = value
                self._refresh(key, None)
        self._deliver()

    def unset_for_source(self, key: str, source: Source) -> None:
        """Remove ``key`` (or every leaf under this prefix) from ``source``; lower sources show through."""
        source = Source(source)
        name = self._schema.canonical(key)
        start = name + "."
        with self._lock:
            layer = self._layers[source]
            removed = sorted(k for k in layer if k == name or k.startswith(start))
            for leaf in removed:
                del layer[leaf]
                self._refresh(leaf, source)
        self._deliver()

    def on_update(self, callback: UpdateCallback) -> Callable[[], None]:
        """Deliver every later change to ``callback``; returns an idempotent unsubscribe function."""
        with self._lock:
            callback_id = next(self._callback_ids)
            self._callbacks[callback_id] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._callbacks.pop(callback_id, None)

        return unsubscribe

    # -- internals ------------------------------------------------------------------------------

    def _refresh(self, key: str, unset_source: Source | None) -> None:
        """Recompute ``key``'s effective setting; queue a change if it differs. Holds the data lock."""
        old = self._effective.get(key)
        new: Setting | None = None
        for source in _HIGHEST_FIRST:
            layer = self._layers[source]
            if key in layer:
                new = Setting(layer[key], source)
                break
        if _same_setting(old, new):
            return
        if new is None:
            del self._effective[key]
        else:
            self._effective[key] = new
        self._sequence_id += 1
        change = ConfigChange(
            key=key,
            old=None if old is None else _copy(old.value),
            new=None if new is None else _copy(new.value),
            source=None if new is None else new.source,
            sequence_id=self._sequence_id,
            unset_source=unset_source,
        )
        self._pending.append((change, tuple(self._callbacks.items())))

    def _deliver(self) -> None:
        if getattr(self._delivering, "active", False):
            return  # a write from inside a callback: the delivery loop below this frame sends it
        with self._notify_lock:
            self._delivering.active = True
            try:
                while True:
                    with self._lock:
                        if not self._pending:
                            return
                        change, callbacks = self._pending.popleft()
                    for callback_id, callback in callbacks:
                        if callback_id not in self._callbacks:
                            continue  # unsubscribed since the change was made
                        try:
                            callback(change)
                        except Exception:
                            _log.exception(
                                "config update callback %r failed for %r (sequence id %d)",
                                callback,
                                change.key,
                                change.sequence_id,
                            )
            finally:
                self._delivering.active = False
