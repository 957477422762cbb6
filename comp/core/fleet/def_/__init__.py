"""Definition of the fleet source: the core agent as an etcd watcher feeding ``remote-config``.

Contract: with ``remote_config.etcd.endpoints`` set, the component loads every key under
``remote_config.etcd.prefix`` with one range read at revision R, then watches from R+1. The value of
a key is the one of the highest-priority scope holding it, applied at source ``remote-config`` and
validated like any other source: a refused value is logged (key, scope, reason), counted, and changes
nothing. A deleted key (or scope) unsets the layer. After a disconnect the watch resumes from the
last revision applied; when that revision was compacted, the range is read again and only the
differences are applied. While etcd is unreachable the last values stay in force, persisted in the
cache file, and :meth:`Component.status` says since when and why the source is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["AppliedValue", "Component", "FleetStatus"]


@dataclass(frozen=True)
class AppliedValue:
    """A fleet value in force: the scope it came from, its YAML text and the etcd revision of it."""

    scope: str
    text: str
    revision: int


@dataclass(frozen=True)
class FleetStatus:
    """What ``core-agent status`` shows of the fleet source.

    ``state``: ``off`` (no endpoints), ``connecting`` (no answer from etcd yet), ``watching``
    (in sync and watching) or ``stale`` (etcd unreachable since ``stale_since_unix``, for
    ``stale_reason``; the last values stay in force). ``values_from``: ``etcd``, ``cache`` (the
    cache file, etcd not read yet) or ``none``. ``revision``: the etcd revision applied;
    ``store_revision``: the latest revision etcd reported (the difference is the lag, in revisions).
    """

    enabled: bool
    endpoints: tuple[str, ...] = ()
    endpoint: str = ""
    prefix: str = ""
    scopes: tuple[str, ...] = ()
    state: str = "off"
    values_from: str = "none"
    revision: int = 0
    store_revision: int = 0
    last_change_unix: float | None = None
    stale_since_unix: float | None = None
    stale_reason: str = ""
    applied_keys: int = 0
    refused: int = 0
    resyncs: int = 0
    reconnects: int = 0
    cache_file: str = ""

    @property
    def lag(self) -> int:
        """Revisions etcd has that are not applied yet (0 when in sync)."""
        return max(0, self.store_revision - self.revision)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields, ``lag`` included."""
        return {
            "enabled": self.enabled,
            "endpoints": list(self.endpoints),
            "endpoint": self.endpoint,
            "prefix": self.prefix,
            "scopes": list(self.scopes),
            "state": self.state,
            "values_from": self.values_from,
            "revision": self.revision,
            "store_revision": self.store_revision,
            "lag": self.lag,
            "last_change_unix": self.last_change_unix,
            "stale_since_unix": self.stale_since_unix,
            "stale_reason": self.stale_reason,
            "applied_keys": self.applied_keys,
            "refused": self.refused,
            "resyncs": self.resyncs,
            "reconnects": self.reconnects,
            "cache_file": self.cache_file,
        }


@runtime_checkable
class Component(Protocol):
    """The fleet source of the core agent."""

    def status(self) -> FleetStatus:
        """Endpoints, scopes, revision, last change, staleness and counters."""
        ...

    def applied(self) -> dict[str, AppliedValue]:
        """The fleet values in force at source ``remote-config``, by key."""
        ...

    async def wait_revision(self, revision: int, within: float) -> bool:
        """Until the etcd revision ``revision`` is applied (True) or ``within`` seconds pass (False)."""
        ...
