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

Every write is checked before anything changes, and refused whole:

- the key space is a tree: a key held by any source cannot also be a group of keys held by any
  source (``x`` and ``x.y``), :class:`ConfigKeyConflictError`; unsetting ``x`` frees ``x.y``;
- one setting serialized as the stream sends it may not exceed ``value_max_bytes``, and the settings
  of a snapshot together not ``total_max_bytes`` (:mod:`pkg.config.limits`), :class:`ConfigLimitError`.
  The total is kept up to date on every change (O(1) per changed key), never re-scanned;
- after :meth:`LayeredConfig.seal_startup_settings`, a change of a setting read only at startup is
  refused, :class:`ConfigRestartRequiredError`.
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
from pkg.config.errors import ConfigKeyConflictError, ConfigLimitError, ConfigRestartRequiredError
from pkg.config.getters import TypedGetters
from pkg.config.limits import (
    GRPC_MAX_MESSAGE_SIZE_KEY,
    RESTART_KEYS,
    TOTAL_MAX_BYTES_KEY,
    VALUE_MAX_BYTES_KEY,
    ConfigLimits,
)
from pkg.config.schema import Schema, declared_default, default_schema
from pkg.config.sources import SOURCES_BY_PRIORITY, Source
from pkg.config.tree import find_nesting, parent_keys, subtree
from pkg.config.wire_size import setting_size, value_size

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


def _decrement(counts: dict[str, int], key: str) -> None:
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]


def _keys(leaves: Mapping[str, Any]) -> str:
    names = sorted(leaves)
    shown = ", ".join(repr(k) for k in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


_Delivery = tuple[ConfigChange, tuple[tuple[int, UpdateCallback], ...]]


_FALLBACK_LIMITS = {
    key: declared_default(key)
    for key in (VALUE_MAX_BYTES_KEY, TOTAL_MAX_BYTES_KEY, GRPC_MAX_MESSAGE_SIZE_KEY)
}


class LayeredConfig(TypedGetters):
    """The core agent's configuration (implements ``comp.core.config.def_.Component``). Thread-safe.

    ``schema`` (default: :func:`pkg.config.schema.default_schema`) is frozen by the config; its
    defaults are held at source ``default`` from the start (sequence id 0). ``limits``: the size
    limits in force (default: those of the schema's defaults); they never change afterwards.
    """

    def __init__(
        self,
        schema: Schema | None = None,
        *,
        config_file: Path | None = None,
        limits: ConfigLimits | None = None,
    ) -> None:
        self._schema = schema if schema is not None else default_schema()
        self._schema.freeze()
        self._config_file = config_file
        self._limits = limits if limits is not None else self.default_limits(self._schema)
        self._sealed = False
        self._layers: dict[Source, dict[str, Any]] = {source: {} for source in SOURCES_BY_PRIORITY}
        self._layers[Source.DEFAULT] = self._schema.defaults()
        # Bytes of each held value as a google.protobuf.Value, per source; and of each effective
        # setting as a snapshot entry, with their running total.
        self._value_sizes: dict[Source, dict[str, int]] = {source: {} for source in SOURCES_BY_PRIORITY}
        self._sizes: dict[str, int] = {}
        self._total = 0
        # The key tree over every source: how many sources hold each leaf, and how many held leaves
        # lie under each group ("a" and "a.b" for a held "a.b.c").
        self._holders: dict[str, int] = {}
        self._group_leaves: dict[str, int] = {}
        self._effective: dict[str, Setting] = {}
        # Keys whose effective value is a list or dict: the only ones a reader gets a copy of.
        self._mutable: set[str] = set()
        for key, value in self._layers[Source.DEFAULT].items():
            self._value_sizes[Source.DEFAULT][key] = value_size(value)
            self._hold(key)
            self._effective[key] = Setting(value, Source.DEFAULT)
            if isinstance(value, list | dict):
                self._mutable.add(key)
            self._sizes[key] = self._setting_size(key, Source.DEFAULT)
            self._total += self._sizes[key]
        self._check_total(self._total, "the declared defaults", 0)
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

    @staticmethod
    def default_limits(schema: Schema) -> ConfigLimits:
        """The limits of a config that holds only the schema's defaults (declared or not)."""
        defaults = schema.defaults()
        return ConfigLimits.from_settings({key: defaults.get(key, v) for key, v in _FALLBACK_LIMITS.items()})

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
            # Settings are frozen: one whose value is immutable is shared, not copied.
            settings = dict(self._effective)
            for key in self._mutable:
                setting = settings[key]
                settings[key] = Setting(copy.deepcopy(setting.value), setting.source)
            return settings, self._sequence_id

    @property
    def sequence_id(self) -> int:
        with self._lock:
            return self._sequence_id

    def config_file_used(self) -> Path | None:
        return self._config_file

    @property
    def limits(self) -> ConfigLimits:
        """The size limits in force."""
        return self._limits

    @property
    def total_bytes(self) -> int:
        """Bytes of every effective setting serialized as the entries of a snapshot."""
        with self._lock:
            return self._total

    def is_secret(self, key: str) -> bool:
        return self._schema.is_secret(key)

    # -- writing --------------------------------------------------------------------------------

    def set(self, key: str, value: Any, source: Source) -> None:
        """Set ``key`` at ``source`` (a mapping on an undeclared key sets its leaves).

        Raises ConfigValueError, changing nothing, when the key or value is invalid.
        """
        self.set_many({key: value}, source)

    def set_many(self, values: Mapping[str, Any], source: Source) -> None:
        """Validate every value, then apply them all under one lock; all or nothing on a bad value.

        Raises ConfigValueError, ConfigKeyConflictError, ConfigLimitError or
        ConfigRestartRequiredError, changing nothing.
        """
        source = Source(source)
        leaves: dict[str, Any] = {}
        for key, value in values.items():
            leaves.update(self._schema.prepare(key, value, origin=str(source)))
        nested = find_nesting(leaves)
        if nested is not None:
            leaf, group = nested
            raise ConfigKeyConflictError(
                group, leaf, source=str(source), other_source=f"{source} in the same change"
            )
        value_sizes = {key: value_size(value) for key, value in leaves.items()}
        name = source.value
        # Each entry's snapshot size, computed once: checked here, counted in the total below.
        entry_sizes = {key: setting_size(key, name, size) for key, size in value_sizes.items()}
        for key, size in entry_sizes.items():
            self._check_entry_size(key, source, size)
        priority = source.priority
        with self._lock:
            layer = self._layers[source]
            delta = 0
            for key, value in leaves.items():
                if key not in layer:
                    self._check_tree(key, source)
                effective = self._effective.get(key)
                if effective is None or priority >= effective.source.priority:
                    self._check_restart(key, value)
                    delta += entry_sizes[key] - self._sizes.get(key, 0)
            if delta >= 0 and self._total + delta > self._limits.total_max_bytes:
                self._check_total(self._total + delta, f"setting {_keys(leaves)} at {source}", delta)
            sizes = self._value_sizes[source]
            for key, value in leaves.items():
                if key not in layer:
                    self._hold(key)
                layer[key] = value
                sizes[key] = value_sizes[key]
                self._refresh(key, None, (source, entry_sizes[key]))
        self._deliver()

    def unset_for_source(self, key: str, source: Source) -> None:
        """Remove ``key`` (or every leaf under this prefix) from ``source``; lower sources show through.

        Raises ConfigLimitError or ConfigRestartRequiredError, changing nothing, when what shows
        through would be over the total or change a setting read at startup.
        """
        source = Source(source)
        name = self._schema.canonical(key)
        start = name + "."
        with self._lock:
            layer = self._layers[source]
            removed = sorted(k for k in layer if k == name or k.startswith(start))
            delta = 0
            for leaf in removed:
                effective = self._effective[leaf]
                if effective.source is not source:
                    continue
                below = self._held_below(leaf, source)
                if below is None:
                    delta -= self._sizes[leaf]
                else:
                    self._check_restart(leaf, self._layers[below][leaf])
                    delta += self._setting_size(leaf, below) - self._sizes[leaf]
            self._check_total(self._total + delta, f"unsetting {name!r} at {source}", delta)
            sizes = self._value_sizes[source]
            for leaf in removed:
                del layer[leaf]
                del sizes[leaf]
                self._release(leaf)
                self._refresh(leaf, source)
        self._deliver()

    def seal_startup_settings(self) -> None:
        """From now on, refuse a change of a setting read only at startup (the size limits).

        Raises RuntimeError if the effective value of one of them is not the one in force.
        """
        with self._lock:
            for key in RESTART_KEYS:
                setting = self._effective.get(key)
                if setting is not None and setting.value != self._limits.in_force(key):
                    raise RuntimeError(
                        f"{key!r} is {setting.value!r} but {self._limits.in_force(key)} is in force"
                    )
            self._sealed = True

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

    def _setting_size(self, key: str, source: Source, value_bytes: int | None = None) -> int:
        if value_bytes is None:
            value_bytes = self._value_sizes[source][key]
        return setting_size(key, source.value, value_bytes)

    def _check_entry_size(self, key: str, source: Source, size: int) -> None:
        maximum = self._limits.value_max_bytes
        if size > maximum:
            raise ConfigLimitError(
                key,
                f"value of {key!r} at {source} is {size} bytes serialized (key, source and value), "
                f"over {VALUE_MAX_BYTES_KEY} ({maximum})",
                limit=VALUE_MAX_BYTES_KEY,
                maximum=maximum,
            )

    def _check_total(self, total: int, what: str, delta: int) -> None:
        maximum = self._limits.total_max_bytes
        if delta >= 0 and total > maximum:
            raise ConfigLimitError(
                "",
                f"{what} would make the settings {total} bytes serialized, over {TOTAL_MAX_BYTES_KEY} "
                f"({maximum})",
                limit=TOTAL_MAX_BYTES_KEY,
                maximum=maximum,
            )

    def _check_restart(self, key: str, value: Any) -> None:
        """Refuse a new effective value of a setting read at startup, once sealed."""
        if self._sealed and key in RESTART_KEYS and not _same(value, self._limits.in_force(key)):
            raise ConfigRestartRequiredError(key, self._limits.in_force(key))

    def _check_tree(self, key: str, source: Source) -> None:
        """Refuse a new leaf ``key`` that is a group of held keys, or lies under a held key."""
        for parent in parent_keys(key):
            if parent in self._holders:
                raise ConfigKeyConflictError(
                    key, parent, source=str(source), other_source=str(self._holder(parent))
                )
        if key in self._group_leaves:
            start = key + "."
            for held_by in reversed(SOURCES_BY_PRIORITY):
                other = next((k for k in self._layers[held_by] if k.startswith(start)), None)
                if other is not None:
                    raise ConfigKeyConflictError(key, other, source=str(source), other_source=str(held_by))

    def _holder(self, key: str) -> Source:
        return next(s for s in _HIGHEST_FIRST if key in self._layers[s])

    def _held_below(self, key: str, source: Source) -> Source | None:
        for lower in _HIGHEST_FIRST[len(SOURCES_BY_PRIORITY) - source.priority :]:
            if key in self._layers[lower]:
                return lower
        return None

    def _hold(self, key: str) -> None:
        self._holders[key] = self._holders.get(key, 0) + 1
        for parent in parent_keys(key):
            self._group_leaves[parent] = self._group_leaves.get(parent, 0) + 1

    def _release(self, key: str) -> None:
        _decrement(self._holders, key)
        for parent in parent_keys(key):
            _decrement(self._group_leaves, parent)

    def _refresh(
        self, key: str, unset_source: Source | None, known: tuple[Source, int] | None = None
    ) -> None:
        """Recompute ``key``'s effective setting; queue a change if it differs. Holds the data lock.

        ``known``: a source and the entry size of ``key`` at that source, already computed."""
        old = self._effective.get(key)
        new: Setting | None = None
        for source in _HIGHEST_FIRST:
            layer = self._layers[source]
            if key in layer:
                new = Setting(layer[key], source)
                break
        if new is None:
            self._total -= self._sizes.pop(key, 0)
        else:
            if known is not None and known[0] is new.source:
                size = known[1]
            else:
                size = self._setting_size(key, new.source)
            self._total += size - self._sizes.get(key, 0)
            self._sizes[key] = size
        if _same_setting(old, new):
            return
        if new is None:
            del self._effective[key]
        else:
            self._effective[key] = new
        if new is not None and isinstance(new.value, list | dict):
            self._mutable.add(key)
        else:
            self._mutable.discard(key)
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
