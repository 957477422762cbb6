"""Fleet values to config: the effective value of each changed key, applied at ``remote-config``.

Only keys whose entry changed in some scope are looked at again. A value is parsed with the bounded
YAML reader and set like any other source's; a refusal (not YAML, wrong type, over a limit, an
undeclared key, a key read only at startup) is logged with key, scope and reason, counted, and
leaves what was in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import yaml

from comp.core.config import def_ as config_def
from comp.core.fleet.def_ import AppliedValue
from pkg.config.errors import ConfigError
from pkg.config.safe_yaml import load_value
from pkg.etcd import WatchEvent
from pkg.fleet import Entry, FleetLayers, parse_key

__all__ = ["FleetApplier"]

_log = logging.getLogger(__name__)


class FleetApplier:
    """Holds the fleet values of the configured scopes and keeps the config's ``remote-config`` layer
    equal to their effective values (less the refused ones)."""

    def __init__(
        self,
        config: config_def.Component,
        prefix: str,
        scopes: Iterable[str],
        on_refused: Callable[[], None] = lambda: None,
    ) -> None:
        self._config = config
        self._prefix = prefix
        self.layers = FleetLayers(tuple(scopes))
        self._applied: dict[str, AppliedValue] = {}
        self._on_refused = on_refused
        self.refused = 0

    @property
    def applied(self) -> dict[str, AppliedValue]:
        return dict(self._applied)

    def apply_events(self, events: Iterable[WatchEvent]) -> int:
        """Apply watch events one by one, in order (a batch of several revisions of one key is each of
        its values in turn, as the stream's subscribers would have seen them); returns how many
        effective fleet values changed."""
        changed = 0
        for event in events:
            parsed = parse_key(self._prefix, event.key)
            if parsed is None or not self.layers.watches(parsed[0]):
                continue
            scope, key = parsed
            if event.kind == "delete":
                if self.layers.delete(scope, key):
                    changed += self._settle(key)
                continue
            text = self._decode(scope, key, event.value, event.revision)
            if text is not None:
                self.layers.put(scope, key, Entry(text, event.revision))
                changed += self._settle(key)
        return changed

    def replace(self, values: Mapping[str, Mapping[str, Entry]]) -> int:
        """Make the layers equal to ``values`` (a full read or the cache) and apply the differences."""
        return self._settle_all(self.layers.replace(values))

    def entries_from(self, kvs: Iterable[tuple[str, bytes, int]]) -> dict[str, dict[str, Entry]]:
        """``(etcd key, value, revision)`` of a range read as scope → key → entry (refusing bytes that
        are not UTF-8, and skipping other scopes)."""
        triples = []
        for raw_key, value, revision in kvs:
            parsed = parse_key(self._prefix, raw_key)
            if parsed is None or not self.layers.watches(parsed[0]):
                continue
            text = self._decode(parsed[0], parsed[1], value, revision)
            if text is not None:
                triples.append((parsed[0], parsed[1], Entry(text, revision)))
        return FleetLayers.group(triples)

    def _decode(self, scope: str, key: str, value: bytes, revision: int) -> str | None:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._refuse(key, scope, revision, f"value is not UTF-8 text ({exc.reason} at byte {exc.start})")
            return None

    def _settle_all(self, keys: Iterable[str]) -> int:
        return sum(self._settle(key) for key in sorted(keys))

    def _settle(self, key: str) -> bool:
        effective = self.layers.effective(key)
        current = self._applied.get(key)
        if effective is None:
            if current is None:
                return False
            try:
                self._config.unset_for_source(key, config_def.Source.REMOTE_CONFIG)
            except ConfigError as exc:
                self._refuse(key, current.scope, current.revision, f"cannot unset: {exc}")
                return False
            del self._applied[key]
            _log.info("fleet: %s unset (was from scope %s)", key, current.scope)
            return True
        scope, entry = effective
        if current is not None and (current.scope, current.text) == (scope, entry.text):
            self._applied[key] = AppliedValue(scope, entry.text, entry.revision)
            return False
        try:
            refusal = self._config.schema.runtime_refusal(key)
        except ConfigError as exc:  # a malformed key
            self._refuse(key, scope, entry.revision, str(exc))
            return False
        if refusal is not None:
            why = f"{refusal.message}: read only at startup" if refusal.restart else refusal.message
            self._refuse(key, scope, entry.revision, why)
            return False
        limit = self._config.limits.value_max_bytes
        if len(entry.text.encode()) > limit:
            self._refuse(
                key, scope, entry.revision, f"text of {len(entry.text.encode())} bytes is over {limit}"
            )
            return False
        try:
            value = load_value(entry.text)
            self._config.set(key, value, config_def.Source.REMOTE_CONFIG)
        except (ConfigError, yaml.YAMLError, ValueError) as exc:
            self._refuse(key, scope, entry.revision, str(exc).splitlines()[0] if str(exc) else repr(exc))
            return False
        self._applied[key] = AppliedValue(scope, entry.text, entry.revision)
        return True

    def _refuse(self, key: str, scope: str, revision: int, reason: str) -> None:
        self.refused += 1
        self._on_refused()
        _log.warning("fleet: value refused: key %s, scope %s, revision %d: %s", key, scope, revision, reason)
