"""Errors of the etcd client; messages name the endpoint and the cause."""

from __future__ import annotations

__all__ = ["EtcdCompactedError", "EtcdError", "EtcdUnavailableError"]


class EtcdError(Exception):
    """etcd refused a request (the message names the endpoint and etcd's reason)."""


class EtcdUnavailableError(EtcdError):
    """No endpoint answered (down, unreachable, no leader, TLS or auth failure): retry later."""


class EtcdCompactedError(EtcdError):
    """A watch asked for a revision that etcd has compacted away; re-read the range instead."""

    def __init__(self, requested: int, compact_revision: int) -> None:
        super().__init__(
            f"revision {requested} was compacted (etcd keeps revisions from {compact_revision} on)"
        )
        self.requested = requested
        self.compact_revision = compact_revision
