"""Where a fleet value lives in etcd: ``<prefix><scope>/<dotted.key>``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["FleetKeyError", "default_scopes", "parse_key", "scope_prefix", "storage_key"]


class FleetKeyError(ValueError):
    """A scope or key that cannot be stored (the message names it and why)."""


def default_scopes(hostname: str, tags: Sequence[str]) -> tuple[str, ...]:
    """``global``, then ``env:<env>`` from the host's first ``env:`` tag, then ``host:<hostname>``."""
    scopes = ["global"]
    env = next((t[len("env:") :] for t in tags if t.startswith("env:") and len(t) > len("env:")), None)
    if env:
        scopes.append(f"env:{env}")
    if hostname:
        scopes.append(f"host:{hostname}")
    return tuple(scopes)


def check_scope(scope: str) -> str:
    """``scope`` if it can name a directory of keys, else FleetKeyError."""
    if not scope or "/" in scope or scope != scope.strip():
        raise FleetKeyError(f"invalid fleet scope {scope!r}: expected a non-empty name without '/' or spaces")
    return scope


def scope_prefix(prefix: str, scope: str) -> str:
    """The etcd prefix of every key of ``scope``."""
    return f"{prefix}{check_scope(scope)}/"


def storage_key(prefix: str, scope: str, key: str) -> str:
    """The etcd key holding ``key`` at ``scope``."""
    if not key or "/" in key:
        raise FleetKeyError(f"invalid fleet key {key!r}: expected a dotted config key")
    return scope_prefix(prefix, scope) + key


def parse_key(prefix: str, raw: str) -> tuple[str, str] | None:
    """``(scope, key)`` of an etcd key under ``prefix``; None for anything else under it."""
    if not raw.startswith(prefix):
        return None
    scope, sep, key = raw[len(prefix) :].partition("/")
    if not sep or not scope or not key or "/" in key:
        return None
    return scope, key
