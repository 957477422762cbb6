"""The reads both consumer facades offer, written once over the component's current view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from comp.core.configstreamconsumer import def_ as consumer_def
from pkg.config.getters import TypedGetters
from pkg.config.sources import Source

__all__ = ["ConsumerReads", "optional_path"]


class ConsumerReads(TypedGetters):
    """``get``, the typed getters, ``get_source``, ``is_set``, ``all_settings``, ``sequence_id``,
    ``state``, ``stats`` and ``liveness`` of the consumer in ``self._consumer`` (set by the
    subclass). Each read takes the view once, so it is consistent and safe from any thread."""

    _consumer: consumer_def.Component

    def get(self, key: str) -> Any:
        """The effective value (a nested dict for a prefix of leaf keys), or None."""
        return self._consumer.reader().get(key)

    def get_source(self, key: str) -> Source | None:
        return self._consumer.reader().get_source(key)

    def is_set(self, key: str) -> bool:
        """True when a source other than ``default`` holds the key."""
        return self._consumer.reader().is_set(key)

    def all_settings(self) -> dict[str, Any]:
        """Every effective leaf setting of one view, flattened."""
        return self._consumer.reader().all_settings()

    @property
    def sequence_id(self) -> int:
        """The core's sequence id of the last event applied (-1 before the first snapshot)."""
        return self._consumer.sequence_id

    @property
    def state(self) -> consumer_def.ConsumerState:
        """``ready`` while a live stream feeds the view; ``connecting``/``disconnected`` otherwise."""
        return self._consumer.state

    @property
    def stats(self) -> consumer_def.ConsumerStats:
        return self._consumer.stats

    @property
    def liveness(self) -> consumer_def.Liveness:
        """When the core was last heard from (events or progress) and when silence counts as a stall."""
        return self._consumer.liveness


def optional_path(value: Path | str | None) -> Path | None:
    return None if value is None else Path(value)
